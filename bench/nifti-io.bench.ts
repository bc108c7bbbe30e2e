/**
 * NIfTI read/write throughput on a CT-sized volume (512x512x200 int16, ~100 MB of voxels), plain and
 * gzip, through the files API (temp folder). MB/s counts uncompressed voxel bytes.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readNifti, writeNifti } from '../lib/volume/nifti.ts';
import { createVolume } from '../lib/volume/volume.ts';
import type { BenchRow } from './index.ts';

export const name = 'NIfTI I/O (512x512x200 int16)';

/** A CT-like body: air outside an elliptic cylinder of soft tissue with noise, so gzip sees real entropy. */
function ctLike(nx: number, ny: number, nz: number): Int16Array {
  const data = new Int16Array(nx * ny * nz);
  let seed = 12345;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        seed = (seed * 1103515245 + 12345) >>> 0;
        const noise = ((seed >>> 16) % 41) - 20;
        const x = (i - nx / 2) / (nx * 0.42);
        const y = (j - ny / 2) / (ny * 0.3);
        const inside = x * x + y * y < 1;
        data[i + nx * (j + ny * k)] = inside ? 40 + noise : -1000 + (noise >> 2);
      }
    }
  }
  return data;
}

async function timed<T>(fn: () => Promise<T>, reps: number): Promise<number> {
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    await fn();
    best = Math.min(best, performance.now() - t);
  }
  return best / 1000;
}

export async function run(): Promise<BenchRow[]> {
  const dims: [number, number, number] = [512, 512, 200];
  const vol = createVolume(ctLike(...dims), dims, [0.8, 0.8, 1.5]);
  const mb = vol.data.byteLength / 1e6;
  const dir = await mkdtemp(join(tmpdir(), 'raunet-bench-'));
  const rows: BenchRow[] = [];
  try {
    for (const ext of ['nii', 'nii.gz']) {
      const path = join(dir, `v.${ext}`);
      const w = await timed(() => writeNifti(path, vol), 2);
      const size = (await stat(path)).size / 1e6;
      const r = await timed(() => readNifti(path), 2);
      rows.push({
        what: `write .${ext}`,
        value: mb / w,
        unit: 'MB/s',
        note: `${w.toFixed(2)} s, file ${size.toFixed(1)} MB`,
      });
      rows.push({ what: `read .${ext}`, value: mb / r, unit: 'MB/s', note: `${r.toFixed(2)} s` });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return rows;
}
