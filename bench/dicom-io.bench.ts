/** DICOM series reading speed on the shared real series (uncompressed GE, JPEG 2000 Siemens). */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readDicomSeries } from '../lib/volume/dicom.ts';
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
  return rows;
}
