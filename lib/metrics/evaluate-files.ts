/**
 * Evaluate prediction files against reference files (the work behind `raunet evaluate`): pair them by
 * name, read each pair, check both are label maps on one grid, compute the LiTS metrics, aggregate.
 * Pairs are read one at a time.
 */

import { referenceDataset } from '../datasets/index.ts';
import { InputError } from '../errors.ts';
import { readVolume } from '../volume/read.ts';
import type { Volume } from '../volume/volume.ts';
import { checkLabelMap, type LabelMapping, mapLabels } from './labels.ts';
import { aggregateCases, type CaseResult, type Evaluation, evaluateCase } from './lits.ts';
import { caseKey, listNiftiFiles, type Pairing, pairPaths } from './pairing.ts';

export interface FileEvaluation {
  evaluation: Evaluation;
  pairing: Pairing;
}

export interface EvaluateFilesOptions {
  onCase?: (c: CaseResult, index: number, total: number) => void;
  /** The pairing of `pairPaths(pred, ref)` when the caller already made it. */
  pairing?: Pairing;
  /** Map the reference's labels (for example a multi-organ map with liver = 5) before comparing. */
  refLabels?: LabelMapping;
  /** Doubts that do not stop the evaluation (one line each). */
  onWarning?: (line: string) => void;
}

const HINT = '; map other conventions with --ref-label liver=<labels>[,tumor=<labels>] (see docs/metrics.md)';

function asReference(
  vol: Volume,
  file: string,
  mapping: LabelMapping | undefined,
  warn: (line: string) => void,
): Volume {
  if (!mapping) {
    checkLabelMap(vol, file, 'reference', HINT);
    return vol;
  }
  const values = checkLabelMap(vol, file, 'reference', '', { anyLabels: true });
  if (!mapping.liver.some((v) => values.includes(v))) {
    warn(`${file}: warning: no voxel has the liver label(s) ${mapping.liver.join('+')} given by --ref-label`);
  }
  return mapLabels(vol, mapping);
}

export async function evaluateFiles(
  predPath: string,
  refPath: string,
  opts: EvaluateFilesOptions = {},
): Promise<FileEvaluation> {
  // a reference folder in a dataset layout (MSD, nnU-Net raw, 3D-IRCADb): its cases by id
  const dataset = opts.pairing ? undefined : await referenceDataset(refPath);
  let readRef: (path: string) => Promise<Volume> = (path) => readVolume(path);
  let pairing: Pairing;
  if (dataset) {
    const preds = new Map((await listNiftiFiles(predPath, 'prediction')).files.map((f) => [caseKey(f), f]));
    const byRef = new Map(dataset.cases.map((c) => [c.segmentation, c]));
    pairing = {
      pairs: dataset.cases
        .filter((c) => preds.has(c.id))
        .map((c) => ({ id: c.id, pred: preds.get(c.id) as string, ref: c.segmentation })),
      unpairedPred: [...preds].filter(([k]) => !dataset.cases.some((c) => c.id === k)).map(([, f]) => f),
      unpairedRef: dataset.cases.filter((c) => !preds.has(c.id)).map((c) => c.segmentation),
    };
    readRef = (path) => dataset.readLabels(byRef.get(path) as (typeof dataset.cases)[number]);
  } else {
    pairing = opts.pairing ?? (await pairPaths(predPath, refPath));
  }
  if (pairing.pairs.length === 0) {
    throw new InputError(
      `no prediction file pairs with a reference file by name (${pairing.unpairedPred.length} predictions, ${pairing.unpairedRef.length} references; see docs/metrics.md for the naming rules)`,
      'NOT_FOUND',
      predPath,
    );
  }
  const cases: CaseResult[] = [];
  for (const [i, p] of pairing.pairs.entries()) {
    const [pred, ref] = await Promise.all([readVolume(p.pred), readRef(p.ref)]);
    checkLabelMap(pred, p.pred, 'prediction');
    const c = evaluateCase(
      pred,
      asReference(ref, p.ref, opts.refLabels, opts.onWarning ?? (() => {})),
      `${p.id} (${p.pred} vs ${p.ref})`,
    );
    c.id = p.id;
    cases.push(c);
    opts.onCase?.(c, i, pairing.pairs.length);
  }
  return { evaluation: aggregateCases(cases), pairing };
}
