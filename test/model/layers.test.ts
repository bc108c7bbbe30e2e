import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { BatchNormND, UpSampling3D } from '../../lib/model/layers.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Deterministic pseudo-random values in [-1, 1). */
function noise(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/**
 * Central finite differences of the scalar f at x (float32 arithmetic, so eps is large and the
 * comparison tolerance is relative to the largest gradient entry).
 */
function finiteDifferences(f: (x: Float32Array) => number, x: Float32Array, eps: number): Float32Array {
  const g = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const keep = x[i]!;
    x[i] = keep + eps;
    const up = f(x);
    x[i] = keep - eps;
    const down = f(x);
    x[i] = keep;
    g[i] = (up - down) / (2 * eps);
  }
  return g;
}

function expectClose(actual: Float32Array, expected: Float32Array, relTol: number) {
  const scale = Math.max(...expected.map(Math.abs), 1e-6);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
  expect(worst / scale).toBeLessThan(relTol);
}

describe('UpSampling3D', () => {
  it('repeats every voxel sz x sy x sx times (nearest neighbour), per channel', () => {
    const shape = [2, 2, 3, 2, 3];
    const data = noise(2 * 2 * 3 * 2 * 3, 1);
    const size: [number, number, number] = [2, 3, 1];
    const layer = new UpSampling3D({ size });
    const out = tf.tidy(() =>
      (layer.apply(tf.tensor(data, shape)) as tf.Tensor).arraySync(),
    ) as number[][][][][];
    expect([out.length, out[0]!.length, out[0]![0]!.length, out[0]![0]![0]!.length]).toEqual([2, 4, 9, 2]);
    const at = (n: number, z: number, y: number, x: number, c: number) =>
      data[(((n * 2 + z) * 3 + y) * 2 + x) * 3 + c]!;
    for (let n = 0; n < 2; n++)
      for (let z = 0; z < 4; z++)
        for (let y = 0; y < 9; y++)
          for (let x = 0; x < 2; x++)
            for (let c = 0; c < 3; c++) {
              expect(out[n]![z]![y]![x]![c]).toBe(at(n, Math.floor(z / 2), Math.floor(y / 3), x, c));
            }
    expect(layer.computeOutputShape([null, 2, 3, 2, 3])).toEqual([null, 4, 9, 2, 3]);
    expect(layer.getConfig().size).toEqual([2, 3, 1]);
  });

  it('has the gradient of finite differences (and each input gets the sum of its block)', () => {
    const shape = [1, 2, 2, 3, 2];
    const x = noise(24, 2);
    const w = noise(24 * 8, 3);
    const layer = new UpSampling3D();
    const loss = (t: tf.Tensor) => tf.sum(tf.mul(layer.apply(t) as tf.Tensor, tf.tensor(w, [1, 4, 4, 6, 2])));
    const grad = tf.tidy(() => tf.grad(loss)(tf.tensor(x, shape)).dataSync() as Float32Array);
    const fd = finiteDifferences((v) => tf.tidy(() => loss(tf.tensor(v, shape)).dataSync()[0]!), x, 1e-2);
    expectClose(grad, fd, 1e-3);
    // Independent check: d/dx[0,0,0,0,c] = sum of w over the 2x2x2 block at the origin.
    let block = 0;
    for (let z = 0; z < 2; z++)
      for (let y = 0; y < 2; y++) for (let xx = 0; xx < 2; xx++) block += w[((z * 4 + y) * 6 + xx) * 2]!;
    expect(grad[0]).toBeCloseTo(block, 4);
  });
});

describe('BatchNormND', () => {
  const shape = [2, 2, 3, 2, 3]; // rank 5, 3 channels, 24 values per channel

  function channelStats(x: Float32Array, c: number, channels: number) {
    const vals = Array.from(x).filter((_, i) => i % channels === c);
    const mean = vals.reduce((a, b) => a + b, 0) / vals.length;
    const variance = vals.reduce((a, b) => a + (b - mean) ** 2, 0) / vals.length;
    return { mean, variance };
  }

  it('normalises with the moving statistics in inference and the batch statistics in training', () => {
    const layer = new BatchNormND({ epsilon: 1e-3, momentum: 0.9 });
    const x = noise(72, 4).map((v, i) => v * (1 + (i % 3)) + (i % 3) * 2);
    layer.build(shape);
    const gamma = [1.5, -0.5, 2];
    const beta = [0.1, 0.2, -0.3];
    const mm = [0.5, -1, 2];
    const mv = [4, 0.25, 1];
    layer.setWeights([tf.tensor1d(gamma), tf.tensor1d(beta), tf.tensor1d(mm), tf.tensor1d(mv)]);
    const infer = tf.tidy(() => (layer.apply(tf.tensor(x, shape)) as tf.Tensor).dataSync());
    for (let i = 0; i < 72; i++) {
      const c = i % 3;
      expect(infer[i]).toBeCloseTo(((x[i]! - mm[c]!) / Math.sqrt(mv[c]! + 1e-3)) * gamma[c]! + beta[c]!, 4);
    }
    const train = tf.tidy(() =>
      (layer.apply(tf.tensor(x, shape), { training: true }) as tf.Tensor).dataSync(),
    );
    const [, , newMean, newVar] = layer.getWeights().map((t) => t.dataSync());
    for (let c = 0; c < 3; c++) {
      const { mean, variance } = channelStats(x, c, 3);
      for (let i = c; i < 72; i += 3) {
        expect(train[i]).toBeCloseTo(((x[i]! - mean) / Math.sqrt(variance + 1e-3)) * gamma[c]! + beta[c]!, 4);
      }
      expect(newMean![c]).toBeCloseTo(0.9 * mm[c]! + 0.1 * mean, 5);
      expect(newVar![c]).toBeCloseTo(0.9 * mv[c]! + 0.1 * variance, 5);
    }
  });

  it('has gradients (input, gamma, beta) equal to finite differences in training mode', () => {
    const layer = new BatchNormND();
    layer.build(shape);
    layer.setWeights([
      tf.tensor1d([1.2, 0.7, -0.4]),
      tf.tensor1d([0.3, 0, 0.1]),
      tf.zeros([3]),
      tf.ones([3]),
    ]);
    const x = noise(72, 5).map((v, i) => v + (i % 3));
    const w = noise(72, 6);
    const out = (t: tf.Tensor) => layer.apply(t, { training: true }) as tf.Tensor;
    const loss = (t: tf.Tensor) => tf.sum(tf.mul(tf.square(out(t)), tf.tensor(w, shape)));
    const grad = tf.tidy(() => tf.grad(loss)(tf.tensor(x, shape)).dataSync() as Float32Array);
    const fd = finiteDifferences((v) => tf.tidy(() => loss(tf.tensor(v, shape)).dataSync()[0]!), x, 1e-2);
    expectClose(grad, fd, 2e-2);

    const [gammaVar, betaVar] = layer.trainableWeights.map((v) => v.read() as tf.Variable);
    const xt = tf.tensor(x, shape);
    const { grads } = tf.variableGrads(() => loss(xt) as tf.Scalar, [gammaVar!, betaVar!]);
    const gGamma = grads[gammaVar!.name]!.dataSync() as Float32Array;
    const gBeta = grads[betaVar!.name]!.dataSync() as Float32Array;
    const fdParam = (index: number) =>
      finiteDifferences(
        (p) =>
          tf.tidy(() => {
            const weights = layer.getWeights();
            weights[index] = tf.tensor1d(p);
            layer.setWeights(weights);
            return loss(xt).dataSync()[0]!;
          }),
        Float32Array.from(layer.getWeights()[index]!.dataSync()),
        1e-2,
      );
    expectClose(gGamma, fdParam(0), 2e-2);
    expectClose(gBeta, fdParam(1), 2e-2);
    tf.dispose([xt, ...Object.values(grads)]);
  });

  it('serialises its attributes', () => {
    const layer = new BatchNormND({ momentum: 0.8, epsilon: 1e-5, name: 'bn_x' });
    const copy = BatchNormND.fromConfig(BatchNormND, layer.getConfig()) as BatchNormND;
    expect([copy.momentum, copy.epsilon, copy.name]).toEqual([0.8, 1e-5, 'bn_x']);
  });
});
