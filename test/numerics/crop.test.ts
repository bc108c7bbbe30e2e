import { describe, expect, it } from 'vitest';
import {
  boundingBox,
  cropArray,
  cropVolume,
  expandBox,
  padVolume,
  pasteInto,
} from '../../lib/preprocess/crop.ts';
import { applyAffine } from '../../lib/volume/affine.ts';
import { type Affine, createVolume, type Vec3 } from '../../lib/volume/volume.ts';

const dims: Vec3 = [10, 10, 10];
const at = (x: number, y: number, z: number) => x + 10 * (y + 10 * z);

describe('boundingBox', () => {
  const mask = new Uint8Array(1000);
  mask[at(2, 3, 4)] = 1;
  mask[at(5, 1, 6)] = 2;

  it('finds the tight box (end exclusive)', () => {
    expect(boundingBox(mask, dims)).toEqual({ start: [2, 1, 4], end: [6, 4, 7] });
  });

  it('adds a margin on every side, clamped to the volume', () => {
    expect(boundingBox(mask, dims, 1)).toEqual({ start: [1, 0, 3], end: [7, 5, 8] });
    expect(boundingBox(mask, dims, 10)).toEqual({ start: [0, 0, 0], end: [10, 10, 10] });
    expect(boundingBox(mask, dims, [0, 2, 4])).toEqual({ start: [2, 0, 0], end: [6, 6, 10] });
  });

  it('uses the predicate and returns null when nothing matches', () => {
    expect(boundingBox(mask, dims, 0, (v) => v === 2)).toEqual({ start: [5, 1, 6], end: [6, 2, 7] });
    expect(boundingBox(mask, dims, 0, (v) => v === 3)).toBeNull();
    expect(boundingBox(new Uint8Array(1000), dims)).toBeNull();
  });

  it('expandBox clamps', () => {
    expect(expandBox({ start: [1, 1, 1], end: [2, 2, 2] }, 3, [4, 5, 6])).toEqual({
      start: [0, 0, 0],
      end: [4, 5, 5],
    });
  });
});

describe('crop, pad, paste', () => {
  const data = new Int16Array(1000).map((_, i) => i);
  const affine: Affine = [0, 0, 2.5, 10, -0.7, 0, 0, 20, 0, 0.7, 0, -5, 0, 0, 0, 1];
  const vol = createVolume(data, dims, [0.7, 0.7, 2.5], affine);
  const box = { start: [2, 1, 4] as Vec3, end: [6, 4, 7] as Vec3 };

  it('cropArray copies the box voxels', () => {
    const c = cropArray(data, dims, box);
    expect(c).toBeInstanceOf(Int16Array);
    expect(c.length).toBe(4 * 3 * 3);
    let i = 0;
    for (let z = 4; z < 7; z++)
      for (let y = 1; y < 4; y++) for (let x = 2; x < 6; x++) expect(c[i++]).toBe(at(x, y, z));
  });

  it('cropVolume shifts the affine so voxels keep their world position', () => {
    const c = cropVolume(vol, box);
    expect(c.dims).toEqual([4, 3, 3]);
    const p = applyAffine(c.affine, [1, 2, 0]);
    const q = applyAffine(affine, [3, 3, 4]);
    for (let a = 0; a < 3; a++) expect(p[a]).toBeCloseTo(q[a], 12);
    expect(c.data[1 + 4 * 2]).toBe(at(3, 3, 4));
  });

  it('rejects a box outside the volume', () => {
    expect(() => cropArray(data, dims, { start: [0, 0, 0], end: [11, 1, 1] })).toThrow(/does not fit/);
  });

  it('padVolume surrounds with the value and keeps world positions; crop undoes it', () => {
    const p = padVolume(vol, [1, 2, 0], [3, 0, 1], -1024);
    expect(p.dims).toEqual([14, 12, 11]);
    expect(p.data[0]).toBe(-1024);
    const w = applyAffine(p.affine, [1, 2, 0]);
    const w0 = applyAffine(affine, [0, 0, 0]);
    for (let a = 0; a < 3; a++) expect(w[a]).toBeCloseTo(w0[a], 12);
    const back = cropVolume(p, { start: [1, 2, 0], end: [11, 12, 10] });
    expect(Array.from(back.data)).toEqual(Array.from(data));
    for (let a = 0; a < 16; a++) expect(back.affine[a]).toBeCloseTo(affine[a], 12);
  });

  it('pasteInto writes the patch at the box and nothing else', () => {
    const target = new Int16Array(1000);
    pasteInto(target, dims, cropArray(data, dims, box), box);
    for (let z = 0; z < 10; z++)
      for (let y = 0; y < 10; y++)
        for (let x = 0; x < 10; x++) {
          const inside = x >= 2 && x < 6 && y >= 1 && y < 4 && z >= 4 && z < 7;
          expect(target[at(x, y, z)]).toBe(inside ? at(x, y, z) : 0);
        }
    const u8 = new Uint8Array(1000);
    pasteInto(u8, dims, new Float32Array(36).fill(1), box); // other array type: converted
    expect(u8.reduce((s, v) => s + v, 0)).toBe(36);
    expect(() => pasteInto(u8, dims, new Uint8Array(5), box)).toThrow(/patch/);
  });
});
