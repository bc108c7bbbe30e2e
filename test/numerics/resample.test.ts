import { describe, expect, it } from 'vitest';
import { resample3D, resampleToShape, resampleToSpacing } from '../../lib/preprocess/resample.ts';
import { applyAffine } from '../../lib/volume/affine.ts';
import { type Affine, createVolume, type Vec3 } from '../../lib/volume/volume.ts';

function ramp(dims: Vec3, f: (x: number, y: number, z: number) => number): Float32Array {
  const out = new Float32Array(dims[0] * dims[1] * dims[2]);
  let i = 0;
  for (let z = 0; z < dims[2]; z++)
    for (let y = 0; y < dims[1]; y++) for (let x = 0; x < dims[0]; x++) out[i++] = f(x, y, z);
  return out;
}

describe('resample3D', () => {
  it('linear, 1D hand cases (voxel-centre convention, clamped at the edges)', () => {
    // 2 -> 4: centres map to -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1).
    expect(Array.from(resample3D(new Float32Array([0, 10]), [2, 1, 1], [4, 1, 1], 'linear'))).toEqual([
      0, 2.5, 7.5, 10,
    ]);
    // 4 -> 2: centres map to 0.5 and 2.5.
    expect(Array.from(resample3D(new Float32Array([0, 10, 20, 30]), [1, 4, 1], [1, 2, 1], 'linear'))).toEqual(
      [5, 25],
    );
    // 3 -> 3 along z is the identity.
    expect(Array.from(resample3D(new Int16Array([4, -2, 9]), [1, 1, 3], [1, 1, 3], 'linear'))).toEqual([
      4, -2, 9,
    ]);
  });

  it('nearest, 1D hand cases', () => {
    // 4 -> 2 picks floor((o + 0.5) * 2) = 1, 3; 2 -> 4 picks floor((o + 0.5) / 2) = 0, 0, 1, 1.
    expect(Array.from(resample3D(new Uint8Array([1, 2, 3, 4]), [4, 1, 1], [2, 1, 1], 'nearest'))).toEqual([
      2, 4,
    ]);
    expect(Array.from(resample3D(new Uint8Array([5, 9]), [1, 1, 2], [1, 1, 4], 'nearest'))).toEqual([
      5, 5, 9, 9,
    ]);
    // 3 -> 2: r = 1.5, floor(0.75) = 0, floor(2.25) = 2.
    expect(Array.from(resample3D(new Uint8Array([1, 2, 3]), [1, 3, 1], [1, 2, 1], 'nearest'))).toEqual([
      1, 3,
    ]);
  });

  it('trilinear reproduces a linear function exactly (up and down, all axes at once)', () => {
    const f = (x: number, y: number, z: number) => 3 * x - 2 * y + 0.5 * z + 7;
    const src: Vec3 = [9, 7, 5];
    const data = ramp(src, f);
    for (const dst of [
      [17, 4, 11],
      [4, 13, 3],
      [9, 7, 8],
    ] as Vec3[]) {
      const out = resample3D(data, src, dst, 'linear');
      const c = (o: number, a: number) =>
        Math.min(src[a] - 1, Math.max(0, ((o + 0.5) * src[a]) / dst[a] - 0.5));
      let i = 0;
      for (let z = 0; z < dst[2]; z++)
        for (let y = 0; y < dst[1]; y++)
          for (let x = 0; x < dst[0]; x++) expect(out[i++]).toBeCloseTo(f(c(x, 0), c(y, 1), c(z, 2)), 4);
    }
  });

  it('nearest never creates new label values and rounds into integer outputs for linear', () => {
    const labels = new Uint8Array(6 * 6 * 6);
    for (let i = 0; i < labels.length; i++) labels[i] = [0, 1, 2, 7][(i * 7919) % 4];
    const out = resample3D(labels, [6, 6, 6], [11, 4, 9], 'nearest');
    expect(out).toBeInstanceOf(Uint8Array);
    const seen = new Set(out);
    for (const v of seen) expect([0, 1, 2, 7]).toContain(v);
    expect(seen.size).toBe(4);
    const into = new Int16Array(4);
    resample3D(new Int16Array([0, 3]), [2, 1, 1], [4, 1, 1], 'linear', into);
    expect(Array.from(into)).toEqual([0, 1, 2, 3]); // 0, 0.75, 2.25, 3 rounded
  });

  it('rejects bad sizes', () => {
    expect(() => resample3D(new Float32Array(5), [2, 2, 1], [1, 1, 1], 'linear')).toThrow(/voxels/);
    expect(() => resample3D(new Float32Array(4), [2, 2, 1], [0, 1, 1], 'linear')).toThrow(/positive/);
  });
});

describe('resampleToShape / resampleToSpacing', () => {
  // An oblique affine: rotation about z by 30 degrees, anisotropic spacing, an offset origin.
  const s: Vec3 = [0.8, 1.25, 3];
  const cos = Math.cos(Math.PI / 6);
  const sin = Math.sin(Math.PI / 6);
  const affine: Affine = [
    cos * s[0],
    -sin * s[1],
    0,
    -120.5,
    sin * s[0],
    cos * s[1],
    0,
    33,
    0,
    0,
    s[2],
    -400,
    0,
    0,
    0,
    1,
  ];
  const dims: Vec3 = [12, 10, 6];
  // A linear function of world position, sampled on the source grid.
  const g = (p: Vec3) => 0.3 * p[0] - 0.7 * p[1] + 0.2 * p[2];
  const vol = createVolume(
    ramp(dims, (x, y, z) => g(applyAffine(affine, [x, y, z]))),
    dims,
    s,
    affine,
  );

  it('keeps the world extent: outer voxel faces coincide', () => {
    const out = resampleToShape(vol, [5, 17, 4], 'linear');
    for (const corner of [
      [-0.5, -0.5, -0.5],
      [-0.5, 1, 0.5],
    ]) {
      const fOut = corner.map((c, a) => (c < 0 ? -0.5 : out.dims[a] - 0.5)) as Vec3;
      const fIn = corner.map((c, a) => (c < 0 ? -0.5 : dims[a] - 0.5)) as Vec3;
      const wo = applyAffine(out.affine, fOut);
      const wi = applyAffine(affine, fIn);
      for (let a = 0; a < 3; a++) expect(wo[a]).toBeCloseTo(wi[a], 9);
    }
    expect(out.spacing[0]).toBeCloseTo((0.8 * 12) / 5, 12);
    expect(out.spacing[1]).toBeCloseTo((1.25 * 10) / 17, 12);
    expect(out.spacing[2]).toBeCloseTo((3 * 6) / 4, 12);
  });

  it('a resampled world-linear function matches the function at each new voxel world position', () => {
    const dst: Vec3 = [23, 19, 11]; // upsampling: interior voxels need no clamping
    const out = resampleToShape(vol, dst, 'linear');
    let checked = 0;
    for (let z = 0; z < dst[2]; z++)
      for (let y = 0; y < dst[1]; y++)
        for (let x = 0; x < dst[0]; x++) {
          const src = [x, y, z].map((o, a) => ((o + 0.5) * dims[a]) / dst[a] - 0.5);
          if (src.some((c, a) => c < 0 || c > dims[a] - 1)) continue;
          const v = out.data[x + dst[0] * (y + dst[1] * z)];
          expect(v).toBeCloseTo(g(applyAffine(out.affine, [x, y, z])), 3);
          checked++;
        }
    expect(checked).toBeGreaterThan(3000);
  });

  it('nearest labels keep their world position when upsampling by an integer factor', () => {
    const lab = createVolume(
      new Uint8Array(2 * 2 * 2).map((_, i) => i),
      [2, 2, 2],
      s,
      affine,
    );
    const out = resampleToShape(lab, [4, 4, 4], 'nearest');
    // Output voxel (3, 0, 2) lies inside input voxel (1, 0, 1) = value 5; check positions agree too.
    expect(out.data[3 + 4 * (0 + 4 * 2)]).toBe(5);
    const wOut = applyAffine(out.affine, [3, 0, 2]);
    const wIn = applyAffine(affine, [1.25, -0.25, 0.75]);
    for (let a = 0; a < 3; a++) expect(wOut[a]).toBeCloseTo(wIn[a], 9);
  });

  it('resampleToSpacing rounds the shape and reports the actual spacing', () => {
    const v = createVolume(new Float32Array(100 * 3 * 7), [100, 3, 7], [0.7, 1, 2.5]);
    const out = resampleToSpacing(v, [1, 1, 1], 'linear');
    expect(out.dims).toEqual([70, 3, 18]); // 70, 3, round(17.5) = 18
    expect(out.spacing[0]).toBeCloseTo(1, 12);
    expect(out.spacing[2]).toBeCloseTo(17.5 / 18, 12);
  });
});
