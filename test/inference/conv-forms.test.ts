import { describe, expect, it } from 'vitest';
import { depthTapBias, depthTapKernel } from '../../lib/inference/onnx/depth-tap-conv.ts';
import {
  kernelChannels,
  parityBits,
  parityKernel,
  parityPads,
} from '../../lib/inference/onnx/upsampled-conv.ts';
import { maxAbsDiff, randomArray, rng } from './helpers.ts';

/** Row-major strides of `dims`. */
const stridesOf = (dims: number[]) => dims.map((_, k) => dims.slice(k + 1).reduce((a, b) => a * b, 1));

/**
 * The reference: up-sample x ([cin, ...low]) by 2 with nearest repeats, then a 3^d 'same' convolution
 * with zero padding, both written out voxel by voxel. Kernel w is [cout, cin, 3...] row-major.
 */
function convOfUpsampled(x: Float32Array, low: number[], cin: number, w: Float32Array, cout: number) {
  const d = low.length;
  const high = low.map((n) => 2 * n);
  const highCount = high.reduce((a, b) => a * b, 1);
  const lowStrides = stridesOf(low);
  const highStrides = stridesOf(high);
  const lowCount = low.reduce((a, b) => a * b, 1);
  const taps = 3 ** d;
  const up = new Float32Array(cin * highCount);
  for (let c = 0; c < cin; c++) {
    for (let v = 0; v < highCount; v++) {
      let src = 0;
      for (let a = 0; a < d; a++)
        src += Math.floor((Math.floor(v / highStrides[a]!) % high[a]!) / 2) * lowStrides[a]!;
      up[c * highCount + v] = x[c * lowCount + src]!;
    }
  }
  const out = new Float32Array(cout * highCount);
  for (let o = 0; o < cout; o++) {
    for (let v = 0; v < highCount; v++) {
      const pos = high.map((n, a) => Math.floor(v / highStrides[a]!) % n);
      let sum = 0;
      for (let t = 0; t < taps; t++) {
        const q = pos.map((p, a) => p + (Math.floor(t / 3 ** (d - 1 - a)) % 3) - 1);
        if (q.some((p, a) => p < 0 || p >= high[a]!)) continue;
        const at = q.reduce((acc, p, a) => acc + p * highStrides[a]!, 0);
        for (let c = 0; c < cin; c++) sum += w[(o * cin + c) * taps + t]! * up[c * highCount + at]!;
      }
      out[o * highCount + v] = sum;
    }
  }
  return out;
}

/** The low-resolution form: per output parity, a 2^d convolution with parityPads, written out naively. */
function parityForm(x: Float32Array, low: number[], cin: number, w: Float32Array, cout: number) {
  const d = low.length;
  const high = low.map((n) => 2 * n);
  const highStrides = stridesOf(high);
  const lowStrides = stridesOf(low);
  const lowCount = low.reduce((a, b) => a * b, 1);
  const out = new Float32Array(cout * lowCount * 2 ** d);
  for (let cls = 0; cls < 2 ** d; cls++) {
    const bits = parityBits(cls, d);
    const kernel = parityKernel(w, cout, cin, 0, cin, bits);
    const before = parityPads(bits).slice(0, d);
    for (let o = 0; o < cout; o++) {
      for (let v = 0; v < lowCount; v++) {
        const pos = low.map((n, a) => Math.floor(v / lowStrides[a]!) % n);
        let sum = 0;
        for (let t = 0; t < 2 ** d; t++) {
          const q = pos.map((p, a) => p + ((t >> (d - 1 - a)) & 1) - before[a]!);
          if (q.some((p, a) => p < 0 || p >= low[a]!)) continue;
          const at = q.reduce((acc, p, a) => acc + p * lowStrides[a]!, 0);
          for (let c = 0; c < cin; c++) sum += kernel[(o * cin + c) * 2 ** d + t]! * x[c * lowCount + at]!;
        }
        const target = pos.reduce((acc, p, a) => acc + (2 * p + bits[a]!) * highStrides[a]!, 0);
        out[o * lowCount * 2 ** d + target] = sum;
      }
    }
  }
  return out;
}

describe('3^d convolution of a 2x up-sampled map at the low resolution', () => {
  it('collects the taps each parity reads (1D, by hand)', () => {
    const w = Float32Array.of(1, 10, 100); // w0, w1, w2
    expect(Array.from(parityKernel(w, 1, 1, 0, 1, [0]))).toEqual([1, 110]); // i-1: w0; i: w1 + w2
    expect(Array.from(parityKernel(w, 1, 1, 0, 1, [1]))).toEqual([11, 100]); // i: w0 + w1; i+1: w2
    expect(parityPads([0])).toEqual([1, 0]);
    expect(parityPads([1])).toEqual([0, 1]);
    expect(parityBits(6, 3)).toEqual([1, 1, 0]);
  });

  it('2D: tap sums by hand, all four classes', () => {
    // w[ky][kx] = 10 * ky + kx + 1 (one channel): class (py, px) sums rows and columns as in 1D
    const w = Float32Array.from({ length: 9 }, (_, t) => 10 * Math.floor(t / 3) + (t % 3) + 1);
    // class (0, 1): rows {0} | {1,2}, columns {0,1} | {2}
    expect(Array.from(parityKernel(w, 1, 1, 0, 1, [0, 1]))).toEqual([1 + 2, 3, 11 + 12 + 21 + 22, 13 + 23]);
  });

  for (const [name, low] of [
    ['2D', [3, 5]],
    ['3D', [2, 3, 4]],
  ] as const) {
    it(`${name}: interleaved parity convolutions equal the convolution of the up-sampled map`, () => {
      const cin = 3;
      const cout = 2;
      const next = rng(41);
      const x = randomArray(cin * low.reduce((a, b) => a * b, 1), -1, 1, next);
      const w = randomArray(cout * cin * 3 ** low.length, -1, 1, next);
      const want = convOfUpsampled(x, [...low], cin, w, cout);
      const got = parityForm(x, [...low], cin, w, cout);
      expect(maxAbsDiff(got, want)).toBeLessThan(1e-5);
    });
  }

  it('selects input channels of a kernel and refuses ranges outside it', () => {
    // [cout 2, cin 3, k 2]: value = 100 o + 10 i + k
    const w = Float32Array.from({ length: 12 }, (_, n) => {
      const [o, i, k] = [Math.floor(n / 6), Math.floor(n / 2) % 3, n % 2];
      return 100 * o + 10 * i + k;
    });
    expect(Array.from(kernelChannels(w, 2, 3, 1, 2))).toEqual([10, 11, 20, 21, 110, 111, 120, 121]);
    expect(() => parityKernel(new Float32Array(27), 1, 1, 0, 2, [0, 0, 0])).toThrow(RangeError);
    expect(() => parityKernel(new Float32Array(26), 1, 1, 0, 1, [0, 0, 0])).toThrow(RangeError);
  });
});

describe('depth-tap kernels', () => {
  it('moves depth tap kz of output o to output channel kz * cout + o, the bias to the centre group', () => {
    // [cout 2, cin 1, 3, 3, 3]: value = 100 o + 10 kz + (ky * 3 + kx)
    const w = Float32Array.from(
      { length: 54 },
      (_, n) => 100 * Math.floor(n / 27) + 10 * Math.floor((n % 27) / 9) + (n % 9),
    );
    const taps = depthTapKernel(w, 2, 1);
    // channel kz * 2 + o, 9 values each
    expect(Array.from(taps.subarray(0, 9))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]); // kz 0, o 0
    expect(Array.from(taps.subarray(9, 18))).toEqual([100, 101, 102, 103, 104, 105, 106, 107, 108]); // kz 0, o 1
    expect(Array.from(taps.subarray(45, 54))).toEqual([120, 121, 122, 123, 124, 125, 126, 127, 128]); // kz 2, o 1
    expect(Array.from(depthTapBias(Float32Array.of(5, 6)))).toEqual([0, 0, 5, 6, 0, 0]);
    expect(() => depthTapKernel(new Float32Array(26), 1, 1)).toThrow(RangeError);
  });
});
