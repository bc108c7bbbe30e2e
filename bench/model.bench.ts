/**
 * RA-UNet speed and memory on the active tfjs backend (`RAUNET_BACKEND` picks one), per configuration,
 * full width, random weights: one forward pass at its paper input size (raunet1 256x256, raunet2
 * 224x224x32, raunet2-brain 64x64x64 with 4 channels) and one training step (Adam, Dice loss, batch 1),
 * each row with the peak resident memory of its own measurement.
 *
 * Training-step size: a full-width 3D step at the paper size takes many minutes on the wasm or pure-JS
 * backends, so by default the 3D configurations train at 32x32x32 (the smallest input they accept,
 * still full width) and the row says "reduced"; raunet1 trains at its paper size. `RAUNET_BENCH_FULL=1`
 * trains every configuration at its paper size.
 *
 * Timing: 2D passes and steps take one warm-up and the median of 3; 3D ones a single timed run without
 * warm-up. A 3D forward pass above 32^3 (raunet2-brain's 64^3) is timed at 32^3 and scaled by the voxel
 * ratio unless `RAUNET_BENCH_FULL=1`. Forward passes the engines bench already timed (or estimated) in
 * this process on the same backend (raunet1 256x256, raunet2 224x224x32) are reported from there.
 *
 * Other knobs: `BENCH_QUICK=1` uses small sizes for everything (trying the bench), `BENCH_ARCH=raunet1,
 * raunet2` restricts the configurations, `BENCH_OVERFIT=<max steps>` also trains a reduced-width raunet2
 * (width 0.125, 64x64x32) on one sphere-in-noise patch until its inference-mode Dice exceeds 0.9 and reports
 * the steps it took.
 */
import * as tf from '@tensorflow/tfjs';
import { benchForward, median } from '../lib/inference/bench.ts';
import { ARCHS, type ArchName, buildRAUNet } from '../lib/model/archs.ts';
import { initBackend } from '../lib/model/backend.ts';
import { diceLoss } from '../lib/model/loss.ts';
import { spherePatch } from '../lib/model/sphere.ts';
import { trainModel } from '../lib/training/trainer.ts';
import type { BenchRow } from './index.ts';
import { peakRssMiB, resetPeakRss } from './memory.ts';
import { recallTfjsForward } from './tfjs-forward-record.ts';

export const name = 'model (RA-UNet forward / train step on the active tfjs backend)';

/** Tensor input shapes [(z,) y, x, c]. */
const QUICK_SHAPES: Record<ArchName, number[]> = {
  raunet1: [64, 64, 1],
  raunet2: [32, 32, 32, 1],
  'raunet2-brain': [32, 32, 32, 4],
};
const REDUCED_TRAIN_SIDE = 32;

interface Sized {
  shape: number[];
  label: string;
}

/** `[z, y, x, c]` -> "64x64x32x4 (paper)"-style label, spatial sizes x by y (by z). */
function sized(shape: number[], kind: string): Sized {
  const spatial = [...shape.slice(0, -1)].reverse();
  const c = shape[shape.length - 1]!;
  return { shape, label: `${spatial.join('x')}${c > 1 ? `x${c}ch` : ''} ${kind}` };
}

function trainShape(arch: ArchName, quick: boolean, full: boolean): Sized {
  const spec = ARCHS[arch];
  if (quick) return sized(QUICK_SHAPES[arch], 'quick');
  if (full || spec.dims === 2) return sized([...spec.inputShape], 'paper');
  return sized([REDUCED_TRAIN_SIDE, REDUCED_TRAIN_SIDE, REDUCED_TRAIN_SIDE, spec.channels], 'reduced');
}

const log = (msg: string) => process.stderr.write(`  [model bench] ${msg}\n`);

const plan = (dims: 2 | 3) => (dims === 2 ? { runs: 3, warmup: 1 } : { runs: 1, warmup: 0 });
const planNote = (p: { runs: number; warmup: number }) =>
  p.runs === 1 ? '1 timed run, no warm-up' : `median of ${p.runs} after ${p.warmup} warm-up`;

async function forwardRow(arch: ArchName, s: Sized, backend: string): Promise<BenchRow> {
  const spatial = [...s.shape.slice(0, -1)].reverse();
  const what = `${arch} forward, batch 1`;
  const known = recallTfjsForward(arch, spatial, backend);
  if (known) {
    return {
      what,
      value: known.seconds,
      unit: 's',
      peakMiB: known.peakMiB,
      note: `${s.label}, ${backend}; ${known.how} (engines bench above)`,
    };
  }
  const p = plan(ARCHS[arch].dims);
  // a full-width 3D pass above 32^3 takes minutes: time 32^3 and scale by the voxel ratio (as the
  // engines bench does), unless RAUNET_BENCH_FULL=1
  const full = process.env.RAUNET_BENCH_FULL === '1';
  const small =
    ARCHS[arch].dims === 3 && !full && spatial.some((v) => v > REDUCED_TRAIN_SIDE)
      ? spatial.map(() => REDUCED_TRAIN_SIDE)
      : spatial;
  const scale = spatial.reduce((a, b) => a * b, 1) / small.reduce((a, b) => a * b, 1);
  log(`${arch} forward ${small.join('x')}: ${planNote(p)} ...`);
  resetPeakRss();
  const [r] = await benchForward({ arch, size: small, engines: ['tfjs'], ...p });
  log(`  ${r!.forward_s.toFixed(2)} s per pass`);
  const how =
    scale === 1
      ? planNote(p)
      : `estimated: ${r!.forward_s.toFixed(1)} s for ${small.join('x')} x ${scale} voxels, ${planNote(p)}; ` +
        'RAUNET_BENCH_FULL=1 times the paper size';
  return {
    what,
    value: r!.forward_s * scale,
    unit: 's',
    peakMiB: peakRssMiB(),
    note: `${s.label}, ${r!.backend}; ${how}`,
  };
}

async function trainStepRow(arch: ArchName, s: Sized, backend: string): Promise<BenchRow> {
  const p = plan(ARCHS[arch].dims);
  log(`${arch} training step ${s.label}: ${planNote(p)} ...`);
  resetPeakRss();
  const model = buildRAUNet(arch, { inputShape: s.shape });
  const x = tf.randomUniform([1, ...s.shape]);
  const y = tf.tidy(() =>
    tf.cast(tf.greater(tf.randomUniform([1, ...s.shape.slice(0, -1), 1]), 0.8), 'float32'),
  );
  const optimizer = tf.train.adam(1e-3, 0.9, 0.999);
  model.compile({ optimizer, loss: diceLoss });
  const params = model.countParams();
  const times: number[] = [];
  try {
    for (let k = 0; k < p.warmup + p.runs; k++) {
      const t = performance.now();
      await model.trainOnBatch(x, y);
      if (k >= p.warmup) times.push((performance.now() - t) / 1000);
    }
  } finally {
    optimizer.dispose();
    model.dispose();
    tf.dispose([x, y]);
  }
  log(`  ${median(times).toFixed(2)} s per step`);
  return {
    what: `${arch} training step, batch 1`,
    value: median(times),
    unit: 's',
    peakMiB: peakRssMiB(),
    note: `${s.label}, ${backend}; ${planNote(p)}; ${params} params`,
  };
}

export async function run(): Promise<BenchRow[]> {
  const backend = await initBackend();
  const quick = process.env.BENCH_QUICK === '1';
  const full = process.env.RAUNET_BENCH_FULL === '1';
  const only = process.env.BENCH_ARCH?.split(',');
  const rows: BenchRow[] = [];
  for (const arch of Object.keys(ARCHS) as ArchName[]) {
    if (only && !only.includes(arch)) continue;
    const forward = quick ? sized(QUICK_SHAPES[arch], 'quick') : sized([...ARCHS[arch].inputShape], 'paper');
    rows.push(await forwardRow(arch, forward, backend));
    rows.push(await trainStepRow(arch, trainShape(arch, quick, full), backend));
  }
  const maxSteps = Number(process.env.BENCH_OVERFIT ?? 0);
  if (maxSteps > 0) rows.push(...(await overfit(maxSteps, backend)));
  return rows;
}

/** Steps for a reduced-width 3D RA-UNet to fit one sphere patch to Dice > 0.9 (inference mode). */
async function overfit(maxSteps: number, backend: string): Promise<BenchRow[]> {
  // 64x64x32, not 32^3: a 32^3 input leaves a one-voxel bottleneck where batch norm is degenerate
  const patch = spherePatch({ dims: [32, 64, 64], radius: 11, seed: 5 });
  const model = buildRAUNet('raunet2', { width: 0.125, inputShape: [32, 64, 64, 1], bnMomentum: 0.5 });
  const stop = new AbortController();
  const started = performance.now();
  const result = await trainModel(model, {
    train: () => [patch],
    validation: () => [patch],
    epochs: maxSteps,
    initialLr: 3e-3,
    signal: stop.signal,
    onEpoch: (l) => {
      if (l.valDice > 0.9) stop.abort();
    },
  });
  const seconds = (performance.now() - started) / 1000;
  model.dispose();
  const reached = result.bestValDice > 0.9;
  return [
    {
      what: 'raunet2 w0.125 overfit one 64x64x32 sphere patch: steps',
      value: result.history.length,
      unit: 'steps',
      note: `${reached ? 'reached' : 'did NOT reach'} Dice > 0.9 (best ${result.bestValDice.toFixed(3)}), ${backend}`,
    },
    { what: 'raunet2 w0.125 overfit: wall time', value: seconds, unit: 's', note: backend },
  ];
}
