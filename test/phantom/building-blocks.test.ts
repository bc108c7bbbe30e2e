import { describe, expect, it } from 'vitest';
import { centredGrid, indexRange, snapToVoxel, worldAt } from '../../lib/phantom/grid.ts';
import { LatticeNoise, WhiteNoise } from '../../lib/phantom/noise.ts';
import { deriveSeed, Rng } from '../../lib/phantom/random.ts';
import { Capsule, Ellipsoid, smoothMin } from '../../lib/phantom/shapes.ts';
import { mean, std } from './stats.ts';

describe('Rng', () => {
  it('repeats for a seed, differs across seeds, and forks independently of draws', () => {
    const a = new Rng(5);
    const b = new Rng(5);
    const xs = Array.from({ length: 5 }, () => a.nextU32());
    expect(Array.from({ length: 5 }, () => b.nextU32())).toEqual(xs);
    expect(new Rng(6).nextU32()).not.toBe(xs[0]);
    const c = new Rng(5);
    c.next();
    c.next();
    expect(c.fork('x').nextU32()).toBe(new Rng(5).fork('x').nextU32());
    expect(new Rng(5).fork('x').nextU32()).not.toBe(new Rng(5).fork('y').nextU32());
    expect(deriveSeed(1, 'case', 2)).not.toBe(deriveSeed(1, 'case', 3));
  });

  it('draws uniform numbers with the moments of U(0,1) and normals with mean 0, sd 1', () => {
    const r = new Rng(123);
    const u = Array.from({ length: 20000 }, () => r.next());
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u)).toBeLessThan(1);
    expect(mean(u)).toBeCloseTo(0.5, 1.5);
    expect(std(u)).toBeCloseTo(Math.sqrt(1 / 12), 1.5);
    const n = Array.from({ length: 20000 }, () => r.normal());
    expect(Math.abs(mean(n))).toBeLessThan(0.03);
    expect(std(n)).toBeCloseTo(1, 1.5);
    const ints = new Set(Array.from({ length: 500 }, () => r.int(2, 4)));
    expect([...ints].sort()).toEqual([2, 3, 4]);
  });
});

describe('grid', () => {
  it('centres the volume on the origin and maps ranges to voxel indices', () => {
    const g = centredGrid([5, 4, 3], [2, 1, 3]);
    expect(g.origin).toEqual([-4, -1.5, -3]);
    expect(worldAt(g, 0, 4)).toBe(4);
    expect(indexRange(g, 0, -3, 1)).toEqual([1, 2]); // centres -2 and 0
    expect(indexRange(g, 1, -10, 10)).toEqual([0, 3]);
    expect(snapToVoxel(g, 2, 1.4)).toBe(0);
    expect(snapToVoxel(g, 2, 2)).toBe(3);
  });
});

describe('LatticeNoise', () => {
  it('reads the same value per slice and row as at any point, within [-1, 1], and is smooth', () => {
    const g = centredGrid([40, 30, 6], [2, 2, 5]);
    const n = new LatticeNoise(new Rng(9), g, 12);
    let maxStep = 0;
    let maxDiff = 0;
    let maxAbs = 0;
    for (let k = 0; k < 6; k++) {
      n.prepareSlice(k);
      for (let j = 0; j < 30; j++) {
        for (let i = 0; i < 40; i++) {
          const v = n.at(i, j);
          const w = n.sample(worldAt(g, 0, i), worldAt(g, 1, j), worldAt(g, 2, k));
          maxDiff = Math.max(maxDiff, Math.abs(v - w));
          maxAbs = Math.max(maxAbs, Math.abs(v));
          if (i > 0) maxStep = Math.max(maxStep, Math.abs(v - n.at(i - 1, j)));
        }
      }
    }
    expect(maxDiff).toBeLessThan(1e-5);
    expect(maxAbs).toBeLessThanOrEqual(1);
    expect(maxAbs).toBeGreaterThan(0.3);
    // Values change by at most (2 mm / 12 mm) x 1.5 (steepest smoothstep slope) x 2 (range) per voxel.
    expect(maxStep).toBeLessThanOrEqual((2 / 12) * 1.5 * 2 + 1e-6);
  });

  it('white noise has the requested standard deviation', () => {
    const buf = new Float32Array(50000);
    new WhiteNoise(new Rng(4)).addTo(buf, 15);
    expect(Math.abs(mean(Array.from(buf)))).toBeLessThan(0.5);
    expect(std(Array.from(buf))).toBeCloseTo(15, 0);
  });
});

describe('shapes', () => {
  it('ellipsoid field: -1 at the centre, 0 on the surface along each rotated axis', () => {
    const yaw = Math.PI / 6;
    const e = new Ellipsoid([10, 20, 30], [8, 4, 2], yaw);
    expect(e.field(10, 20, 30)).toBeCloseTo(-1, 12);
    // First local axis = (cos yaw, sin yaw, 0): the surface is 8 mm along it.
    expect(e.field(10 + 8 * Math.cos(yaw), 20 + 8 * Math.sin(yaw), 30)).toBeCloseTo(0, 12);
    expect(e.field(10 - 4 * Math.sin(yaw), 20 + 4 * Math.cos(yaw), 30)).toBeCloseTo(0, 12);
    expect(e.field(10, 20, 32)).toBeCloseTo(0, 12);
    // Half-extent along world x of an ellipse rotated by yaw: sqrt((8 cos)^2 + (4 sin)^2).
    const hx = Math.hypot(8 * Math.cos(yaw), 4 * Math.sin(yaw));
    expect(e.box.max[0] - 10).toBeCloseTo(hx, 12);
    expect(e.box.max[2] - 30).toBeCloseTo(2, 12);
  });

  it('capsule field is distance to the segment over the radius, minus one', () => {
    const c = new Capsule([0, 0, 0], [10, 0, 0], 2);
    expect(c.field(5, 3, 0)).toBeCloseTo(3 / 2 - 1, 12);
    expect(c.field(13, 4, 0)).toBeCloseTo(5 / 2 - 1, 12);
    expect(c.field(-1, 0, 0)).toBeCloseTo(-0.5, 12);
  });

  it('smooth minimum equals min far apart and dips by k/4 where the two are equal', () => {
    expect(smoothMin(0, 1, 0.2)).toBe(0);
    expect(smoothMin(0.3, 0.3, 0.2)).toBeCloseTo(0.3 - 0.05, 12);
  });
});
