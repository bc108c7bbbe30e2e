import { describe, expect, it } from 'vitest';
import {
  type Connectivity,
  keepLargestComponent,
  labelComponents,
} from '../../lib/postprocess/components.ts';
import type { Vec3 } from '../../lib/volume/volume.ts';

const dims: Vec3 = [4, 4, 4];
const at = (x: number, y: number, z: number) => x + 4 * (y + 4 * z);

function pair(a: Vec3, b: Vec3): Uint8Array {
  const m = new Uint8Array(64);
  m[at(...a)] = 1;
  m[at(...b)] = 1;
  return m;
}

/** Independent reference: breadth-first flood fill, counting components. */
function floodCount(mask: Uint8Array, d: Vec3, conn: Connectivity): { count: number; sizes: number[] } {
  const seen = new Uint8Array(mask.length);
  const sizes: number[] = [];
  for (let s = 0; s < mask.length; s++) {
    if (!mask[s] || seen[s]) continue;
    let size = 0;
    const queue = [s];
    seen[s] = 1;
    while (queue.length) {
      const v = queue.pop()!;
      size++;
      const x = v % d[0];
      const y = Math.floor(v / d[0]) % d[1];
      const z = Math.floor(v / (d[0] * d[1]));
      for (let dz = -1; dz <= 1; dz++)
        for (let dy = -1; dy <= 1; dy++)
          for (let dx = -1; dx <= 1; dx++) {
            const k = Math.abs(dx) + Math.abs(dy) + Math.abs(dz);
            if (k === 0 || (conn === 6 && k > 1) || (conn === 18 && k > 2)) continue;
            const xx = x + dx;
            const yy = y + dy;
            const zz = z + dz;
            if (xx < 0 || yy < 0 || zz < 0 || xx >= d[0] || yy >= d[1] || zz >= d[2]) continue;
            const u = xx + d[0] * (yy + d[1] * zz);
            if (mask[u] && !seen[u]) {
              seen[u] = 1;
              queue.push(u);
            }
          }
    }
    sizes.push(size);
  }
  return { count: sizes.length, sizes };
}

describe('labelComponents', () => {
  it('face, edge and corner contacts under 6/18/26-connectivity', () => {
    const cases: Array<[Vec3, Vec3, [number, number, number]]> = [
      [
        [1, 1, 1],
        [2, 1, 1],
        [1, 1, 1],
      ], // face
      [
        [1, 1, 1],
        [1, 1, 2],
        [1, 1, 1],
      ], // face along z
      [
        [1, 1, 1],
        [2, 2, 1],
        [2, 1, 1],
      ], // edge (in-plane)
      [
        [1, 2, 1],
        [1, 1, 2],
        [2, 1, 1],
      ], // edge (y-z), second voxel earlier in y
      [
        [1, 1, 1],
        [2, 2, 2],
        [2, 2, 1],
      ], // corner
      [
        [2, 1, 1],
        [1, 2, 2],
        [2, 2, 1],
      ], // corner, other diagonal
      [
        [0, 0, 0],
        [3, 0, 0],
        [2, 2, 2],
      ], // apart
    ];
    for (const [a, b, expected] of cases) {
      const m = pair(a, b);
      expect([6, 18, 26].map((c) => labelComponents(m, dims, c as Connectivity).count)).toEqual(expected);
    }
  });

  it('merges provisional labels (a U shape) and numbers components in raster order with sizes', () => {
    const m = new Uint8Array(64);
    for (let y = 0; y < 3; y++) {
      m[at(0, y, 0)] = 1;
      m[at(2, y, 0)] = 1;
    }
    m[at(0, 3, 0)] = m[at(1, 3, 0)] = m[at(2, 3, 0)] = 1; // joins the two arms
    m[at(3, 3, 3)] = 1; // a separate single voxel, later in raster order
    const { labels, count, sizes } = labelComponents(m, dims, 6);
    expect(count).toBe(2);
    expect(Array.from(sizes)).toEqual([0, 9, 1]);
    expect(labels[at(2, 0, 0)]).toBe(1);
    expect(labels[at(3, 3, 3)]).toBe(2);
    expect(labels[at(1, 0, 0)]).toBe(0);
  });

  it('agrees with a flood fill on random masks for every connectivity', () => {
    const d: Vec3 = [13, 11, 9];
    let s = 12345;
    for (const density of [0.2, 0.35, 0.5, 0.7, 0.85]) {
      const m = new Uint8Array(d[0] * d[1] * d[2]);
      for (let i = 0; i < m.length; i++) {
        s = (s * 1103515245 + 12345) % 2147483648;
        m[i] = s / 2147483648 < density ? 1 : 0;
      }
      for (const c of [6, 18, 26] as Connectivity[]) {
        const ref = floodCount(m, d, c);
        const got = labelComponents(m, d, c);
        expect(got.count).toBe(ref.count);
        expect(Array.from(got.sizes.slice(1))).toEqual(ref.sizes); // flood fill also visits in raster order
        // Every voxel's label is consistent: foreground <-> non-zero label.
        let wrong = 0;
        for (let i = 0; i < m.length; i++) if (got.labels[i] > 0 !== (m[i] === 1)) wrong++;
        expect(wrong).toBe(0);
      }
    }
  });

  it('handles an empty mask and rejects bad input', () => {
    const r = labelComponents(new Uint8Array(64), dims);
    expect(r.count).toBe(0);
    expect(Array.from(r.sizes)).toEqual([0]);
    expect(() => labelComponents(new Uint8Array(63), dims)).toThrow(/voxels/);
    expect(() => labelComponents(new Uint8Array(64), dims, 8 as Connectivity)).toThrow(/connectivity/);
  });
});

describe('keepLargestComponent', () => {
  it('keeps only the biggest blob', () => {
    const m = new Uint8Array(64);
    m[at(0, 0, 0)] = m[at(1, 0, 0)] = m[at(0, 1, 0)] = 1; // size 3
    for (let x = 0; x < 4; x++) m[at(x, 3, 3)] = 1; // size 4
    m[at(3, 3, 2)] = 1; // touches the size-4 bar by a face: size 5
    const out = keepLargestComponent(m, dims, 6);
    expect(out.reduce((a, v) => a + v, 0)).toBe(5);
    expect(out[at(3, 3, 2)]).toBe(1);
    expect(out[at(0, 0, 0)]).toBe(0);
    expect(keepLargestComponent(new Uint8Array(64), dims).every((v) => v === 0)).toBe(true);
  });
});
