/**
 * DICOM series reading speed on the shared real series (uncompressed GE, JPEG 2000 Siemens), and the
 * encoding of a DICOM SEG for the JPEG 2000 series (its shared liver label map).
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readDicomSeries, readDicomSeriesWithInfo } from '../lib/volume/dicom.ts';
import { encodeDicomSeg } from '../lib/volume/dicom-seg.ts';
import { readNifti } from '../lib/volume/nifti.ts';
import { withData } from '../lib/volume/volume.ts';
import type { BenchRow } from './index.ts';

export const name = 'DICOM series read';

const rel = resolve(dirname(fileURLToPath(import.meta.url)), '../../shared/data');
const data = existsSync(rel) ? rel : '/work/shared/data';

export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const [series, what] of [
    ['dicom/ct-3slice', 'uncompressed (3 x 512x512)'],
    ['dicom/ct-jpeg2000', 'JPEG 2000 (20 x 512x512)'],
  ]) {
    const dir = join(data, series);
    await readDicomSeries(dir); // warm-up (wasm start-up, JIT)
    const t = performance.now();
    const vol = await readDicomSeries(dir);
    const s = (performance.now() - t) / 1000;
    rows.push({ what: `read ${what}`, value: vol.dims[2] / s, unit: 'slices/s', note: `${s.toFixed(2)} s` });
  }
  // the SEG the CLI (--format both) and the AWS finalize step write: liver = label 5 of the shared map
  const { volume, info } = await readDicomSeriesWithInfo(join(data, 'dicom/ct-jpeg2000'));
  const multi = await readNifti(join(data, 'dicom/example_seg_dicom.nii.gz'));
  const labels = withData(
    volume,
    Uint8Array.from(multi.data, (v) => (v === 5 ? 1 : 0)),
    'uint8',
  );
  encodeDicomSeg(labels, info); // warm-up
  const t = performance.now();
  const seg = encodeDicomSeg(labels, info);
  const s = (performance.now() - t) / 1000;
  rows.push({
    what: 'encode DICOM SEG (20 x 512x512, liver)',
    value: volume.dims[2] / s,
    unit: 'slices/s',
    note: `${s.toFixed(2)} s, ${(seg.length / 1e6).toFixed(1)} MB`,
  });
  return rows;
}
