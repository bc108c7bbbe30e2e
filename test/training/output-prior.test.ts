import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildRAUNet } from '../../lib/model/archs.ts';
import { initBackend } from '../../lib/model/backend.ts';
import {
  foregroundFraction,
  initialiseOutputBias,
  OUTPUT_LAYER,
  priorBias,
} from '../../lib/training/output-prior.ts';

describe('output prior', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  it('measures the foreground fraction over all batches', () => {
    const batch = (y: number[]) => ({
      x: new Float32Array(y.length),
      y: Float32Array.from(y),
      shape: [1, y.length, 1],
    });
    expect(foregroundFraction([batch([0, 1, 0, 0]), batch([1, 1, 0, 0, 0, 0])])).toBeCloseTo(3 / 10, 12);
    expect(foregroundFraction([])).toBe(0);
  });

  it('is the logit of the prior, kept within [1e-3, 0.5]', () => {
    expect(priorBias(0.01)).toBeCloseTo(Math.log(0.01 / 0.99), 12); // -4.5951
    expect(priorBias(0.01)).toBeCloseTo(-4.59512, 4);
    expect(priorBias(0.3)).toBeCloseTo(-0.847298, 5);
    expect(priorBias(0)).toBeCloseTo(Math.log(1e-3 / (1 - 1e-3)), 12);
    expect(priorBias(0.9)).toBe(0);
    expect(priorBias(Number.NaN)).toBe(0);
  });

  it('makes a fresh network output the prior where its last features are zero', () => {
    const model = buildRAUNet('raunet1', { width: 0.05, inputShape: [32, 32, 1] });
    const before = model.getLayer(OUTPUT_LAYER).getWeights()[0]!.dataSync().slice();
    initialiseOutputBias(model, 0.02);
    const [kernel, bias] = model.getLayer(OUTPUT_LAYER).getWeights();
    expect(Array.from(bias!.dataSync())).toEqual([Math.fround(Math.log(0.02 / 0.98))]);
    expect(kernel!.dataSync()).toEqual(before);
    // with the kernel zeroed, every output voxel is sigmoid(bias) = the prior
    model.getLayer(OUTPUT_LAYER).setWeights([tf.zerosLike(kernel!), bias!]);
    const out = model.predict(tf.randomNormal([1, 32, 32, 1])) as tf.Tensor;
    const values = out.dataSync();
    expect(Math.min(...values)).toBeCloseTo(0.02, 6);
    expect(Math.max(...values)).toBeCloseTo(0.02, 6);
    tf.dispose(out);
    model.dispose();
  });
});
