/**
 * Every kernel the RA-UNets use in training, on rank-5 tensors (and RA-UNet-I's rank-4 ones), on the
 * webgpu backend (Dawn; lavapipe in CI) against the pure-JS cpu backend, including the kernels that
 * lib/model/webgpu-kernels.ts replaces. Sizes reach 8+ a side (where other backends' kernels broke).
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { mergedBroadcastViews, mergedPadding } from '../../lib/model/webgpu-kernels.ts';
import {
  relativeError,
  runOn,
  startWebGpu,
  randomTensor as T,
  webgpuSuiteRuns,
  webgpuVsCpu,
} from './webgpu-gate.ts';

describe('view shapes for the rank-5 patches', () => {
  it('merges axes that broadcast alike and drops size-1 axes', () => {
    expect(mergedBroadcastViews([2, 3, 4, 5, 6], [6])).toEqual({ a: [120, 6], b: [1, 6], out: [120, 6] });
    expect(mergedBroadcastViews([2, 3, 4, 5, 6], [1, 3, 1, 5, 1])).toEqual({
      a: [2, 3, 4, 5, 6],
      b: [1, 3, 1, 5, 1],
      out: [2, 3, 4, 5, 6],
    });
    expect(mergedBroadcastViews([1, 8, 8, 8, 4], [1, 8, 8, 8, 4])).toEqual({
      a: [2048],
      b: [2048],
      out: [2048],
    });
    expect(mergedBroadcastViews([2, 3], [4])).toBeNull();
  });

  it('merges unpadded axes into the padded axis before them, scaling its padding', () => {
    expect(
      mergedPadding(
        [2, 3, 4, 5, 6],
        [
          [0, 0],
          [1, 1],
          [0, 1],
          [2, 0],
          [0, 0],
        ],
      ),
    ).toEqual({
      shape: [2, 3, 4, 30],
      paddings: [
        [0, 0],
        [1, 1],
        [0, 1],
        [12, 0],
      ],
      outShape: [2, 5, 5, 7, 6],
    });
  });
});

const runs = await webgpuSuiteRuns('webgpu kernel parity');

describe.skipIf(!runs)('webgpu kernels against the cpu backend', () => {
  beforeAll(startWebGpu);
  const TOL = 1e-4;
  const X = [2, 8, 9, 10, 6];

  const cases: [string, () => tf.Tensor | tf.Tensor[]][] = [
    ['add rank-5 + rank-1 (batch-norm offset; patched)', () => tf.add(T(X, 1), T([6], 2))],
    ['mul rank-5 * rank-1 (patched)', () => tf.mul(T(X, 1), T([6], 2))],
    ['sub rank-1 - rank-5 (patched)', () => tf.sub(T([6], 2), T(X, 1))],
    ['div by a mid-axis broadcast', () => tf.div(T(X, 1), tf.add(tf.abs(T([1, 8, 1, 10, 1], 2)), 1))],
    ['squared difference with a channel mean', () => tf.squaredDifference(T(X, 1), T([1, 1, 1, 1, 6], 2))],
    ['moments over batch and space (BatchNormND)', () => Object.values(tf.moments(T(X, 1), [0, 1, 2, 3]))],
    [
      'sum keeping dims, mean over space',
      () => [tf.sum(T(X, 1), [0, 1, 2, 3], true), tf.mean(T(X, 2), [1, 2, 3])],
    ],
    [
      'relu, sigmoid, rsqrt and their gradients',
      () => tf.grads((a: tf.Tensor) => tf.sum(tf.mul(tf.add(tf.relu(a), tf.sigmoid(a)), T(X, 4))))([T(X, 1)]),
    ],
    [
      'conv3d 3x3x3 same and its gradients',
      () =>
        tf.grads((a: tf.Tensor, f: tf.Tensor) =>
          tf.sum(tf.mul(tf.conv3d(a as tf.Tensor5D, f as tf.Tensor5D, 1, 'same'), T([2, 8, 9, 10, 5], 3))),
        )([T(X, 1), tf.mul(T([3, 3, 3, 6, 5], 2), 0.3)]),
    ],
    [
      'conv3d 1x1x1 and its gradients',
      () =>
        tf.grads((a: tf.Tensor, f: tf.Tensor) =>
          tf.sum(tf.mul(tf.conv3d(a as tf.Tensor5D, f as tf.Tensor5D, 1, 'same'), T([2, 8, 9, 10, 3], 3))),
        )([T(X, 1), T([1, 1, 1, 6, 3], 2)]),
    ],
    [
      'maxpool3d 2x2x2 valid and its gradient',
      () =>
        tf.grads((a: tf.Tensor) =>
          tf.sum(tf.mul(tf.maxPool3d(a as tf.Tensor5D, 2, 2, 'valid'), T([2, 4, 5, 8, 3], 5))),
        )([T([2, 8, 10, 16, 3], 1)]),
    ],
    [
      'concat on channels and its gradient (split)',
      () =>
        tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.mul(tf.concat([a, b], -1), T([2, 8, 9, 10, 9], 7))),
        )([T([2, 8, 9, 10, 3], 1), T(X, 2)]),
    ],
    [
      'slice, and pad (patched) of rank 5',
      () => [
        tf.slice(T(X, 1), [1, 2, 1, 2, 3], [1, 4, 6, 5, 2]),
        tf.pad(T(X, 1), [
          [0, 0],
          [1, 1],
          [0, 2],
          [3, 0],
          [0, 0],
        ]),
        tf.pad(T(X, 1), [
          [1, 0],
          [1, 1],
          [0, 2],
          [3, 0],
          [0, 1],
        ]),
      ],
    ],
    [
      'transpose, tile, broadcastTo of rank 5',
      () => [
        tf.transpose(T(X, 1), [0, 4, 1, 2, 3]),
        tf.tile(T([1, 2, 3, 2, 2], 1), [2, 1, 2, 4, 3]),
        tf.broadcastTo(T([1, 1, 3, 1, 2], 1), [2, 8, 3, 4, 2]),
      ],
    ],
    [
      'UpSampling3D pattern (reshape + broadcast add) and its gradient',
      () =>
        tf.grads((a: tf.Tensor) =>
          tf.sum(
            tf.mul(
              tf.reshape(tf.add(tf.reshape(a, [96, 10, 1, 6]), tf.zeros([1, 1, 2, 1])), [2, 8, 6, 20, 6]),
              T([2, 8, 6, 20, 6], 9),
            ),
          ),
        )([T([2, 8, 6, 10, 6], 1)]),
    ],
    [
      'nearest 2x upsampling (2D) forward',
      () => tf.image.resizeNearestNeighbor(T([2, 8, 12, 5], 1) as tf.Tensor4D, [16, 24]),
    ],
    [
      'nearest resize by 3/2, aligned corners, gradient (patched)',
      () =>
        tf.grads((a: tf.Tensor) =>
          tf.sum(
            tf.mul(tf.image.resizeNearestNeighbor(a as tf.Tensor4D, [12, 17], true), T([1, 12, 17, 2], 3)),
          ),
        )([T([1, 8, 11, 2], 1)]),
    ],
    [
      'conv2d, maxpool2d and their gradients (RA-UNet-I)',
      () =>
        tf.grads((a: tf.Tensor, f: tf.Tensor) =>
          tf.sum(
            tf.mul(
              tf.maxPool(tf.conv2d(a as tf.Tensor4D, f as tf.Tensor4D, 1, 'same'), 2, 2, 'valid'),
              T([2, 8, 8, 4], 3),
            ),
          ),
        )([T([2, 16, 16, 3], 1), T([3, 3, 3, 4], 2)]),
    ],
    [
      'addN, clip, comparisons, log (loss and Adam)',
      () => [
        tf.addN([T(X, 1), T(X, 2), T(X, 3)]),
        tf.clipByValue(T(X, 1), -0.2, 0.3),
        tf.cast(tf.greater(T(X, 1), T([6], 2)), 'float32'),
        tf.log(tf.add(tf.abs(T(X, 1)), 0.1)),
        tf.sqrt(tf.abs(T(X, 2))),
      ],
    ],
  ];

  for (const [name, fn] of cases) {
    it(name, async () => {
      const err = await webgpuVsCpu(fn);
      expect(err).toBeLessThan(TOL);
    });
  }

  it('nearest 2x upsampling gradient (patched) sums each 2x2 block of dy (by hand; the cpu kernel is wrong here)', async () => {
    const [b, h, w, c] = [2, 8, 12, 5];
    const dy = () => T([b, 2 * h, 2 * w, c], 3);
    const [dyRef] = await runOn('cpu', dy);
    const hand = new Float32Array(b * h * w * c);
    for (let n = 0; n < b; n++)
      for (let y = 0; y < 2 * h; y++)
        for (let x = 0; x < 2 * w; x++)
          for (let k = 0; k < c; k++)
            hand[((n * h + (y >> 1)) * w + (x >> 1)) * c + k]! +=
              dyRef!.data[((n * 2 * h + y) * 2 * w + x) * c + k]!;
    const got = await runOn('webgpu', () =>
      tf.grad((x: tf.Tensor) =>
        tf.sum(tf.mul(tf.image.resizeNearestNeighbor(x as tf.Tensor4D, [2 * h, 2 * w]), dy())),
      )(T([b, h, w, c], 1)),
    );
    expect(relativeError([{ shape: [b, h, w, c], data: hand }], got)).toBeLessThan(1e-6);
  });

  it('a synchronous read fails with advice, not a ReferenceError', async () => {
    await tf.setBackend('webgpu');
    const t = tf.add(T(X, 1), 1);
    expect(() => t.dataSync()).toThrow(/use await tensor.data\(\)/);
    t.dispose();
    await tf.setBackend('cpu');
  });
});
