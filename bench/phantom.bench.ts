/**
 * Phantom generation: a 512x512x100 case (the pipeline benchmark's input) and a 128x128x64 case (the
 * size used for fast training). Targets: a few seconds for the first, well under a second for the second.
 * Reports wall time and CPU time (the machine may be shared).
 */
import { generatePhantom } from '../lib/phantom/phantom.ts';
import type { Vec3 } from '../lib/volume/volume.ts';
import type { BenchRow } from './index.ts';

export const name = 'phantom generation';

function measure(dims: Vec3, seed: number): { wall: number; cpu: number } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  generatePhantom({ seed, dims });
  const c = process.cpuUsage(c0);
  return { wall: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6 };
}

export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  measure([64, 64, 32], 0); // warm-up (JIT)
  for (const [dims, reps] of [
    [[128, 128, 64], 5],
    [[512, 512, 100], 2],
  ] as Array<[Vec3, number]>) {
    const runs = Array.from({ length: reps }, (_, r) => measure(dims, 100 + r));
    const best = runs.reduce((a, b) => (b.wall < a.wall ? b : a));
    const label = dims.join('x');
    rows.push({ what: `generatePhantom ${label} (best of ${reps}) wall`, value: best.wall, unit: 's' });
    rows.push({ what: `generatePhantom ${label} (best of ${reps}) cpu`, value: best.cpu, unit: 's' });
  }
  return rows;
}
