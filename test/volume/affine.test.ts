import { describe, expect, it } from 'vitest';
import {
  affineToQform,
  applyAffine,
  invertAffine,
  multiplyAffine,
  orientationCode,
  qformToAffine,
  quaternionToRotation,
  rotationToQuaternion,
  spacingFromAffine,
} from '../../lib/volume/affine.ts';

const close = (a: number[], b: number[], tol = 1e-9) => {
  expect(a.length).toBe(b.length);
  a.forEach((v, i) => {
    expect(Math.abs(v - b[i]), `entry ${i}: ${v} vs ${b[i]}`).toBeLessThanOrEqual(tol);
  });
};

describe('affine helpers', () => {
  const a = [0, -2, 0, 10, 3, 0, 0, -5, 0, 0, 4, 7, 0, 0, 0, 1];

  it('applies an affine to voxel indices (hand-computed)', () => {
    // x = -2 j + 10, y = 3 i - 5, z = 4 k + 7
    close(applyAffine(a, [1, 2, 3]), [6, -2, 19]);
  });

  it('inverts and multiplies', () => {
    const inv = invertAffine(a);
    close(applyAffine(inv, [6, -2, 19]), [1, 2, 3]);
    close(multiplyAffine(a, inv), [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
    // (translate by 1 in x) after a: only the x offset changes
    const t = [1, 0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
    close(multiplyAffine(t, a), [0, -2, 0, 11, 3, 0, 0, -5, 0, 0, 4, 7, 0, 0, 0, 1]);
  });

  it('measures spacing as column norms', () => {
    close(spacingFromAffine(a), [3, 2, 4]);
    const c = Math.cos(Math.PI / 6);
    const s = Math.sin(Math.PI / 6);
    close(spacingFromAffine([2 * c, -3 * s, 0, 0, 2 * s, 3 * c, 0, 0, 0, 0, 5, 0, 0, 0, 0, 1]), [2, 3, 5]);
  });

  it('names orientations like aff2axcodes', () => {
    expect(orientationCode([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1])).toBe('RAS');
    expect(orientationCode([-0.8, 0, 0, 0, 0, -0.8, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1])).toBe('LPS');
    // i along +y (A), j along -x (L), k along +z
    expect(orientationCode(a)).toBe('ALS');
    // slightly oblique: nearest axes win
    expect(orientationCode([0.99, 0.1, 0, 0, -0.1, 0.99, 0, 0, 0, 0, -1, 0, 0, 0, 0, 1])).toBe('RAI');
    // coronal slices: i = R, j = S (second voxel axis along +z), k = P
    expect(orientationCode([1, 0, 0, 0, 0, 0, -1, 0, 0, 1, 0, 0, 0, 0, 0, 1])).toBe('RSP');
  });

  it('converts quaternions to rotations (hand-computed 90° about z, 180° about x)', () => {
    const h = Math.SQRT1_2;
    close(quaternionToRotation(0, 0, h), [0, -1, 0, 1, 0, 0, 0, 0, 1], 1e-12);
    close(quaternionToRotation(1, 0, 0), [1, 0, 0, 0, -1, 0, 0, 0, -1], 1e-12);
    close(rotationToQuaternion([0, -1, 0, 1, 0, 0, 0, 0, 1]), [0, 0, h], 1e-12);
    close(rotationToQuaternion([1, 0, 0, 0, -1, 0, 0, 0, -1]), [1, 0, 0], 1e-12);
    close(rotationToQuaternion([1, 0, 0, 0, 1, 0, 0, 0, 1]), [0, 0, 0], 1e-12);
  });

  it('decomposes affines into qform fields and back, left-handed ones with qfac -1', () => {
    const c = Math.cos(0.4);
    const s = Math.sin(0.4);
    // rotation about x by 0.4 rad, zooms 0.7, 0.8, 2.5, then k flipped (left-handed)
    const lh = [0.7, 0, 0, -100, 0, 0.8 * c, 2.5 * s, 20, 0, 0.8 * s, -2.5 * c, 300, 0, 0, 0, 1];
    const q = affineToQform(lh);
    expect(q.qfac).toBe(-1);
    close(q.zooms, [0.7, 0.8, 2.5], 1e-12);
    close(q.offset, [-100, 20, 300]);
    // the rotation kept is about x by 0.4: b = sin(0.2)
    close(q.quatern, [Math.sin(0.2), 0, 0], 1e-12);
    close(qformToAffine(q), lh, 1e-12);
    const rh = [-0.8, 0, 0, 5, 0, -0.8, 0, 6, 0, 0, 2, 7, 0, 0, 0, 1]; // LPS: 180° about z
    const q2 = affineToQform(rh);
    expect(q2.qfac).toBe(1);
    close(q2.quatern, [0, 0, 1], 1e-12);
    close(qformToAffine(q2), rh, 1e-12);
  });
});
