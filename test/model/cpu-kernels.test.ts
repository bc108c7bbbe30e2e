import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { installCpuKernelFixes, nearestSource } from '../../lib/model/cpu-kernels.ts';

describe('cpu ResizeNearestNeighborGrad fix', () => {
  it('maps output pixels to sources as the forward resize does', () => {
    expect(Array.from({ length: 8 }, (_, i) => nearestSource(i, 4, 8, false, false))).toEqual([
      0, 0, 1, 1, 2, 2, 3, 3,
    ]);
    expect(Array.from({ length: 5 }, (_, i) => nearestSource(i, 3, 5, true, false))).toEqual([0, 1, 1, 2, 2]);
  });

  it('sums each 2x2 block of dy into its source for every sample of a batch (by hand)', async () => {
    installCpuKernelFixes();
    await tf.setBackend('cpu');
    const [n, h, w, c] = [2, 2, 3, 2];
    const dy = Float32Array.from({ length: n * 2 * h * 2 * w * c }, (_, i) => ((i * 7) % 11) - 5);
    const hand = new Float32Array(n * h * w * c);
    for (let b = 0; b < n; b++)
      for (let y = 0; y < 2 * h; y++)
        for (let x = 0; x < 2 * w; x++)
          for (let k = 0; k < c; k++)
            hand[((b * h + (y >> 1)) * w + (x >> 1)) * c + k]! += dy[((b * 2 * h + y) * 2 * w + x) * c + k]!;
    const dx = tf.tidy(() =>
      tf.grad((x: tf.Tensor) =>
        tf.sum(
          tf.mul(
            tf.image.resizeNearestNeighbor(x as tf.Tensor4D, [2 * h, 2 * w]),
            tf.tensor(dy, [n, 2 * h, 2 * w, c]),
          ),
        ),
      )(tf.zeros([n, h, w, c])),
    );
    expect(Array.from(await dx.data())).toEqual(Array.from(hand));
    dx.dispose();
  });
});
