/**
 * Training speed of the demo configuration (`DEMO` in lib/training/demo.ts) on the backend
 * `initBackend` picks (stage localize on cpu when that is wasm, as `raunet train` does): seconds per
 * training step, one warm-up step then the median of 3. Target: the three stages' schedules fit in the
 * hour that `raunet demo --train` is allowed on 2 cores (the "demo --train estimate" row).
 */
import * as tf from '@tensorflow/tfjs';
import { buildRAUNet } from '../lib/model/archs.ts';
import { initBackend } from '../lib/model/backend.ts';
import { DEMO } from '../lib/training/demo.ts';
import { trainModel } from '../lib/training/trainer.ts';
import type { BenchRow } from './index.ts';

export const name = 'training: seconds per step of the demo networks';

async function secondsPerStep(stage: keyof typeof DEMO.stages): Promise<number> {
  const c = DEMO.stages[stage];
  const spatial = [...c.patch].reverse();
  const shape = [c.batchSize, ...spatial, 1];
  const n = shape.reduce((a, b) => a * b, 1);
  const x = Float32Array.from({ length: n }, (_, i) => (i % 97) / 97);
  const y = Float32Array.from(x, (v) => (v > 0.5 ? 1 : 0));
  const model = buildRAUNet(stage === 'localize' ? 'raunet1' : 'raunet2', {
    width: c.width,
    inputShape: [...spatial, 1],
  });
  const times: number[] = [];
  try {
    for (let r = 0; r < 4; r++) {
      const batch = { x, y, shape };
      const res = await trainModel(model, {
        train: () => [batch],
        validation: () => [],
        epochs: 1,
        stepsPerEpoch: 1,
      });
      if (r > 0) times.push(res.history[0]!.seconds);
    }
  } finally {
    model.dispose();
  }
  return times.sort((a, b) => a - b)[1]!;
}

export async function run(): Promise<BenchRow[]> {
  const initial = await initBackend();
  const rows: BenchRow[] = [];
  let total = 0;
  for (const stage of ['localize', 'liver', 'tumor'] as const) {
    const backend = stage === 'localize' && initial === 'wasm' ? 'cpu' : initial;
    await tf.setBackend(backend);
    const s = await secondsPerStep(stage);
    const c = DEMO.stages[stage];
    const steps = c.epochs * c.stepsPerEpoch * c.folds;
    total += s * steps;
    rows.push({
      what: `${stage} ${c.patch.join('x')} width ${c.width} batch ${c.batchSize} (${backend})`,
      value: s,
      unit: 's/step',
    });
  }
  await tf.setBackend(initial);
  rows.push({
    what: 'demo --train estimate (training steps only)',
    value: total / 60,
    unit: 'min',
    note: 'target < 60',
  });
  return rows;
}
