/**
 * The tiled 3D convolution kernels of lib/model/webgpu-conv3d.ts (forward, input gradient, filter
 * gradient) on webgpu (lavapipe in CI) against the pure-JS cpu backend, at the kernel sizes, paddings and
 * channel counts the RA-UNets use (1 and 4 input channels, counts not multiples of 4, odd sizes), and the
 * tiling plan against hand-derived values.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConv3dKernels, planGemm, useGemmConv3d } from '../../lib/model/webgpu-conv3d.ts';
import type { WgslProgram } from '../../lib/model/webgpu-kernels.ts';
import { startWebGpu, randomTensor as T, webgpuSuiteRuns, webgpuVsCpu } from './webgpu-gate.ts';

describe('which 3D convolution kernels run', () => {
  it('tfjs by default (ours unmeasured on a GPU); RAUNET_WEBGPU_CONV3D=tiled opts in', () => {
    expect(defaultConv3dKernels(false)).toBe('tfjs');
    expect(defaultConv3dKernels(true)).toBe('tfjs');
    expect(defaultConv3dKernels(false, '')).toBe('tfjs');
    expect(defaultConv3dKernels(true, 'tiled')).toBe('uniform');
    expect(defaultConv3dKernels(false, 'tiled')).toBe('baked');
    expect(defaultConv3dKernels(false, 'tfjs')).toBe('tfjs');
    expect(() => defaultConv3dKernels(false, 'fast')).toThrow(
      /RAUNET_WEBGPU_CONV3D=fast: expected tiled or tfjs/,
    );
  });
});

describe('tiling plan', () => {
  it('picks the n tile that holds the channels and fills 256 threads with 4x4 outputs each', () => {
    // N 5 -> TN 16 (4 threads along n), 64 threads along m x 4 = TM 256; (256 + 16) x 16 floats > 16 KiB -> TK 8
    const p = planGemm(1000, 5, 27, false);
    expect([p.TM, p.TN, p.TK, p.splits, p.chunk]).toEqual([256, 16, 8, 1, 32]);
    expect(p.dispatch).toEqual([4, 1, 1]); // ceil(1000 / 256) tiles of m
    const q = planGemm(64, 40, 100, false); // N 40 -> TN 64, TM 64; 128 x 16 floats = 8 KiB -> TK 16
    expect([q.TM, q.TN, q.TK, q.chunk, q.dispatch]).toEqual([64, 64, 16, 112, [1, 1, 1]]);
  });

  it('folds tiles of m past 65535 workgroups into z', () => {
    const p = planGemm(64 * 70000, 64, 27, false); // 70000 tiles -> 2 x 35000
    expect(p.dispatch).toEqual([35000, 1, 2]);
  });

  it('splits a long sum over few tiles into slices of at least 256, each a multiple of TK', () => {
    // filter gradient of a 3x3x3 conv, 1 -> 3 channels, over 10,000 voxels: 1 tile of C, so
    // min(1024 wanted, floor(10000 / 256) = 39) slices of ceil(10000 / 39) = 257 -> 264 (TK 8): 38 slices
    const p = planGemm(27, 3, 10000, true);
    expect([p.splits, p.chunk]).toEqual([38, 264]);
    expect(p.splits * p.chunk).toBeGreaterThanOrEqual(10000);
    expect((p.splits - 1) * p.chunk).toBeLessThan(10000);
    expect(p.dispatch).toEqual([1, 38, 1]);
    expect(planGemm(27, 3, 10000, false).splits).toBe(1);
    expect(planGemm(27, 3, 300, true).splits).toBe(1); // too short to split
  });
});

const runs = await webgpuSuiteRuns('webgpu conv3d kernels');

describe.skipIf(!runs)('tiled conv3d kernels against the cpu backend', () => {
  // On a software adapter the backend keeps tfjs' kernels by default (ours are slower on a CPU): ours here.
  beforeAll(async () => {
    await startWebGpu();
    useGemmConv3d(true, 'uniform');
  });
  afterAll(() => useGemmConv3d(false));
  const TOL = 1e-4;

  /** Forward output and both gradients of sum(conv3d(x, f) * w), w a fixed random weighting. */
  const convAndGrads = (xShape: number[], fShape: number[], pad: 'same' | 'valid') => () => {
    const x = T(xShape, 1);
    const f = tf.mul(T(fShape, 2), 0.3);
    const y = tf.conv3d(x as tf.Tensor5D, f as tf.Tensor5D, 1, pad);
    const w = T(y.shape, 3);
    const [dx, df] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(tf.conv3d(a as tf.Tensor5D, b as tf.Tensor5D, 1, pad), w)),
    )([x, f]);
    return [y, dx!, df!];
  };

  // Few shapes, each covering several paths: on lavapipe every new shader costs seconds to compile.
  const cases: [string, number[], number[], 'same' | 'valid'][] = [
    // 2 x 9 x 10 x 11 = 1,980 voxels: the filter gradient's sum is split (7 slices) and summed again
    [
      '3x3x3 same, 1 -> 5 channels (first layer), odd sizes, split filter-gradient sum',
      [2, 9, 10, 11, 1],
      [3, 3, 3, 1, 5],
      'same',
    ],
    [
      '3x3x3 same, 4 -> 70 channels (brain input; two n tiles of 64), batch 2',
      [2, 6, 5, 7, 4],
      [3, 3, 3, 4, 70],
      'same',
    ],
    [
      '3x3x3 valid, 37 -> 7 channels (a partly filled n tile of 64 for the input gradient)',
      [1, 7, 6, 9, 37],
      [3, 3, 3, 37, 7],
      'valid',
    ],
    ['1x1x1, 6 -> 1 channel (output layer), batch 2', [2, 5, 6, 7, 6], [1, 1, 1, 6, 1], 'same'],
    ['1x1x1 valid, 3 -> 20 channels', [1, 4, 5, 6, 3], [1, 1, 1, 3, 20], 'valid'],
  ];

  for (const [name, xShape, fShape, pad] of cases) {
    it(name, async () => {
      expect(await webgpuVsCpu(convAndGrads(xShape, fShape, pad))).toBeLessThan(TOL);
    });
  }

  /** Shader keys of the programs the backend runs during fn. */
  async function programsRun(fn: () => tf.Tensor[]): Promise<string[]> {
    await tf.setBackend('webgpu');
    const backend = tf.findBackend('webgpu') as unknown as {
      runWebGPUProgram: (p: WgslProgram, ...r: unknown[]) => unknown;
    };
    const run = backend.runWebGPUProgram;
    const keys: string[] = [];
    backend.runWebGPUProgram = function (this: unknown, p, ...rest) {
      keys.push(p.shaderKey);
      return run.call(this, p, ...rest);
    };
    try {
      const outs = tf.tidy(fn);
      await Promise.all(outs.map((t) => t.data()));
      tf.dispose(outs);
    } finally {
      backend.runWebGPUProgram = run;
    }
    return keys;
  }

  it('sizes baked into the shaders (as on a GPU) give the same results', async () => {
    useGemmConv3d(true, 'baked');
    try {
      const shape = convAndGrads([2, 9, 10, 11, 1], [3, 3, 3, 1, 5], 'same');
      const keys = await programsRun(shape);
      expect(
        keys.filter((k) => k.startsWith('raunetConv3dGemm_dw_2_9_10_11_1_9_10_11_5_3_3_3_1_1_1_')),
      ).toHaveLength(1);
      expect(await webgpuVsCpu(shape)).toBeLessThan(TOL);
    } finally {
      useGemmConv3d(true, 'uniform');
    }
  });

  it('the convolutions run as our shaders, and switching back restores tfjs kernels', async () => {
    const ours = (keys: string[]) =>
      keys.filter((k) => k.startsWith('raunetConv3dGemm_')).map((k) => k.split('_')[1]);
    const fn = convAndGrads([1, 3, 5, 4, 2], [3, 3, 3, 2, 3], 'same'); // forward twice: y, and inside grads
    expect(ours(await programsRun(fn)).sort()).toEqual(['dw', 'dx', 'fwd', 'fwd']);
    useGemmConv3d(false);
    try {
      expect(ours(await programsRun(fn))).toEqual([]);
      expect(await webgpuVsCpu(fn)).toBeLessThan(TOL);
    } finally {
      useGemmConv3d(true, 'uniform');
    }
    expect(ours(await programsRun(fn)).sort()).toEqual(['dw', 'dx', 'fwd', 'fwd']);
  });
});
