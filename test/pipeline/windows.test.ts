import { describe, expect, it } from 'vitest';
import {
  BlendAccumulator,
  blockHasVoxel,
  evenWindowStarts,
  extractPatch,
  flipBatch,
  gaussianImportance,
  MIN_IMPORTANCE,
  mirrorCombinations,
  predictEnsemble,
  slidingWindowStarts,
} from '../../lib/pipeline/windows.ts';
import type { Vec3 } from '../../lib/volume/volume.ts';
import { constantEngine, pointwiseEngine, positionalEngine } from './engines.ts';

describe('slidingWindowStarts', () => {
  it('steps by window * (1 - overlap) and snaps the last window to the end', () => {
    // step 2: 0, 2, 4 and the last window starts at 10 - 4 = 6
    expect(slidingWindowStarts(10, 4, 0.5)).toEqual([0, 2, 4, 6]);
    // step 16: 0..64, last = 100 - 32 = 68
    expect(slidingWindowStarts(100, 32, 0.5)).toEqual([0, 16, 32, 48, 64, 68]);
    expect(slidingWindowStarts(64, 32, 0)).toEqual([0, 32]);
    expect(slidingWindowStarts(33, 32, 0)).toEqual([0, 1]);
    // step round(32 * 0.25) = 8: the only start below the last one (40 - 32 = 8) is 0
    expect(slidingWindowStarts(40, 32, 0.75)).toEqual([0, 8]);
  });

  it('uses one window when the volume is not longer than it (the caller pads)', () => {
    expect(slidingWindowStarts(32, 32, 0.5)).toEqual([0]);
    expect(slidingWindowStarts(20, 32, 0.5)).toEqual([0]);
    expect(slidingWindowStarts(1, 128, 0)).toEqual([0]);
  });

  it('covers every position, in increasing order, inside the range', () => {
    for (const [len, win, ov] of [
      [97, 32, 0.5],
      [300, 128, 0.33],
      [57, 7, 0.9],
    ] as const) {
      const s = slidingWindowStarts(len, win, ov);
      const covered = new Uint8Array(len);
      for (const a of s) for (let i = a; i < a + win; i++) covered[i] = 1;
      expect(covered.every((c) => c === 1)).toBe(true);
      expect(s[s.length - 1]).toBe(len - win);
      for (let i = 1; i < s.length; i++) expect(s[i]).toBeGreaterThan(s[i - 1]);
    }
  });

  it('rejects bad arguments', () => {
    expect(() => slidingWindowStarts(10, 4, 1)).toThrow(/overlap/);
    expect(() => slidingWindowStarts(10, 4, -0.1)).toThrow(/overlap/);
    expect(() => slidingWindowStarts(0, 4, 0.5)).toThrow(/length/);
    expect(() => slidingWindowStarts(10, 0, 0.5)).toThrow(/window/);
  });
});

describe('evenWindowStarts', () => {
  it('places the fewest windows evenly (hand-computed)', () => {
    // span 72, largest step 96: two windows
    expect(evenWindowStarts(200, 128, 0.25)).toEqual([0, 72]);
    // span 48, step 24: three
    expect(evenWindowStarts(80, 32, 0.25)).toEqual([0, 24, 48]);
    // span 49 needs a fourth: 49 / 3 = 16.33 apart, rounded
    expect(evenWindowStarts(81, 32, 0.25)).toEqual([0, 16, 33, 49]);
    // no overlap asked: tiles
    expect(evenWindowStarts(96, 32, 0)).toEqual([0, 32, 64]);
    expect(evenWindowStarts(20, 32, 0.5)).toEqual([0]);
    expect(evenWindowStarts(32, 32, 0.5)).toEqual([0]);
  });

  it('covers the range with at least the asked overlap and never uses more windows than a fixed step', () => {
    for (const window of [16, 32, 128])
      for (const minOverlap of [0, 0.25, 0.5])
        for (let length = 1; length <= 3 * window + 7; length += 3) {
          const s = evenWindowStarts(length, window, minOverlap);
          expect(s[0]).toBe(0);
          expect(s[s.length - 1]).toBe(Math.max(0, length - window));
          for (let i = 1; i < s.length; i++) {
            expect(s[i]! - s[i - 1]!).toBeGreaterThan(0);
            expect(window - (s[i]! - s[i - 1]!)).toBeGreaterThanOrEqual(Math.ceil(minOverlap * window));
          }
          expect(s.length).toBeLessThanOrEqual(slidingWindowStarts(length, window, minOverlap).length);
        }
  });

  it('rejects bad arguments', () => {
    expect(() => evenWindowStarts(10, 4, 1)).toThrow(RangeError);
    expect(() => evenWindowStarts(0, 4, 0.5)).toThrow(RangeError);
    expect(() => evenWindowStarts(10, 0, 0.5)).toThrow(RangeError);
  });
});

describe('gaussianImportance', () => {
  it('matches the hand-computed 1D profile (odd size, sigma = n/8)', () => {
    // n = 5: sigma = 0.625, 2 sigma^2 = 0.78125, centre 2
    const g = gaussianImportance([5]);
    const e = [
      Math.exp(-4 / 0.78125),
      Math.exp(-1 / 0.78125),
      1,
      Math.exp(-1 / 0.78125),
      Math.exp(-4 / 0.78125),
    ];
    for (let i = 0; i < 5; i++) expect(g[i]).toBeCloseTo(e[i], 6);
  });

  it('peaks at 1 on the two central voxels of an even size', () => {
    // n = 4: sigma = 0.5, centre 1.5; relative to the peak, voxel 0 is exp(-(2.25 - 0.25) / 0.5) = exp(-4)
    const g = gaussianImportance([4]);
    expect(g[1]).toBeCloseTo(1, 6);
    expect(g[2]).toBeCloseTo(1, 6);
    expect(g[0]).toBeCloseTo(Math.exp(-4), 6);
    expect(g[3]).toBeCloseTo(Math.exp(-4), 6);
  });

  it('is separable, symmetric, peaks at 1 and stays above zero', () => {
    const shape = [8, 16, 12];
    const m = gaussianImportance(shape);
    const gz = gaussianImportance([8]);
    const gy = gaussianImportance([16]);
    const gx = gaussianImportance([12]);
    let max = 0;
    let min = Infinity;
    for (let k = 0; k < 8; k++)
      for (let j = 0; j < 16; j++)
        for (let i = 0; i < 12; i++) {
          const v = m[i + 12 * (j + 16 * k)];
          expect(v).toBeCloseTo(Math.max(gz[k] * gy[j] * gx[i], MIN_IMPORTANCE), 6);
          expect(v).toBe(m[11 - i + 12 * (15 - j + 16 * (7 - k))]);
          max = Math.max(max, v);
          min = Math.min(min, v);
        }
    expect(max).toBeCloseTo(1, 6);
    expect(min).toBe(Math.fround(MIN_IMPORTANCE));
  });
});

describe('extractPatch', () => {
  it('copies the block and pads what lies outside the source', () => {
    const dims: Vec3 = [3, 2, 2];
    const src = Float32Array.from({ length: 12 }, (_, i) => i + 1);
    const out = new Float32Array(2 * 2 * 2);
    extractPatch(src, dims, [2, 1, 1], [2, 2, 2], out, 0, -1);
    // voxel (2,1,1) = 2 + 3*(1 + 2*1) = 11 -> value 12; everything else is outside
    expect(Array.from(out)).toEqual([12, -1, -1, -1, -1, -1, -1, -1]);
    const out2 = new Float32Array(4);
    extractPatch(src, dims, [1, 0, 1], [2, 2, 1], out2);
    expect(Array.from(out2)).toEqual([8, 9, 11, 12]);
  });
});

describe('blockHasVoxel', () => {
  it('sees a single voxel only from the blocks that contain it, clipping blocks to the mask', () => {
    const dims: Vec3 = [5, 4, 3];
    const mask = new Uint8Array(60);
    mask[4 + 5 * (3 + 4 * 2)] = 1; // the far corner (4, 3, 2)
    expect(blockHasVoxel(mask, dims, [4, 3, 2], [1, 1, 1])).toBe(true);
    expect(blockHasVoxel(mask, dims, [3, 2, 1], [8, 8, 8])).toBe(true); // sticks out of the mask
    expect(blockHasVoxel(mask, dims, [0, 0, 0], [4, 4, 3])).toBe(false); // x stops at 3
    expect(blockHasVoxel(mask, dims, [0, 0, 0], [5, 3, 3])).toBe(false); // y stops at 2
    expect(blockHasVoxel(mask, dims, [0, 0, 0], [5, 4, 2])).toBe(false); // z stops at 1
    expect(blockHasVoxel(mask, dims, [0, 0, 0], [5, 4, 3])).toBe(true);
    expect(blockHasVoxel(new Uint8Array(60), dims, [0, 0, 0], [5, 4, 3])).toBe(false);
  });
});

describe('BlendAccumulator', () => {
  for (const mode of ['gaussian', 'mean'] as const) {
    it(`turns constant patches into exactly that constant (${mode})`, () => {
      const dims: Vec3 = [21, 13, 9];
      const patch: Vec3 = [8, 8, 4];
      const acc = new BlendAccumulator(dims, patch, mode);
      const p = new Float32Array(8 * 8 * 4).fill(0.3);
      for (const z of slidingWindowStarts(9, 4, 0.5))
        for (const y of slidingWindowStarts(13, 8, 0.5))
          for (const x of slidingWindowStarts(21, 8, 0.5)) acc.add(p, [x, y, z]);
      const r = acc.finish();
      for (const v of r) expect(v).toBeCloseTo(0.3, 6);
    });
  }

  it('ignores the part of a padded patch outside the region', () => {
    const acc = new BlendAccumulator([3, 2, 1], [4, 4, 2], 'mean');
    const p = Float32Array.from({ length: 32 }, (_, i) => i);
    acc.add(p, [0, 0, 0]);
    expect(Array.from(acc.finish())).toEqual([0, 1, 2, 4, 5, 6]);
  });

  it('weights two overlapping patches by their importance (hand-computed)', () => {
    // 1D along x: region 6, patch 4, starts 0 and 2. Mean mode: voxels 2,3 average the two patches.
    const acc = new BlendAccumulator([6, 1, 1], [4, 1, 1], 'mean');
    acc.add(new Float32Array([1, 1, 1, 1]), [0, 0, 0]);
    acc.add(new Float32Array([0, 0, 0, 0]), [2, 0, 0]);
    expect(Array.from(acc.finish())).toEqual([1, 1, 0.5, 0.5, 0, 0]);
    // Gaussian mode: voxel 2 is index 2 of patch A (weight 1) and index 0 of patch B (weight e^-4)
    const g = new BlendAccumulator([6, 1, 1], [4, 1, 1], 'gaussian');
    g.add(new Float32Array([1, 1, 1, 1]), [0, 0, 0]);
    g.add(new Float32Array([0, 0, 0, 0]), [2, 0, 0]);
    const r = g.finish();
    const w = Math.exp(-4);
    expect(r[2]).toBeCloseTo(1 / (1 + w), 6);
    expect(r[3]).toBeCloseTo(w / (w + 1), 6);
  });
});

describe('mirroring and ensembles', () => {
  it('flips a [1, 2, 3, 1] batch along each axis', () => {
    const d = Float32Array.from([1, 2, 3, 4, 5, 6]);
    expect(Array.from(flipBatch(d, [2, 3], [1]))).toEqual([3, 2, 1, 6, 5, 4]);
    expect(Array.from(flipBatch(d, [2, 3], [0]))).toEqual([4, 5, 6, 1, 2, 3]);
    expect(Array.from(flipBatch(d, [2, 3], [0, 1]))).toEqual([6, 5, 4, 3, 2, 1]);
    // two batch items are flipped independently
    const two = Float32Array.from([1, 2, 3, 4]);
    expect(Array.from(flipBatch(two, [2], [0]))).toEqual([2, 1, 4, 3]);
  });

  it('lists 2^d mirror combinations', () => {
    expect(mirrorCombinations(2)).toEqual([[], [0], [1], [0, 1]]);
    expect(mirrorCombinations(3)).toHaveLength(8);
  });

  it('averages the fold engines', async () => {
    const r = await predictEnsemble(
      [constantEngine(0.2), constantEngine(0.6)],
      new Float32Array(8),
      [1, 2, 4, 1],
    );
    for (const v of r) expect(v).toBeCloseTo(0.4, 6);
  });

  it('with TTA, averages a mirrored-back x ramp to 0.5 and leaves a pointwise model unchanged', async () => {
    const ramp = positionalEngine((idx, sp) => idx[sp.length - 1] / (sp[sp.length - 1] - 1));
    const shape = [2, 3, 4, 5, 1];
    const x = Float32Array.from({ length: 120 }, (_, i) => (i % 7) / 7);
    const plain = await predictEnsemble([ramp], x, shape, false);
    expect(plain[4]).toBeCloseTo(1, 6);
    const tta = await predictEnsemble([ramp], x, shape, true);
    for (const v of tta) expect(v).toBeCloseTo(0.5, 6);
    expect(ramp.calls).toHaveLength(1 + 8);
    const pw = pointwiseEngine((v) => v * v);
    const y = await predictEnsemble([pw], x, shape, true);
    for (let i = 0; i < x.length; i++) expect(y[i]).toBeCloseTo(x[i] * x[i], 6);
  });
});
