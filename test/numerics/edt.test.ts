import { describe, expect, it } from 'vitest';
import { squaredDistanceTransform } from '../../lib/metrics/edt.ts';
import { surfaceVoxels } from '../../lib/metrics/surface.ts';
import type { Vec3 } from '../../lib/volume/volume.ts';

function lcg(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
}

/** Brute force: squared distance to the nearest feature voxel, by trying them all. */
function bruteForce(f: Uint8Array, d: Vec3, s: Vec3): Float64Array {
  const feats: Vec3[] = [];
  for (let z = 0; z < d[2]; z++)
    for (let y = 0; y < d[1]; y++)
      for (let x = 0; x < d[0]; x++) if (f[x + d[0] * (y + d[1] * z)]) feats.push([x, y, z]);
  const out = new Float64Array(f.length).fill(Number.POSITIVE_INFINITY);
  for (let z = 0; z < d[2]; z++)
    for (let y = 0; y < d[1]; y++)
      for (let x = 0; x < d[0]; x++) {
        let best = Number.POSITIVE_INFINITY;
        for (const [a, b, c] of feats) {
          const q = ((x - a) * s[0]) ** 2 + ((y - b) * s[1]) ** 2 + ((z - c) * s[2]) ** 2;
          if (q < best) best = q;
        }
        out[x + d[0] * (y + d[1] * z)] = best;
      }
  return out;
}

describe('squaredDistanceTransform', () => {
  it('hand case: one feature voxel, anisotropic spacing', () => {
    const f = new Uint8Array(3 * 2 * 2);
    f[0] = 1; // voxel (0,0,0)
    const d = squaredDistanceTransform(f, [3, 2, 2], [0.5, 2, 3]);
    // voxel (2,1,1): (2*0.5)^2 + (1*2)^2 + (1*3)^2 = 1 + 4 + 9 = 14
    expect(d[2 + 3 * (1 + 2 * 1)]).toBeCloseTo(14, 5);
    expect(d[1]).toBeCloseTo(0.25, 6);
    expect(d[0]).toBe(0);
  });

  it('matches brute force on random masks with anisotropic spacing', () => {
    const rnd = lcg(99);
    const cases: Array<[Vec3, Vec3, number]> = [
      [[9, 8, 7], [0.7, 1.3, 2.5], 0.05],
      [[12, 5, 10], [3, 0.5, 1], 0.01],
      [[6, 11, 4], [1, 1, 1], 0.3],
      [[1, 7, 9], [2, 0.9, 1.7], 0.1],
    ];
    for (const [d, s, density] of cases) {
      const f = new Uint8Array(d[0] * d[1] * d[2]);
      for (let i = 0; i < f.length; i++) f[i] = rnd() < density ? 1 : 0;
      f[Math.floor(rnd() * f.length)] = 1;
      const got = squaredDistanceTransform(f, d, s);
      const want = bruteForce(f, d, s);
      for (let i = 0; i < f.length; i++)
        expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(1e-5 * (1 + want[i]));
    }
  });

  it('gives +Infinity everywhere without features', () => {
    const d = squaredDistanceTransform(new Uint8Array(8), [2, 2, 2], [1, 1, 1]);
    expect(Array.from(d).every((v) => v === Number.POSITIVE_INFINITY)).toBe(true);
  });
});

describe('surfaceVoxels', () => {
  it('a solid 5x5x5 cube inside a larger array: its outer layer (98 voxels)', () => {
    const d: Vec3 = [7, 7, 7];
    const m = new Uint8Array(343);
    for (let z = 1; z <= 5; z++)
      for (let y = 1; y <= 5; y++) for (let x = 1; x <= 5; x++) m[x + 7 * (y + 7 * z)] = 1;
    const s = surfaceVoxels(m, d);
    expect(s.reduce((a, v) => a + v, 0)).toBe(125 - 27);
    expect(s[3 + 7 * (3 + 7 * 3)]).toBe(0);
    expect(s[1 + 7 * (1 + 7 * 1)]).toBe(1);
  });

  it('uses 18-connectivity: a voxel missing only a corner neighbour is interior', () => {
    const m = new Uint8Array(125).fill(1);
    m[0 + 5 * (0 + 5 * 0)] = 0; // corner of the array; also corner neighbour of (1,1,1)
    const s = surfaceVoxels(m, [5, 5, 5]);
    expect(s[1 + 5 * (1 + 5 * 1)]).toBe(0); // only its corner neighbour (0,0,0) is missing
    m[1 + 5 * (0 + 5 * 0)] = 0; // now an edge neighbour of (1,1,1) is missing
    expect(surfaceVoxels(m, [5, 5, 5])[1 + 5 * (1 + 5 * 1)]).toBe(1);
  });

  it('matches a direct neighbourhood check on random masks', () => {
    const rnd = lcg(5);
    const d: Vec3 = [8, 7, 6];
    const m = new Uint8Array(8 * 7 * 6);
    for (let i = 0; i < m.length; i++) m[i] = rnd() < 0.8 ? 1 : 0;
    const s = surfaceVoxels(m, d);
    const inMask = (x: number, y: number, z: number) =>
      x >= 0 && y >= 0 && z >= 0 && x < d[0] && y < d[1] && z < d[2] && m[x + d[0] * (y + d[1] * z)] === 1;
    let wrong = 0;
    let surface = 0;
    for (let z = 0; z < d[2]; z++)
      for (let y = 0; y < d[1]; y++)
        for (let x = 0; x < d[0]; x++) {
          let interior = inMask(x, y, z);
          for (let dz = -1; dz <= 1; dz++)
            for (let dy = -1; dy <= 1; dy++)
              for (let dx = -1; dx <= 1; dx++) {
                if (Math.abs(dx) + Math.abs(dy) + Math.abs(dz) === 3) continue; // corners are not in the element
                if (!inMask(x + dx, y + dy, z + dz)) interior = false;
              }
          const want = inMask(x, y, z) && !interior ? 1 : 0;
          surface += want;
          if (s[x + d[0] * (y + d[1] * z)] !== want) wrong++;
        }
    expect(wrong).toBe(0);
    expect(surface).toBeGreaterThan(50);
  });

  it('counts voxels on the array border as surface', () => {
    const s = surfaceVoxels(new Uint8Array(27).fill(1), [3, 3, 3]);
    expect(s.reduce((a, v) => a + v, 0)).toBe(26); // all but the centre
  });
});
