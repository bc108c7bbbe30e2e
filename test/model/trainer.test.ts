import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildRAUNet } from '../../lib/model/archs.ts';
import { type Batch, type EpochLog, trainModel } from '../../lib/training/trainer.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** n 8x8 images of bimodal noise whose target is "value > 0.5" (learnable by one 3x3 conv). */
function thresholdBatch(n: number, seed: number): Batch {
  const x = new Float32Array(n * 64);
  let s = seed >>> 0;
  for (let i = 0; i < x.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const u = s / 2 ** 32;
    x[i] = u < 0.5 ? u * 0.4 : 0.6 + u * 0.4;
  }
  return { x, y: x.map((v) => (v > 0.5 ? 1 : 0)), shape: [n, 8, 8, 1] };
}

function tinyModel(): tf.LayersModel {
  const m = tf.sequential();
  m.add(
    tf.layers.conv2d({
      inputShape: [8, 8, 1],
      filters: 1,
      kernelSize: 3,
      padding: 'same',
      activation: 'sigmoid',
      kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }),
    }),
  );
  return m;
}

describe('trainModel', () => {
  it('lets timers and I/O run between steps (the CPU backends resolve their promises at once)', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const seen: number[] = [];
    try {
      await trainModel(tinyModel(), {
        train: () => [thresholdBatch(4, 1), thresholdBatch(4, 2)],
        validation: () => [thresholdBatch(4, 3)],
        epochs: 3,
        onEpoch: () => seen.push(ticks),
      });
    } finally {
      clearInterval(timer);
    }
    // a training run of awaited-but-synchronous steps would see no timer at all until it ends
    expect(seen[0]).toBeGreaterThan(0);
    expect(seen[2]).toBeGreaterThan(seen[0]!);
  });

  it('learns, checkpoints each new best validation Dice, and logs every epoch', async () => {
    const train = [thresholdBatch(4, 1), thresholdBatch(4, 2)];
    const val = [thresholdBatch(4, 3)];
    const logs: EpochLog[] = [];
    const checkpoints: number[] = [];
    const r = await trainModel(tinyModel(), {
      train: () => train,
      validation: () => val,
      epochs: 12,
      initialLr: 0.1,
      onEpoch: (l) => logs.push(l),
      checkpoint: async (_m, l) => {
        checkpoints.push(l.epoch);
      },
    });
    expect(logs.map((l) => l.epoch)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(logs.every((l) => l.steps === 2 && l.lr === 0.1)).toBe(true);
    expect(logs.at(-1)!.loss).toBeLessThan(logs[0]!.loss);
    expect(r.bestValDice).toBe(Math.max(...logs.map((l) => l.valDice)));
    // checkpoints happen exactly on strictly improving validation Dice
    let best = Number.NEGATIVE_INFINITY;
    const expected: number[] = [];
    for (const l of logs) {
      if (l.valDice > best) {
        best = l.valDice;
        expected.push(l.epoch);
      }
    }
    expect(checkpoints).toEqual(expected);
    expect(checkpoints.length).toBeGreaterThan(1);
    expect(r.bestEpoch).toBe(expected.at(-1));
    expect(r.stopped).toBe(false);
  });

  it('cuts the learning rate x0.1 after `plateauPatience` epochs without a validation-loss improvement', async () => {
    const lrs: number[] = [];
    const r = await trainModel(tinyModel(), {
      train: () => [thresholdBatch(2, 5)],
      validation: () => [thresholdBatch(2, 6)],
      epochs: 6,
      initialLr: 1e-9, // the validation loss cannot move by more than 1e-4: a plateau from epoch 1 on
      plateauPatience: 2,
      onEpoch: (l) => lrs.push(l.lr),
    });
    // epoch 1 sets the best loss; epochs 2, 3 wait -> cut after 3; 4, 5 wait -> cut after 5
    const expected = [1e-9, 1e-9, 1e-9, 1e-10, 1e-10, 1e-11];
    for (const [i, lr] of lrs.entries()) expect(lr).toBeCloseTo(expected[i]!, 20);
    expect(r.finalLr).toBeCloseTo(1e-11, 20);
  });

  it('draws at most stepsPerEpoch batches and stops cleanly when aborted', async () => {
    const controller = new AbortController();
    let drawn = 0;
    function* endless() {
      for (;;) {
        drawn++;
        yield thresholdBatch(1, drawn);
      }
    }
    const r = await trainModel(tinyModel(), {
      train: endless,
      validation: () => [thresholdBatch(1, 99)],
      epochs: 10,
      stepsPerEpoch: 3,
      onEpoch: (l) => {
        if (l.epoch === 2) controller.abort();
      },
      signal: controller.signal,
    });
    expect(r.stopped).toBe(true);
    expect(r.history.map((l) => l.steps)).toEqual([3, 3]);
    expect(drawn).toBeLessThanOrEqual(8); // a generator is pulled once more before the step count is checked
  });

  it('rejects a batch whose arrays do not match its shape', async () => {
    const bad: Batch = { x: new Float32Array(64), y: new Float32Array(10), shape: [1, 8, 8, 1] };
    await expect(
      trainModel(tinyModel(), { train: () => [bad], validation: () => [], epochs: 1 }),
    ).rejects.toThrow(/needs 64 x values and 64 y values, got 64 and 10/);
  });

  it('does not leak tensors across steps and epochs (RA-UNet with BatchNormND in training mode)', async () => {
    const model = buildRAUNet('raunet1', { width: 0.25, inputShape: [32, 32, 1] });
    const n = 32 * 32;
    const x = new Float32Array(n).map((_, i) => ((i * 7919) % 101) / 101);
    const batch: Batch = { x, y: x.map((v) => (v > 0.6 ? 1 : 0)), shape: [1, 32, 32, 1] };
    const before = tf.memory().numTensors;
    const counts: number[] = [];
    await trainModel(model, {
      train: () => [batch],
      validation: () => [batch],
      epochs: 3,
      onEpoch: () => counts.push(tf.memory().numTensors),
    });
    // Adam's two beta-power accumulators and two moment slots per trainable weight exist from the first
    // step on; nothing else grows.
    expect(counts[1]).toBe(counts[0]);
    expect(counts[2]).toBe(counts[0]);
    expect(counts[0]).toBe(before + 2 + 2 * model.trainableWeights.length);
    // and the optimizer's slots are released at the end
    expect(tf.memory().numTensors).toBe(before);
  });
});
