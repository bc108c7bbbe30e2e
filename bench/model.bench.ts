/**
 * RA-UNet speed and memory on the active backend (`RAUNET_BACKEND` picks one): one forward pass and one
 * training step (Adam, Dice loss, batch 1) per configuration at its paper input size, and the process's
 * peak resident memory. Pure-JS full-size 3D passes take minutes: `BENCH_QUICK=1` uses reduced sizes
 * (printed in the row). `BENCH_ARCH=raunet1,raunet2` restricts the configurations.
 * `BENCH_OVERFIT=<max steps>` also trains a reduced-width raunet2 (width 0.125, 32^3) on one
 * sphere-in-noise patch until its inference-mode Dice exceeds 0.9, and reports the steps it took.
 */
import * as tf from '@tensorflow/tfjs';
import { ARCHS, type ArchName, buildRAUNet } from '../lib/model/archs.ts';
import { initBackend } from '../lib/model/backend.ts';
import { diceLoss } from '../lib/model/loss.ts';
import { spherePatch } from '../lib/model/sphere.ts';
import { trainModel } from '../lib/training/trainer.ts';
import type { BenchRow } from './index.ts';

export const name = 'model (RA-UNet forward / train step)';

const QUICK_SHAPES: Record<ArchName, number[]> = {
  raunet1: [64, 64, 1],
  raunet2: [32, 64, 64, 1],
  'raunet2-brain': [32, 32, 32, 4],
};

const peakRssMiB = () => process.resourceUsage().maxRSS / 1024;

export async function run(): Promise<BenchRow[]> {
  const backend = await initBackend();
  const quick = process.env.BENCH_QUICK === '1';
  const only = process.env.BENCH_ARCH?.split(',');
  const rows: BenchRow[] = [];
  for (const arch of Object.keys(ARCHS) as ArchName[]) {
    if (only && !only.includes(arch)) continue;
    const inputShape = quick ? QUICK_SHAPES[arch] : [...ARCHS[arch].inputShape];
    const size = `${inputShape.join('x')}${quick ? ' quick' : ' paper'}`;
    const model = buildRAUNet(arch, { inputShape });
    const x = tf.randomUniform([1, ...inputShape]);
    const y = tf.tidy(() =>
      tf.cast(tf.greater(tf.randomUniform([1, ...inputShape.slice(0, -1), 1]), 0.8), 'float32'),
    );
    let t = performance.now();
    await tf.tidy(() => model.predict(x) as tf.Tensor).data();
    const forward = (performance.now() - t) / 1000;
    const optimizer = tf.train.adam(1e-3, 0.9, 0.999);
    model.compile({ optimizer, loss: diceLoss });
    t = performance.now();
    await model.trainOnBatch(x, y);
    const step = (performance.now() - t) / 1000;
    rows.push(
      { what: `${arch} forward, batch 1`, value: forward, unit: 's', note: `${size}, ${backend}` },
      { what: `${arch} training step, batch 1`, value: step, unit: 's', note: `${size}, ${backend}` },
      {
        what: `${arch} peak RSS so far`,
        value: peakRssMiB(),
        unit: 'MiB',
        note: `${model.countParams()} params`,
      },
    );
    optimizer.dispose();
    model.dispose();
    tf.dispose([x, y]);
  }
  const maxSteps = Number(process.env.BENCH_OVERFIT ?? 0);
  if (maxSteps > 0) rows.push(...(await overfit(maxSteps, backend)));
  return rows;
}

/** Steps for a reduced-width 3D RA-UNet to fit one sphere patch to Dice > 0.9 (inference mode). */
async function overfit(maxSteps: number, backend: string): Promise<BenchRow[]> {
  const patch = spherePatch({ dims: [32, 32, 32], radius: 11, seed: 5 });
  const model = buildRAUNet('raunet2', { width: 0.125, inputShape: [32, 32, 32, 1], bnMomentum: 0.5 });
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
      what: 'raunet2 w0.125 overfit one 32^3 sphere patch: steps',
      value: result.history.length,
      unit: 'steps',
      note: `${reached ? 'reached' : 'did NOT reach'} Dice > 0.9 (best ${result.bestValDice.toFixed(3)}), ${backend}`,
    },
    { what: 'raunet2 w0.125 overfit: wall time', value: seconds, unit: 's', note: backend },
  ];
}
