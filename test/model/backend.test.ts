import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { initBackend, parseBackendChoice } from '../../lib/model/backend.ts';
import { BatchNormND, UpSampling3D } from '../../lib/model/layers.ts';

afterAll(async () => {
  await tf.setBackend('cpu');
});

function values(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

/** Gradients through the operations the networks need, as plain arrays (computed on the active backend). */
function gradients(): number[][] {
  return tf.tidy(() => {
    const x2 = tf.tensor(values(2 * 6 * 6 * 3, 1), [2, 6, 6, 3]);
    const f2 = tf.tensor(values(3 * 3 * 3 * 4, 2), [3, 3, 3, 4]);
    const out: number[][] = [];
    for (const [stride, pad] of [
      [1, 'same'],
      [1, 'valid'],
    ] as const) {
      const [gx, gf] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, stride, pad))),
      )([x2, f2]);
      out.push(Array.from(gx!.dataSync()), Array.from(gf!.dataSync()));
    }
    // 3D convolution (wasm's own input gradient is wrong in tfjs 4.22; initBackend replaces it)
    const x3 = tf.tensor(values(4 * 5 * 6 * 2, 7), [1, 4, 5, 6, 2]);
    const f3 = tf.tensor(values(3 * 3 * 3 * 2 * 3, 8), [3, 3, 3, 2, 3]);
    const [gx3, gf3] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.square(tf.conv3d(a as tf.Tensor5D, b as tf.Tensor5D, 1, 'same'))),
    )([x3, f3]);
    out.push(Array.from(gx3!.dataSync()), Array.from(gf3!.dataSync()));
    const x5 = tf.tensor(values(2 * 2 * 2 * 2 * 3, 3), [2, 2, 2, 2, 3]);
    const up = new UpSampling3D();
    const bn = new BatchNormND();
    bn.build([2, 2, 2, 2, 3]);
    const w = tf.tensor(values(2 * 4 * 4 * 4 * 3, 4), [2, 4, 4, 4, 3]);
    const g = tf.grad((t: tf.Tensor) =>
      tf.sum(tf.mul(up.apply(bn.apply(t, { training: true }) as tf.Tensor) as tf.Tensor, w)),
    )(x5);
    out.push(Array.from(g.dataSync()));
    return out;
  });
}

describe('backend selection', () => {
  it('accepts the documented names and rejects others', () => {
    expect(['node-gpu', 'tfjs-node', 'WASM', ' cpu '].map((n) => parseBackendChoice(n))).toEqual([
      'tensorflow-gpu',
      'tensorflow',
      'wasm',
      'cpu',
    ]);
    expect(() => parseBackendChoice('webgl', 'RAUNET_BACKEND')).toThrow(
      /RAUNET_BACKEND: unknown backend 'webgl'/,
    );
  });

  it('honours RAUNET_BACKEND and logs one line naming the backend', async () => {
    const saved = process.env.RAUNET_BACKEND;
    const lines: string[] = [];
    try {
      process.env.RAUNET_BACKEND = 'cpu';
      expect(await initBackend(undefined, (l) => lines.push(l))).toBe('cpu');
      expect(lines).toEqual(['tfjs backend: cpu']);
      process.env.RAUNET_BACKEND = 'bogus';
      await expect(initBackend(undefined, () => {})).rejects.toThrow(
        /RAUNET_BACKEND: unknown backend 'bogus'/,
      );
    } finally {
      if (saved === undefined) delete process.env.RAUNET_BACKEND;
      else process.env.RAUNET_BACKEND = saved;
    }
  });

  it('falls back past the missing native bindings, and wasm computes the same gradients as cpu', async () => {
    await initBackend('cpu', () => {});
    const reference = gradients();
    const lines: string[] = [];
    const saved = process.env.RAUNET_BACKEND;
    delete process.env.RAUNET_BACKEND;
    try {
      const chosen = await initBackend(undefined, (l) => lines.push(l));
      expect(['tensorflow', 'webgpu', 'wasm']).toContain(chosen); // webgpu only on a GPU adapter
      if (chosen === 'wasm')
        expect(lines[0]).toMatch(/^tfjs backend: wasm; skipped tensorflow-gpu: not installed/);
    } finally {
      if (saved !== undefined) process.env.RAUNET_BACKEND = saved;
    }
    expect(await initBackend('wasm', () => {})).toBe('wasm');
    const onWasm = gradients();
    expect(() =>
      tf.tidy(() =>
        tf.grad((f: tf.Tensor) =>
          tf.sum(tf.conv2d(tf.ones([1, 4, 4, 1]) as tf.Tensor4D, f as tf.Tensor4D, 2, 'same')),
        )(tf.ones([3, 3, 1, 1])),
      ),
    ).toThrow(/stride 1/);
    expect(onWasm.length).toBe(reference.length);
    onWasm.forEach((g, i) => {
      const ref = reference[i]!;
      expect(g.length).toBe(ref.length);
      const scale = Math.max(...ref.map(Math.abs));
      expect(Math.max(...g.map((v, j) => Math.abs(v - ref[j]!))) / scale).toBeLessThan(1e-4);
    });
  });
});
