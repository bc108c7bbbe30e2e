/**
 * Training speed of the demo configuration (`DEMO` in lib/training/demo.ts) on the backend
 * `initBackend` picks: seconds per training step and per inference-mode forward pass of one batch (one
 * warm-up, then the median of 3). Target: `raunet demo --train` fits in an hour on 2 cores. The estimate
 * row adds, per epoch, the training steps and the forward passes of the batch-norm statistics (16 batches)
 * and of the validation set (20% of the training phantoms), and runs the stages as `demo --train` does:
 * in pipeline order, `min(3, cores)` at a time (tfjs's CPU backends use one core per process).
 */
import * as tf from '@tensorflow/tfjs';
import { buildRAUNet } from '../lib/model/archs.ts';
import { initBackend } from '../lib/model/backend.ts';
import { STAGES } from '../lib/model/storage.ts';
import { DEMO, defaultDemoJobs } from '../lib/training/demo.ts';
import { trainModel } from '../lib/training/trainer.ts';
import type { BenchRow } from './index.ts';

export const name = 'training: seconds per step of the demo networks';

/** Batches whose statistics `trainStage` averages before each validation (its default). */
const BN_BATCHES = 16;

const middle = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;

async function timeStage(stage: keyof typeof DEMO.stages): Promise<{ step: number; forward: number }> {
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
  const steps: number[] = [];
  const forwards: number[] = [];
  const input = tf.tensor(x, shape);
  try {
    for (let r = 0; r < 4; r++) {
      const batch = { x, y, shape };
      const res = await trainModel(model, {
        train: () => [batch],
        validation: () => [],
        epochs: 1,
        stepsPerEpoch: 1,
      });
      const t = performance.now();
      const out = model.predict(input) as tf.Tensor;
      await out.data();
      out.dispose();
      if (r > 0) {
        steps.push(res.history[0]!.seconds);
        forwards.push((performance.now() - t) / 1000);
      }
    }
  } finally {
    input.dispose();
    model.dispose();
  }
  return { step: middle(steps), forward: middle(forwards) };
}

/** Wall time of tasks run in order, `jobs` at a time (each starts when the earliest slot frees). */
export function scheduleWall(durations: readonly number[], jobs: number): number {
  const slots = new Array<number>(Math.max(1, jobs)).fill(0);
  for (const d of durations) {
    const i = slots.indexOf(Math.min(...slots));
    slots[i]! += d;
  }
  return Math.max(...slots);
}

export async function run(): Promise<BenchRow[]> {
  const backend = await initBackend();
  const rows: BenchRow[] = [];
  const minutes: number[] = [];
  const valCases = Math.max(1, Math.round(DEMO.trainCases * 0.2));
  for (const stage of STAGES) {
    const c = DEMO.stages[stage];
    const { step, forward } = await timeStage(stage);
    const valBatches = Math.ceil((valCases * (c.perCase ?? 1)) / c.batchSize);
    const epoch = c.stepsPerEpoch * step + (BN_BATCHES + valBatches) * forward;
    minutes.push((c.epochs * c.folds * epoch) / 60);
    const what = `${stage} ${c.patch.join('x')} width ${c.width} batch ${c.batchSize} (${backend})`;
    rows.push({ what: `${what}: step`, value: step, unit: 's/step' });
    rows.push({
      what: `${stage}: epoch estimate`,
      value: epoch,
      unit: 's',
      note: `${c.stepsPerEpoch} steps + ${BN_BATCHES + valBatches} forward batches of ${forward.toFixed(2)} s`,
    });
  }
  const jobs = defaultDemoJobs();
  rows.push({
    what: 'demo --train estimate',
    value: scheduleWall(minutes, jobs),
    unit: 'min',
    note: `stages ${minutes.map((m) => m.toFixed(0)).join(' + ')} min, ${jobs} at a time; target < 60`,
  });
  return rows;
}
