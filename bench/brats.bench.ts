/**
 * The BraTS data side on the BraTS grid (240 x 240 x 155 at 1 mm) and the demo's small grid: brain
 * phantom generation, normalisation (min-max with percentile clipping, z-score), preparing a subject
 * for sampling, drawing and cutting the paper's 400 patches of 64^3, and the whole-tumour metrics.
 * Targets: a BraTS-grid phantom in a few seconds of CPU, normalisation and preparation about a second,
 * the metrics of a subject under a second. Wall and CPU time (the machine may be shared).
 */
import { normaliseBratsSubject } from '../lib/brats/normalise.ts';
import { prepareBratsSubject, sampleBratsPatches } from '../lib/brats/sampling.ts';
import { subjectTarget } from '../lib/brats/targets.ts';
import type { BratsSubject } from '../lib/brats/types.ts';
import { bratsRegionMetrics } from '../lib/metrics/brats.ts';
import { BRAIN_SIZES, generateBrainPhantom } from '../lib/phantom/brain.ts';
import { createRng } from '../lib/training/random.ts';
import type { BenchRow } from './index.ts';

export const name = 'brats data';

function timed<T>(rows: BenchRow[], what: string, f: () => T): T {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const out = f();
  const c = process.cpuUsage(c0);
  rows.push({ what: `${what} wall`, value: (performance.now() - t0) / 1000, unit: 's' });
  rows.push({ what: `${what} cpu`, value: (c.user + c.system) / 1e6, unit: 's' });
  return out;
}

export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  generateBrainPhantom({ seed: 0, dims: [32, 32, 32], spacing: [6, 6, 5] }); // warm-up (JIT)
  timed(rows, 'brain phantom small 96x96x64', () => generateBrainPhantom({ seed: 1, ...BRAIN_SIZES.small }));
  const p = timed(rows, 'brain phantom 240x240x155', () => generateBrainPhantom({ seed: 2 }));
  const subject: BratsSubject = {
    id: 'bench',
    dir: 'bench',
    grid: p.grid,
    channels: p.channels,
    labels: p.labels,
    labelConvention: 'brats-4',
  };
  timed(rows, 'normalise minmax (0.5 % clipping) 240x240x155', () => normaliseBratsSubject(subject));
  timed(rows, 'normalise zscore 240x240x155', () => normaliseBratsSubject(subject, { mode: 'zscore' }));
  const prepared = timed(rows, 'prepareBratsSubject 240x240x155', () => prepareBratsSubject(subject));
  const draws = timed(rows, 'draw 400 patches', () => sampleBratsPatches(prepared, 400, createRng(1)));
  timed(rows, 'cut 400 patches of 64^3 x 4', () => {
    for (const d of draws) d.cut();
  });
  const ref = subjectTarget(subject);
  const pred = new Uint8Array(ref.length);
  pred.set(ref.subarray(0, ref.length - 2), 2); // the tumour moved by 2 voxels along x
  timed(rows, 'whole-tumour metrics 240x240x155', () =>
    bratsRegionMetrics(pred, ref, subject.grid.dims, subject.grid.spacing),
  );
  return rows;
}
