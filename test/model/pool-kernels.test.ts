import { describe, expect, it } from 'vitest';
import { filterGradientColumns } from '../../lib/model/conv-columns.ts';
import { maxPoolForward, maxPoolGradient, poolOutputShape } from '../../lib/model/pool-kernels.ts';

describe('max pooling kernels (channels last)', () => {
  // one batch, 2x2x4 voxels, 2 channels: channel 0 holds the voxel number, channel 1 its negative
  const input = Float32Array.from({ length: 2 * 2 * 4 * 2 }, (_, i) => (i % 2 === 0 ? i / 2 : -i / 2 + 0.5));
  const g = { input: [1, 2, 2, 4, 2] as const, window: [2, 2, 2] as const, strides: [2, 2, 2] as const };

  it('takes the maximum of each 2x2x2 window per channel', () => {
    expect(poolOutputShape(g)).toEqual([1, 1, 1, 2, 2]);
    // windows: x in {0,1} and {2,3}; voxel v = (z*2 + y)*4 + x; channel 0 max = largest v, channel 1 = smallest
    expect(Array.from(maxPoolForward(input, g, new Float32Array(4)))).toEqual([13, 0, 15, -2]);
  });

  it('routes each gradient to its window maximum, the last one on ties', () => {
    const dx = maxPoolGradient(input, Float32Array.of(1, 2, 3, 4), g, new Float32Array(input.length));
    const nonzero = [...dx.entries()].filter(([, v]) => v !== 0);
    // voxel 13 ch0 (index 26), voxel 0 ch1 (index 1), voxel 15 ch0 (30), voxel 2 ch1 (5)
    expect(nonzero).toEqual([
      [1, 2],
      [5, 4],
      [26, 1],
      [30, 3],
    ]);
    const ties = new Float32Array(16); // 1x2x2x4x1 of zeros: every window ties
    const tg = { input: [1, 2, 2, 4, 1] as const, window: [2, 2, 2] as const, strides: [2, 2, 2] as const };
    const dt = maxPoolGradient(ties, Float32Array.of(5, 7), tg, new Float32Array(16));
    // the last voxel of each window in (z, y, x) order: (1,1,1) = 13 and (1,1,3) = 15
    expect([...dt.entries()].filter(([, v]) => v !== 0)).toEqual([
      [13, 5],
      [15, 7],
    ]);
  });

  it('pools 2D inputs as depth 1 and with strides unlike the window', () => {
    const x = Float32Array.of(1, 5, 2, 4, 3, 0); // 1x1x2x3x1
    const g2 = { input: [1, 1, 2, 3, 1] as const, window: [1, 2, 2] as const, strides: [1, 1, 1] as const };
    expect(poolOutputShape(g2)).toEqual([1, 1, 1, 2, 1]);
    expect(Array.from(maxPoolForward(x, g2, new Float32Array(2)))).toEqual([5, 5]);
  });
});

describe('filter-gradient columns', () => {
  it('columns times dy equal the direct filter gradient of a same-padded 3x3x3 convolution', () => {
    const [n, d, h, w, ci, co] = [2, 3, 4, 5, 2, 3];
    const x = Float32Array.from({ length: n * d * h * w * ci }, (_, i) => Math.sin(i * 0.7));
    const dy = Float32Array.from({ length: n * d * h * w * co }, (_, i) => Math.cos(i * 0.3));
    // direct definition: dW[a,b,e,c,o] = sum_v x[v + (a,b,e) - 1, c] * dy[v, o], zero outside
    const direct = new Float64Array(27 * ci * co);
    for (let q = 0; q < n; q++)
      for (let z = 0; z < d; z++)
        for (let y = 0; y < h; y++)
          for (let xo = 0; xo < w; xo++)
            for (let a = 0; a < 3; a++)
              for (let b = 0; b < 3; b++)
                for (let e = 0; e < 3; e++) {
                  const [zz, yy, xx] = [z + a - 1, y + b - 1, xo + e - 1];
                  if (zz < 0 || zz >= d || yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
                  for (let c = 0; c < ci; c++)
                    for (let o = 0; o < co; o++) {
                      const xv = x[(((q * d + zz) * h + yy) * w + xx) * ci + c]!;
                      const dv = dy[(((q * d + z) * h + y) * w + xo) * co + o]!;
                      direct[(((a * 3 + b) * 3 + e) * ci + c) * co + o]! += xv * dv;
                    }
                }
    const rows = 9 * ci;
    const planes = n * d;
    const voxels = planes * h * w;
    const viaColumns = new Float64Array(27 * ci * co);
    for (let tap = 0; tap < 3; tap++) {
      // in runs of 4 and 2 planes, as the kernel does when the columns would be too large
      for (const [first, count] of [
        [0, 4],
        [4, 2],
      ] as const) {
        const cols = filterGradientColumns(
          x,
          { shape: [n, d, h, w, ci], kernel: [3, 3, 3], tap, firstPlane: first, planes: count },
          new Float32Array(rows * count * h * w).fill(Number.NaN),
        );
        const m = count * h * w;
        for (let r = 0; r < rows; r++)
          for (let o = 0; o < co; o++) {
            let s = 0;
            for (let v = 0; v < m; v++) s += cols[r * m + v]! * dy[(first * h * w + v) * co + o]!;
            viaColumns[(tap * rows + r) * co + o]! += s;
          }
      }
    }
    expect(voxels).toBe(120);
    for (let i = 0; i < direct.length; i++) expect(viaColumns[i]).toBeCloseTo(direct[i]!, 4);
  });
});
