import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { convFlops } from '../../lib/inference/flops.ts';
import { gemmChainModel, measureGemmRate } from '../../lib/inference/gemm-rate.ts';
import { buildRAUNet } from '../../lib/model/archs.ts';

const L = tf.layers;

describe('convFlops', () => {
  it('counts 2 * kernel * in * out * output voxels per convolution (hand counts)', () => {
    const x = tf.input({ shape: [8, 6, 4, 2] }); // z, y, x, channels
    // same padding: 8*6*4 output voxels, 3x3x3 kernel, 2 -> 5 channels
    const a = L.conv3d({ filters: 5, kernelSize: 3, padding: 'same' }).apply(x) as tf.SymbolicTensor;
    // valid 2x2x2 stride 2: 4*3*2 voxels, 5 -> 3 channels
    const b = L.conv3d({ filters: 3, kernelSize: 2, strides: 2 }).apply(a) as tf.SymbolicTensor;
    const pooled = L.maxPooling3d({ poolSize: 1 }).apply(b) as tf.SymbolicTensor; // not counted
    const m = tf.model({ inputs: x, outputs: pooled });
    expect(convFlops(m)).toBe(2 * 27 * 2 * 5 * (8 * 6 * 4) + 2 * 8 * 5 * 3 * (4 * 3 * 2));
    m.dispose();
  });

  it("agrees with the issue's independent figure for RA-UNet-II at 128x128x32 (66 GFLOP)", () => {
    const m = buildRAUNet('raunet2', { inputShape: [32, 128, 128, 1] });
    expect(convFlops(m) / 1e9).toBeCloseTo(66, 0);
    m.dispose();
  });
});

describe('GEMM rate', () => {
  it('the timed graph multiplies the input by w chain times', async () => {
    const n = 3;
    const w = Float32Array.from([1, 2, 0, -1, 0.5, 3, 2, 0, 1]);
    const a = Float32Array.from([0.5, -2, 1, 4, 0, 1, -1, 3, 2]);
    const mul = (p: Float32Array, q: Float32Array) => {
      const r = new Float32Array(n * n);
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) r[i * n + j] += p[i * n + k] * q[k * n + j];
      return r;
    };
    const s = await ort.InferenceSession.create(gemmChainModel(n, 3, w));
    const out = await s.run({ a: new ort.Tensor('float32', a, [n, n]) });
    await s.release();
    const expected = mul(mul(mul(a, w), w), w);
    const got = out.y!.data as Float32Array;
    for (let i = 0; i < n * n; i++) expect(got[i]).toBeCloseTo(expected[i]!, 4);
  });

  it('reports 2 n^3 / seconds', async () => {
    const r = await measureGemmRate({ n: 64, runs: 1, threads: 1 });
    expect(r.n).toBe(64);
    expect(r.seconds).toBeGreaterThan(0);
    expect(r.gflops).toBeCloseTo((2 * 64 ** 3) / r.seconds / 1e9, 6);
  });

  it('refuses a weight of the wrong size', () => {
    expect(() => gemmChainModel(4, 2, new Float32Array(15))).toThrow(/n x n/);
  });
});
