/**
 * The training run's `curves.png` in S3: the fold jobs each upload their `fold-<k>/metrics.jsonl` and
 * `curves.png` with their model, but run in parallel, so the run's picture (every fold side by side,
 * lib/training/curves.ts) is drawn once they are done, beside them under `<variant>/<stage>/`.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { type FoldCurves, parseCurvePoints, renderRunCurvesPng } from '../training/curves.ts';
import { parseS3Uri } from './layout.ts';
import { getUriBytes, listKeys, putObjectBytes } from './object-store.ts';

export const RUN_CURVES = 'curves.png';

/**
 * Draw the run's curves from the `fold-<k>/metrics.jsonl` under `stageUri` (`s3://…/<variant>/<stage>/`),
 * only of `folds` when given (the folds that succeeded), and store them as `<stageUri>curves.png`.
 * Returns its URI, or null (nothing written) when no fold has metrics.
 */
export async function storeRunCurves(
  s3: S3Client,
  stageUri: string,
  title: string,
  folds?: readonly number[],
): Promise<string | null> {
  const { bucket, key } = parseS3Uri(stageUri);
  const found: FoldCurves[] = [];
  for (const k of await listKeys(s3, bucket, key)) {
    const m = /^fold-(\d+)\/metrics\.jsonl$/.exec(k.slice(key.length));
    if (!m || (folds && !folds.includes(Number(m[1])))) continue;
    const points = parseCurvePoints(new TextDecoder().decode(await getUriBytes(s3, `s3://${bucket}/${k}`)));
    if (points.length) found.push({ fold: Number(m[1]), points });
  }
  if (!found.length) return null;
  found.sort((a, b) => a.fold - b.fold);
  const uri = `${stageUri}${RUN_CURVES}`;
  await putObjectBytes(s3, uri, renderRunCurvesPng(found, title), 'image/png');
  return uri;
}
