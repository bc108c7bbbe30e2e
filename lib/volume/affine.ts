/**
 * 4x4 voxel-to-world matrices (row-major, 16 numbers, see `volume.ts`): products, inverses, voxel
 * spacing, orientation codes and the quaternion form NIfTI uses for its qform.
 */
import type { Affine, Vec3 } from './volume.ts';

/** A 3x3 matrix, row-major, 9 numbers. */
export type Mat3 = number[];

export function identityAffine(): Affine {
  return [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
}

/** a · b (apply b first, then a). */
export function multiplyAffine(a: Affine, b: Affine): Affine {
  const out = new Array<number>(16).fill(0);
  for (let r = 0; r < 4; r++) {
    for (let c = 0; c < 4; c++) {
      let s = 0;
      for (let k = 0; k < 4; k++) s += a[r * 4 + k] * b[k * 4 + c];
      out[r * 4 + c] = s;
    }
  }
  return out;
}

/** The 3x3 linear part (rotation, zooms, shears) of an affine. */
export function linearPart(affine: Affine): Mat3 {
  return [affine[0], affine[1], affine[2], affine[4], affine[5], affine[6], affine[8], affine[9], affine[10]];
}

export function det3(m: Mat3): number {
  return (
    m[0] * (m[4] * m[8] - m[5] * m[7]) -
    m[1] * (m[3] * m[8] - m[5] * m[6]) +
    m[2] * (m[3] * m[7] - m[4] * m[6])
  );
}

export function invert3(m: Mat3): Mat3 {
  const d = det3(m);
  if (!Number.isFinite(d) || Math.abs(d) < 1e-300) throw new RangeError('matrix is singular');
  const inv = [
    m[4] * m[8] - m[5] * m[7],
    m[2] * m[7] - m[1] * m[8],
    m[1] * m[5] - m[2] * m[4],
    m[5] * m[6] - m[3] * m[8],
    m[0] * m[8] - m[2] * m[6],
    m[2] * m[3] - m[0] * m[5],
    m[3] * m[7] - m[4] * m[6],
    m[1] * m[6] - m[0] * m[7],
    m[0] * m[4] - m[1] * m[3],
  ];
  return inv.map((v) => v / d);
}

/** Inverse of an affine whose last row is 0 0 0 1 (world-to-voxel from voxel-to-world). */
export function invertAffine(affine: Affine): Affine {
  const inv = invert3(linearPart(affine));
  const t = [affine[3], affine[7], affine[11]];
  const out = identityAffine();
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) out[r * 4 + c] = inv[r * 3 + c];
    out[r * 4 + 3] = -(inv[r * 3] * t[0] + inv[r * 3 + 1] * t[1] + inv[r * 3 + 2] * t[2]);
  }
  return out;
}

/** World position of voxel (i, j, k) (fractional indices allowed). */
export function applyAffine(affine: Affine, ijk: readonly number[]): Vec3 {
  const [i, j, k] = ijk;
  return [
    affine[0] * i + affine[1] * j + affine[2] * k + affine[3],
    affine[4] * i + affine[5] * j + affine[6] * k + affine[7],
    affine[8] * i + affine[9] * j + affine[10] * k + affine[11],
  ];
}

/** Voxel size in mm along i, j, k: the norms of the columns of the 3x3 part. */
export function spacingFromAffine(affine: Affine): Vec3 {
  const out: Vec3 = [0, 0, 0];
  for (let c = 0; c < 3; c++) out[c] = Math.hypot(affine[c], affine[4 + c], affine[8 + c]);
  return out;
}

const AXIS_LETTERS = [
  ['R', 'L'],
  ['A', 'P'],
  ['S', 'I'],
] as const;

/**
 * Orientation code of the voxel axes in the RAS+ world, like NiBabel's `aff2axcodes`: letter n names the
 * world direction voxel axis n points to ('RAS' = i towards the right, j anterior, k superior; 'LPS' is
 * DICOM's usual layout). Oblique axes get the closest world axis; each world axis is used once.
 */
export function orientationCode(affine: Affine): string {
  const m = linearPart(affine);
  const norms = spacingFromAffine(affine);
  // Direction cosines of each voxel axis (columns), normalised.
  const cos = m.map((v, idx) => (norms[idx % 3] > 0 ? v / norms[idx % 3] : 0));
  const letters = ['?', '?', '?'];
  const usedRow = [false, false, false];
  const usedCol = [false, false, false];
  for (let n = 0; n < 3; n++) {
    let best = -1;
    let br = -1;
    let bc = -1;
    for (let r = 0; r < 3; r++) {
      if (usedRow[r]) continue;
      for (let c = 0; c < 3; c++) {
        if (usedCol[c]) continue;
        const v = Math.abs(cos[r * 3 + c]);
        if (v > best) {
          best = v;
          br = r;
          bc = c;
        }
      }
    }
    usedRow[br] = true;
    usedCol[bc] = true;
    if (best > 0) letters[bc] = AXIS_LETTERS[br][cos[br * 3 + bc] >= 0 ? 0 : 1];
  }
  return letters.join('');
}

/** Rotation matrix of the unit quaternion (a, b, c, d) with a = sqrt(1 - b² - c² - d²) (NIfTI-1 qform). */
export function quaternionToRotation(b: number, c: number, d: number): Mat3 {
  let a = 1 - (b * b + c * c + d * d);
  if (a < 1e-7) {
    // b, c, d describe a 180° turn: renormalise them and take a = 0, as the NIfTI reference code does.
    const n = Math.hypot(b, c, d) || 1;
    b /= n;
    c /= n;
    d /= n;
    a = 0;
  } else {
    a = Math.sqrt(a);
  }
  return [
    a * a + b * b - c * c - d * d,
    2 * (b * c - a * d),
    2 * (b * d + a * c),
    2 * (b * c + a * d),
    a * a + c * c - b * b - d * d,
    2 * (c * d - a * b),
    2 * (b * d - a * c),
    2 * (c * d + a * b),
    a * a + d * d - c * c - b * b,
  ];
}

/** The quaternion (b, c, d) of a proper rotation matrix, with its a >= 0 (so a is implied). */
export function rotationToQuaternion(r: Mat3): Vec3 {
  const [r00, r01, r02, r10, r11, r12, r20, r21, r22] = r;
  const trace = r00 + r11 + r22;
  let a: number;
  let b: number;
  let c: number;
  let d: number;
  // Pick the largest component first for numerical stability.
  if (trace > 0) {
    const s = 2 * Math.sqrt(1 + trace);
    a = s / 4;
    b = (r21 - r12) / s;
    c = (r02 - r20) / s;
    d = (r10 - r01) / s;
  } else if (r00 > r11 && r00 > r22) {
    const s = 2 * Math.sqrt(1 + r00 - r11 - r22);
    a = (r21 - r12) / s;
    b = s / 4;
    c = (r01 + r10) / s;
    d = (r02 + r20) / s;
  } else if (r11 > r22) {
    const s = 2 * Math.sqrt(1 + r11 - r00 - r22);
    a = (r02 - r20) / s;
    b = (r01 + r10) / s;
    c = s / 4;
    d = (r12 + r21) / s;
  } else {
    const s = 2 * Math.sqrt(1 + r22 - r00 - r11);
    a = (r10 - r01) / s;
    b = (r02 + r20) / s;
    c = (r12 + r21) / s;
    d = s / 4;
  }
  if (a < 0) {
    b = -b;
    c = -c;
    d = -d;
  }
  return [b, c, d];
}

/** Nearest orthogonal matrix (polar decomposition by Newton iteration); identity for a pure rotation. */
export function nearestOrthogonal(m: Mat3): Mat3 {
  let q = [...m];
  for (let it = 0; it < 50; it++) {
    const inv = invert3(q);
    // (Q + Q^-T) / 2
    const next = q.map((v, idx) => {
      const r = Math.floor(idx / 3);
      const c = idx % 3;
      return (v + inv[c * 3 + r]) / 2;
    });
    const delta = next.reduce((s, v, idx) => Math.max(s, Math.abs(v - q[idx])), 0);
    q = next;
    if (delta < 1e-15) break;
  }
  return q;
}

/** The qform fields of NIfTI-1 that describe an affine (exact for rotations with zooms, nearest otherwise). */
export interface Qform {
  quatern: Vec3;
  offset: Vec3;
  /** pixdim[1..3] */
  zooms: Vec3;
  /** pixdim[0]: -1 when the voxel axes are left-handed in the world, else 1. */
  qfac: 1 | -1;
}

export function affineToQform(affine: Affine): Qform {
  const zooms = spacingFromAffine(affine);
  const m = linearPart(affine);
  const safe = zooms.map((z) => (z > 0 ? z : 1));
  const r = m.map((v, idx) => v / safe[idx % 3]);
  const qfac: 1 | -1 = det3(r) < 0 ? -1 : 1;
  if (qfac < 0) for (let row = 0; row < 3; row++) r[row * 3 + 2] = -r[row * 3 + 2];
  let rot: Mat3;
  try {
    rot = nearestOrthogonal(r);
  } catch {
    rot = [1, 0, 0, 0, 1, 0, 0, 0, 1];
  }
  return {
    quatern: rotationToQuaternion(rot),
    offset: [affine[3], affine[7], affine[11]],
    zooms: zooms.map((z) => (z > 0 ? z : 1)) as Vec3,
    qfac,
  };
}

export function qformToAffine(q: Qform): Affine {
  const r = quaternionToRotation(q.quatern[0], q.quatern[1], q.quatern[2]);
  const z = [q.zooms[0], q.zooms[1], q.zooms[2] * q.qfac];
  const out = identityAffine();
  for (let row = 0; row < 3; row++) {
    for (let c = 0; c < 3; c++) out[row * 4 + c] = r[row * 3 + c] * z[c];
    out[row * 4 + 3] = q.offset[row];
  }
  return out;
}
