import { describe, expect, it } from 'vitest';
import { HU_WINDOW, windowAndNormalize } from '../../lib/preprocess/window.ts';
import { createVolume, scalingAffine } from '../../lib/volume/volume.ts';

describe('windowAndNormalize', () => {
  it('clips to [-100, 200] HU and scales to [0, 1] (hand-computed)', () => {
    const vol = createVolume(new Int16Array([-1000, -100, 50, 200, 1000, 125]), [6, 1, 1]);
    const out = windowAndNormalize(vol);
    // Clipped: -100 -100 50 200 200 125; min-max over [-100, 200]: 0 0 0.5 1 1 0.75.
    const expected = [0, 0, 0.5, 1, 1, 0.75];
    expect(out.data).toBeInstanceOf(Float32Array);
    out.data.forEach((v, i) => {
      expect(v).toBeCloseTo(expected[i], 6);
    });
    expect(HU_WINDOW).toEqual({ min: -100, max: 200 });
  });

  it('matches min-max of the clipped values on random data, keeping the grid', () => {
    const n = 1000;
    const data = new Float32Array(n);
    let s = 7;
    for (let i = 0; i < n; i++) {
      s = (s * 1103515245 + 12345) % 2147483648;
      data[i] = (s / 2147483648) * 600 - 250;
    }
    const vol = createVolume(data, [10, 10, 10], [0.7, 0.7, 2], scalingAffine([0.7, 0.7, 2], [1, 2, 3]));
    const out = windowAndNormalize(vol, { min: -50, max: 100 });
    const clipped = Array.from(data, (v) => Math.min(100, Math.max(-50, v)));
    const lo = Math.min(...clipped);
    const hi = Math.max(...clipped);
    clipped.forEach((c, i) => {
      expect(out.data[i]).toBeCloseTo((c - lo) / (hi - lo), 5);
    });
    expect(out.affine).toEqual(vol.affine);
    expect(out.dims).toEqual([10, 10, 10]);
  });

  it('maps a constant volume (also one entirely outside the window) to zeros, without NaN', () => {
    for (const v of [42, 5000, -3000]) {
      const out = windowAndNormalize(createVolume(new Int16Array(27).fill(v), [3, 3, 3]));
      expect(Array.from(out.data)).toEqual(new Array(27).fill(0));
    }
  });

  it('rejects an empty window', () => {
    const vol = createVolume(new Int16Array(1), [1, 1, 1]);
    expect(() => windowAndNormalize(vol, { min: 10, max: 10 })).toThrow(/empty/);
  });
});
