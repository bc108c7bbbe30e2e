import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../lib/model/backend.ts';
import { BatchNormND } from '../../lib/model/layers.ts';
import { recomputeBatchNormStatistics } from '../../lib/training/batchnorm-statistics.ts';
import type { Batch } from '../../lib/training/trainer.ts';

/** Two batches of [1, 3, 2] (3 positions, 2 channels), channels last. Per channel, by hand:
 *  A: c0 = 1,2,3 (mean 2, biased variance 2/3); c1 = 0,0,6 (mean 2, variance 8)
 *  B: c0 = 5,5,5 (mean 5, variance 0);          c1 = 1,3,5 (mean 3, variance 8/3) */
const A: Batch = { x: Float32Array.from([1, 0, 2, 0, 3, 6]), y: new Float32Array(3), shape: [1, 3, 2] };
const B: Batch = { x: Float32Array.from([5, 1, 5, 3, 5, 5]), y: new Float32Array(3), shape: [1, 3, 2] };

function bnModel(): { model: tf.LayersModel; bn: BatchNormND } {
  const input = tf.input({ shape: [3, 2] });
  const bn = new BatchNormND({ name: 'bn' });
  const model = tf.model({ inputs: input, outputs: bn.apply(input) as tf.SymbolicTensor });
  return { model, bn };
}

function movingStatistics(bn: BatchNormND): number[][] {
  const [, , mean, variance] = bn.getWeights();
  return [Array.from(mean!.dataSync()), Array.from(variance!.dataSync())];
}

describe('recomputeBatchNormStatistics', () => {
  beforeAll(async () => {
    await initBackend('cpu', () => {});
  });

  it('sets the moving statistics to the average of the batch statistics and restores the momentum', async () => {
    const { model, bn } = bnModel();
    expect(await recomputeBatchNormStatistics(model, [A, B, A], 2)).toBe(2);
    const [mean, variance] = movingStatistics(bn);
    expect(mean![0]).toBeCloseTo(3.5, 5);
    expect(mean![1]).toBeCloseTo(2.5, 5);
    expect(variance![0]).toBeCloseTo(1 / 3, 5);
    expect(variance![1]).toBeCloseTo(16 / 3, 5);
    expect(bn.momentum).toBe(0.99);
    model.dispose();
  });

  it('with one batch takes exactly its statistics, whatever the old moving averages were', async () => {
    const { model, bn } = bnModel();
    await recomputeBatchNormStatistics(model, [B]);
    await recomputeBatchNormStatistics(model, [A]);
    const [mean, variance] = movingStatistics(bn);
    expect(mean).toEqual([2, 2]);
    expect(variance![0]).toBeCloseTo(2 / 3, 5);
    expect(variance![1]).toBeCloseTo(8, 5);
    expect(await recomputeBatchNormStatistics(model, [])).toBe(0);
    model.dispose();
  });
});
