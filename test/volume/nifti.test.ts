import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'fflate';
import * as niftiJs from 'nifti-reader-js';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../lib/errors.ts';
import { orientationCode } from '../../lib/volume/affine.ts';
import { decodeNifti, encodeNifti, readNifti, writeNifti } from '../../lib/volume/nifti.ts';
import { createVolume, DTYPE_ARRAYS, type DType, type Volume } from '../../lib/volume/volume.ts';
import { buildNifti, int16Bytes, SHARED_DATA, useTempDir } from './helpers.ts';

const near = (a: number[], b: number[], tol: number) => {
  expect(a.length).toBe(b.length);
  a.forEach((v, i) => {
    expect(Math.abs(v - b[i]), `entry ${i}: ${v} vs ${b[i]}`).toBeLessThanOrEqual(tol);
  });
};

function expectInputError(fn: () => unknown, code: string, pattern: RegExp) {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    expect((e as InputError).code).toBe(code);
    expect((e as Error).message).toMatch(pattern);
    return;
  }
  throw new Error('expected an InputError');
}

// Oblique, right-handed: rotation about z by 0.3 rad then about x by 0.2, zooms 0.7 x 0.8 x 2.5.
function obliqueAffine(leftHanded: boolean): number[] {
  const [cz, sz, cx, sx] = [Math.cos(0.3), Math.sin(0.3), Math.cos(0.2), Math.sin(0.2)];
  const rz = [cz, -sz, 0, sz, cz, 0, 0, 0, 1];
  const rx = [1, 0, 0, 0, cx, -sx, 0, sx, cx];
  const r = Array.from({ length: 9 }, (_, n) => {
    const row = Math.floor(n / 3);
    const col = n % 3;
    return rx[row * 3] * rz[col] + rx[row * 3 + 1] * rz[3 + col] + rx[row * 3 + 2] * rz[6 + col];
  });
  const zooms = [0.7, 0.8, leftHanded ? -2.5 : 2.5];
  const a: number[] = [];
  for (let row = 0; row < 3; row++) {
    for (let col = 0; col < 3; col++) a.push(r[row * 3 + col] * zooms[col]);
    a.push([-100.25, 20.5, 300][row]);
  }
  return [...a, 0, 0, 0, 1];
}

const RANGES: Record<DType, [number, number]> = {
  uint8: [0, 255],
  int8: [-128, 127],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
  float32: [-3.4e38, 3.4e38], // the float32 extremes (3.5e38 would be stored as infinity)
  float64: [-1e300, 1e300],
};

function sampleVolume(dtype: DType, affine: number[]): Volume {
  const dims: [number, number, number] = [5, 4, 3];
  const Ctor = DTYPE_ARRAYS[dtype];
  const data = new Ctor(60);
  const [lo, hi] = RANGES[dtype];
  for (let i = 0; i < 60; i++) data[i] = i === 0 ? lo : i === 1 ? hi : (i * 37) % 101;
  if (dtype.startsWith('float')) data[2] = -0.125;
  return createVolume(data, dims, [0.7, 0.8, 2.5], affine);
}

/** Patch sform_code (int16 at byte 254) of a little-endian NIfTI-1. */
function withSformCode(bytes: Uint8Array, code: number): Uint8Array {
  const copy = bytes.slice();
  new DataView(copy.buffer).setInt16(254, code, true);
  return copy;
}

describe('NIfTI round trips', () => {
  for (const dtype of Object.keys(DTYPE_ARRAYS) as DType[]) {
    for (const gzip of [false, true]) {
      it(`${dtype} ${gzip ? '.nii.gz' : '.nii'}: values, dtype, affine and spacing survive`, () => {
        const vol = sampleVolume(dtype, obliqueAffine(false));
        const bytes = encodeNifti(vol, { gzip });
        expect(bytes[0] === 0x1f && bytes[1] === 0x8b).toBe(gzip);
        const back = decodeNifti(bytes, `rt.${dtype}.nii${gzip ? '.gz' : ''}`);
        expect(back.dtype).toBe(dtype);
        expect(back.data.constructor).toBe(vol.data.constructor);
        expect(Array.from(back.data)).toEqual(Array.from(vol.data));
        // the voxels own their whole buffer (no header bytes before them)
        expect([back.data.byteOffset, back.data.buffer.byteLength]).toEqual([0, vol.data.byteLength]);
        expect(back.dims).toEqual([5, 4, 3]);
        near(back.affine, vol.affine, 1e-4);
        near(back.spacing, [0.7, 0.8, 2.5], 1e-6);
      });
    }
  }

  for (const leftHanded of [false, true]) {
    it(`the qform alone reproduces an oblique ${leftHanded ? 'left' : 'right'}-handed affine`, () => {
      const affine = obliqueAffine(leftHanded);
      const bytes = encodeNifti(sampleVolume('int16', affine));
      // Independent reader: nifti-reader-js's own qform-to-matrix conversion.
      const hdr = niftiJs.readHeader(bytes.slice().buffer) as niftiJs.NIFTI1;
      expect(hdr.qform_code).toBe(1);
      expect(hdr.sform_code).toBe(1);
      expect(hdr.pixDims[0]).toBe(leftHanded ? -1 : 1);
      near(hdr.getQformMat().flat(), affine, 1e-4);
      near(hdr.affine.flat(), affine, 1e-4);
      expect(hdr.xyzt_units & 7).toBe(2); // mm
      // Our reader with the sform switched off falls back to the qform.
      const back = decodeNifti(withSformCode(bytes, 0), 'q.nii');
      near(back.affine, affine, 1e-4);
      expect(orientationCode(back.affine)).toBe(orientationCode(affine));
    });
  }
});

describe('NIfTI geometry rules', () => {
  const data = int16Bytes([0, 1, 2, 3, 4, 5, 6, 7], true);
  const base = { dim: [3, 2, 2, 2], datatype: 4, bitpix: 16, data };
  const srow = [0.5, 0, 0, 1, 0, 0.6, 0, 2, 0, 0, 0.7, 3];
  const h = Math.SQRT1_2;
  // qform: 90° about z (b=c=0, d=sin 45°), zooms 2,3,4, qfac -1, offset 10,20,30 (hand-computed below)
  const qform = { quatern: [0, 0, h], qoffset: [10, 20, 30], pixdim: [-1, 2, 3, 4] };
  const qAffine = [0, -3, 0, 10, 2, 0, 0, 20, 0, 0, -4, 30, 0, 0, 0, 1];

  it('prefers the sform when sform_code > 0', () => {
    const v = decodeNifti(buildNifti({ ...base, ...qform, srow, sformCode: 2, qformCode: 1 }), 's.nii');
    near(v.affine, [...srow, 0, 0, 0, 1], 1e-6);
    near(v.spacing, [0.5, 0.6, 0.7], 1e-6);
  });

  it('uses the qform when only qform_code > 0', () => {
    const v = decodeNifti(buildNifti({ ...base, ...qform, srow, sformCode: 0, qformCode: 1 }), 'q.nii');
    near(v.affine, qAffine, 1e-6);
    expect(v.spacing).toEqual([2, 3, 4]);
    expect(orientationCode(v.affine)).toBe('ALI');
  });

  it('ignores a degenerate sform (all zeros) in favour of the qform', () => {
    const zeros = new Array(12).fill(0);
    const v = decodeNifti(
      buildNifti({ ...base, ...qform, srow: zeros, sformCode: 1, qformCode: 1 }),
      'z.nii',
    );
    near(v.affine, qAffine, 1e-6);
  });

  it('falls back to pixdim when both codes are 0', () => {
    const v = decodeNifti(buildNifti({ ...base, ...qform, srow }), 'p.nii');
    expect(v.affine).toEqual([2, 0, 0, 0, 0, 3, 0, 0, 0, 0, 4, 0, 0, 0, 0, 1]);
  });

  it('reads big-endian files', () => {
    const values = [1, -2, 300, -32768, 32767, 0, 7, -7, 256, -256, 12, 13];
    const bytes = buildNifti({
      littleEndian: false,
      dim: [3, 3, 2, 2],
      datatype: 4,
      bitpix: 16,
      sformCode: 1,
      srow,
      data: int16Bytes(values, false),
    });
    expect([bytes[0], bytes[3]]).toEqual([0, 0x5c]); // sizeof_hdr 348 stored big-endian
    const v = decodeNifti(bytes, 'be.nii');
    expect(v.data).toBeInstanceOf(Int16Array);
    expect(Array.from(v.data)).toEqual(values);
    near(v.affine, [...srow, 0, 0, 0, 1], 1e-6);
    // big-endian float32 with scaling
    const f = new Uint8Array(8);
    new DataView(f.buffer).setFloat32(0, 1.5, false);
    new DataView(f.buffer).setFloat32(4, -2.25, false);
    const fv = decodeNifti(
      buildNifti({
        littleEndian: false,
        dim: [3, 2, 1, 1],
        datatype: 16,
        bitpix: 32,
        sclSlope: 2,
        sclInter: 1,
        data: f,
      }),
      'bef.nii',
    );
    expect(Array.from(fv.data)).toEqual([4, -3.5]);
  });

  for (const littleEndian of [true, false]) {
    it(`reads NIfTI-2 (${littleEndian ? 'little' : 'big'}-endian)`, () => {
      const vals = [0.5, -1.25, 1e10, 3];
      const raw = new Uint8Array(32);
      vals.forEach((x, i) => {
        new DataView(raw.buffer).setFloat64(8 * i, x, littleEndian);
      });
      const bytes = buildNifti({
        version: 2,
        littleEndian,
        dim: [4, 2, 1, 2, 1],
        datatype: 64,
        bitpix: 64,
        sformCode: 1,
        srow: [-1.5, 0, 0, 4, 0, -1.5, 0, 5, 0, 0, 3, 6],
        data: raw,
      });
      const v = decodeNifti(gzipSync(bytes), 'n2.nii.gz');
      expect(v.data).toBeInstanceOf(Float64Array);
      expect(Array.from(v.data)).toEqual(vals);
      expect(v.dims).toEqual([2, 1, 2]);
      expect(v.affine).toEqual([-1.5, 0, 0, 4, 0, -1.5, 0, 5, 0, 0, 3, 6, 0, 0, 0, 1]);
      expect(orientationCode(v.affine)).toBe('LPS');
    });
  }

  it('applies scl_slope / scl_inter, keeping integers when scaling is the identity', () => {
    const scaled = decodeNifti(buildNifti({ ...base, sclSlope: 2, sclInter: -1024 }), 'sc.nii');
    expect(scaled.data).toBeInstanceOf(Float32Array);
    expect(scaled.dtype).toBe('int16');
    expect(Array.from(scaled.data)).toEqual([-1024, -1022, -1020, -1018, -1016, -1014, -1012, -1010]);
    const half = decodeNifti(buildNifti({ ...base, sclSlope: 0.5, sclInter: 0 }), 'h.nii');
    expect(Array.from(half.data)).toEqual([0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5]);
    for (const [slope, inter] of [
      [0, 0],
      [1, 0],
      [0, 5],
    ]) {
      const v = decodeNifti(buildNifti({ ...base, sclSlope: slope, sclInter: inter }), 'id.nii');
      expect(v.data).toBeInstanceOf(Int16Array);
      expect(Array.from(v.data)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    }
  });

  it('decodes from a Node Buffer at an odd byte offset', () => {
    const bytes = buildNifti(base);
    const padded = Buffer.alloc(bytes.length + 1);
    padded.set(bytes, 1);
    const v = decodeNifti(padded.subarray(1), 'odd.nii');
    expect(Array.from(v.data)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    padded[1 + 352] = 9; // the volume does not alias the input
    expect(v.data[0]).toBe(0);
  });

  it('treats 4D with one time point as 3D and refuses longer series', () => {
    const v = decodeNifti(buildNifti({ ...base, dim: [4, 2, 2, 2, 1] }), 't1.nii');
    expect(v.dims).toEqual([2, 2, 2]);
    expectInputError(
      () => decodeNifti(buildNifti({ ...base, dim: [4, 2, 2, 1, 2] }), 't2.nii'),
      'UNSUPPORTED',
      /t2\.nii: .*4D.*2x2x1x2/,
    );
  });
});

describe('NIfTI bad input', () => {
  const good = buildNifti({ dim: [3, 4, 4, 4], datatype: 4, bitpix: 16, data: new Uint8Array(128) });

  it('refuses a truncated header', () => {
    expectInputError(() => decodeNifti(good.subarray(0, 200), 'cut.nii'), 'TRUNCATED', /^cut\.nii: .*header/);
    expectInputError(() => decodeNifti(good.subarray(0, 2), 'tiny.nii'), 'TRUNCATED', /tiny\.nii/);
  });

  it('refuses truncated data, also inside a gzip stream', () => {
    expectInputError(() => decodeNifti(good.subarray(0, good.length - 10), 'short.nii'), 'TRUNCATED', /118/);
    const gz = gzipSync(good);
    expectInputError(
      () => decodeNifti(gz.subarray(0, gz.length - 20), 'cut.nii.gz'),
      'TRUNCATED',
      /cut\.nii\.gz/,
    );
  });

  it('refuses a wrong magic and a bad sizeof_hdr', () => {
    const bad = good.slice();
    bad.set([0x61, 0x62, 0x63], 344);
    expectInputError(
      () => decodeNifti(bad, 'magic.nii'),
      'BAD_MAGIC',
      /magic\.nii: wrong NIfTI-1 magic "abc"/,
    );
    const size = good.slice();
    new DataView(size.buffer).setInt32(0, 349, true);
    expectInputError(() => decodeNifti(size, 'size.nii'), 'BAD_HEADER', /sizeof_hdr is 349/);
    const text = new TextEncoder().encode('this is a text file, not a volume '.repeat(20));
    expectInputError(() => decodeNifti(text, 'notes.nii'), 'BAD_MAGIC', /not a NIfTI file/);
  });

  it('refuses dims that do not match the file size', () => {
    const extra = new Uint8Array(good.length + 64);
    extra.set(good);
    expectInputError(
      () => decodeNifti(extra, 'long.nii'),
      'SIZE_MISMATCH',
      /4x4x4.*do not match the file size/,
    );
  });

  it('refuses absurd dims and unsupported datatypes', () => {
    const mk = (dim: number[], datatype = 4, bitpix = 16) =>
      buildNifti({ dim, datatype, bitpix, data: new Uint8Array(0) });
    expectInputError(() => decodeNifti(mk([3, 4, 0, 4]), 'zero.nii'), 'BAD_HEADER', /absurd dims 4x0x4/);
    expectInputError(() => decodeNifti(mk([3, 4, -3, 4]), 'neg.nii'), 'BAD_HEADER', /absurd dims/);
    expectInputError(() => decodeNifti(mk([9, 4, 4, 4]), 'ndim.nii'), 'BAD_HEADER', /dim\[0\] is 9/);
    expectInputError(
      () => decodeNifti(mk([3, 30000, 30000, 30000]), 'huge.nii'),
      'TOO_LARGE',
      /30000x30000x30000/,
    );
    expectInputError(
      () => decodeNifti(mk([3, 4, 4, 4], 32, 64), 'cplx.nii'),
      'UNSUPPORTED',
      /datatype 32 \(complex64\)/,
    );
    expectInputError(() => decodeNifti(mk([3, 4, 4, 4], 4, 8), 'bitpix.nii'), 'BAD_HEADER', /bitpix 8/);
  });

  it('reads a gzip header first: zeros, dims beyond the cap (option and environment variable) and data past the header', () => {
    // 8 MiB of zeros: not a NIfTI, found from the first bytes without inflating the rest
    const zeros = gzipSync(new Uint8Array(8 * 1024 * 1024));
    expect(zeros.length).toBeLessThan(64 * 1024);
    expectInputError(() => decodeNifti(zeros, 'zeros.nii.gz'), 'BAD_MAGIC', /zeros/);
    // a header whose dims need 2 MiB of int16, against caps of 1 MiB (option) and 1.5 MiB (environment)
    const big = gzipSync(
      buildNifti({ dim: [3, 1024, 1024, 1], datatype: 4, bitpix: 16, data: new Uint8Array(0) }),
    );
    expectInputError(
      () => decodeNifti(big, 'big.nii.gz', { maxDecompressedBytes: 1024 * 1024 }),
      'TOO_LARGE',
      /big\.nii\.gz: absurd dims 1024x1024x1: 2 MiB .* cap of 1 MiB/,
    );
    process.env.RAUNET_MAX_DECOMPRESSED_BYTES = String(1.5 * 1024 * 1024);
    try {
      expectInputError(() => decodeNifti(big, 'big2.nii.gz'), 'TOO_LARGE', /1\.5 MiB/);
    } finally {
      delete process.env.RAUNET_MAX_DECOMPRESSED_BYTES;
    }
    // a valid 4x4x4 header followed by 8 MiB: inflation stops one byte past what the header describes
    const bomb = gzipSync(
      buildNifti({ dim: [3, 4, 4, 4], datatype: 2, bitpix: 8, data: new Uint8Array(8 * 1024 * 1024) }),
    );
    expectInputError(
      () => decodeNifti(bomb, 'bomb.nii.gz'),
      'SIZE_MISMATCH',
      /bomb\.nii\.gz: .*stopped inflating/,
    );
  });
});

describe('NIfTI files on disk', () => {
  const tmp = useTempDir('raunet-nifti-');

  it('writes atomically, gzip by extension, and reads back', async () => {
    const vol = sampleVolume('int16', obliqueAffine(true));
    await writeNifti(join(tmp(), 'a.nii.gz'), vol);
    await writeNifti(join(tmp(), 'a.nii'), vol);
    expect(await readdir(tmp())).toEqual(['a.nii', 'a.nii.gz']);
    const gz = await readFile(join(tmp(), 'a.nii.gz'));
    expect(gz[0]).toBe(0x1f);
    for (const f of ['a.nii', 'a.nii.gz']) {
      const back = await readNifti(join(tmp(), f));
      expect(Array.from(back.data)).toEqual(Array.from(vol.data));
      expect([back.data.byteOffset, back.data.buffer.byteLength]).toEqual([0, vol.data.byteLength]);
      near(back.affine, vol.affine, 1e-4);
    }
  });

  it('leaves the existing file in place when a write fails', async () => {
    const target = join(tmp(), 'keep.nii');
    await writeFile(target, 'old');
    const bad = {
      ...sampleVolume('int16', obliqueAffine(false)),
      dims: [5, 4, 4] as [number, number, number],
    };
    await expect(writeNifti(target, bad)).rejects.toThrow(/voxels/);
    expect(await readFile(target, 'utf8')).toBe('old');
    await expect(writeNifti(join(tmp(), 'x.img'), bad)).rejects.toThrow(InputError);
    expect((await readdir(tmp())).filter((f) => f.includes('.tmp'))).toEqual([]);
  });

  it('reports a missing file as NOT_FOUND', async () => {
    await expect(readNifti(join(tmp(), 'nope.nii'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('reads the real example CT: 122x101x112, 3 mm, RAS, int32, -1207..3382', async () => {
    const v = await readNifti(join(SHARED_DATA, 'ct/example_ct.nii.gz'));
    expect(v.dims).toEqual([122, 101, 112]);
    expect(v.spacing).toEqual([3, 3, 3]);
    expect(v.dtype).toBe('int32');
    expect(v.data).toBeInstanceOf(Int32Array);
    expect(orientationCode(v.affine)).toBe('RAS');
    let min = Infinity;
    let max = -Infinity;
    for (const x of v.data) {
      if (x < min) min = x;
      if (x > max) max = x;
    }
    expect([min, max]).toEqual([-1207, 3382]);
  });
});
