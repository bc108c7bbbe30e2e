/**
 * NIfTI-1 and NIfTI-2 headers: parsing (either byte order) and encoding (NIfTI-1, little-endian).
 * Field offsets follow the published nifti1.h / nifti2.h layouts.
 */
import { InputError } from '../errors.ts';
import type { DType } from './volume.ts';

export const NIFTI1_HEADER_SIZE = 348;
export const NIFTI2_HEADER_SIZE = 540;
/** Header plus the 4-byte extension flag: where the voxels of a single-file NIfTI-1 written by us start. */
export const NIFTI1_VOX_OFFSET = 352;

/** NIfTI datatype codes of the voxel types we read and write. */
export const NIFTI_DATATYPES: Record<DType, { code: number; bytes: number }> = {
  uint8: { code: 2, bytes: 1 },
  int16: { code: 4, bytes: 2 },
  int32: { code: 8, bytes: 4 },
  float32: { code: 16, bytes: 4 },
  float64: { code: 64, bytes: 8 },
  int8: { code: 256, bytes: 1 },
  uint16: { code: 512, bytes: 2 },
  uint32: { code: 768, bytes: 4 },
};

const OTHER_DATATYPES: Record<number, string> = {
  1: 'binary (1 bit)',
  32: 'complex64',
  128: 'rgb24',
  1024: 'int64',
  1280: 'uint64',
  1536: 'float128',
  1792: 'complex128',
  2048: 'complex256',
  2304: 'rgba32',
};

export function dtypeFromCode(code: number, file: string): DType {
  for (const [name, t] of Object.entries(NIFTI_DATATYPES)) if (t.code === code) return name as DType;
  const known = OTHER_DATATYPES[code];
  throw new InputError(
    `unsupported NIfTI datatype ${code}${known ? ` (${known})` : ''}; supported: ${Object.keys(NIFTI_DATATYPES).join(', ')}`,
    'UNSUPPORTED',
    file,
  );
}

export interface NiftiHeader {
  version: 1 | 2;
  littleEndian: boolean;
  /** dim[0..7]: dim[0] is the number of dimensions in use. */
  dim: number[];
  datatype: number;
  bitpix: number;
  /** pixdim[0..7]: pixdim[0] is qfac. */
  pixdim: number[];
  voxOffset: number;
  sclSlope: number;
  sclInter: number;
  qformCode: number;
  sformCode: number;
  /** quatern_b, quatern_c, quatern_d */
  quatern: [number, number, number];
  qoffset: [number, number, number];
  /** srow_x, srow_y, srow_z (12 numbers). */
  srow: number[];
  xyztUnits: number;
  descrip: string;
  /** Size of the header proper (348 or 540). */
  headerSize: number;
}

function readString(bytes: Uint8Array, offset: number, length: number): string {
  let end = offset;
  while (end < offset + length && bytes[end] !== 0) end++;
  return String.fromCharCode(...bytes.subarray(offset, end));
}

/** Parse the header at the start of `bytes` (already decompressed). Throws InputError naming `file`. */
export function parseNiftiHeader(bytes: Uint8Array, file: string): NiftiHeader {
  if (bytes.length < 4) {
    throw new InputError(`truncated NIfTI header: file has ${bytes.length} bytes`, 'TRUNCATED', file);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = view.getInt32(0, true);
  const be = view.getInt32(0, false);
  let version: 1 | 2;
  let littleEndian: boolean;
  if (le === NIFTI1_HEADER_SIZE || be === NIFTI1_HEADER_SIZE) {
    version = 1;
    littleEndian = le === NIFTI1_HEADER_SIZE;
  } else if (le === NIFTI2_HEADER_SIZE || be === NIFTI2_HEADER_SIZE) {
    version = 2;
    littleEndian = le === NIFTI2_HEADER_SIZE;
  } else {
    const magic = bytes.length >= 348 ? readString(bytes, 344, 4) : '';
    if (magic === 'n+1' || magic === 'ni1') {
      throw new InputError(`bad NIfTI header: sizeof_hdr is ${le}, expected 348`, 'BAD_HEADER', file);
    }
    throw new InputError(
      `not a NIfTI file: sizeof_hdr is ${le} (expected 348 or 540) and there is no NIfTI magic`,
      'BAD_MAGIC',
      file,
    );
  }
  const size = version === 1 ? NIFTI1_HEADER_SIZE : NIFTI2_HEADER_SIZE;
  if (bytes.length < size) {
    throw new InputError(
      `truncated NIfTI-${version} header: file has ${bytes.length} bytes, the header needs ${size}`,
      'TRUNCATED',
      file,
    );
  }
  return version === 1 ? parse1(bytes, view, littleEndian, file) : parse2(bytes, view, littleEndian, file);
}

function parse1(bytes: Uint8Array, view: DataView, le: boolean, file: string): NiftiHeader {
  const magic = readString(bytes, 344, 4);
  if (magic === 'ni1') {
    throw new InputError(
      'two-file NIfTI (.hdr/.img, magic "ni1") is not supported; convert it to a single .nii',
      'UNSUPPORTED',
      file,
    );
  }
  if (magic !== 'n+1') {
    throw new InputError(`wrong NIfTI-1 magic ${JSON.stringify(magic)} (expected "n+1")`, 'BAD_MAGIC', file);
  }
  const i16 = (o: number) => view.getInt16(o, le);
  const f32 = (o: number) => view.getFloat32(o, le);
  const dim = Array.from({ length: 8 }, (_, n) => i16(40 + 2 * n));
  const pixdim = Array.from({ length: 8 }, (_, n) => f32(76 + 4 * n));
  return {
    version: 1,
    littleEndian: le,
    dim,
    datatype: i16(70),
    bitpix: i16(72),
    pixdim,
    voxOffset: f32(108),
    sclSlope: f32(112),
    sclInter: f32(116),
    xyztUnits: bytes[123],
    descrip: readString(bytes, 148, 80),
    qformCode: i16(252),
    sformCode: i16(254),
    quatern: [f32(256), f32(260), f32(264)],
    qoffset: [f32(268), f32(272), f32(276)],
    srow: Array.from({ length: 12 }, (_, n) => f32(280 + 4 * n)),
    headerSize: NIFTI1_HEADER_SIZE,
  };
}

function parse2(bytes: Uint8Array, view: DataView, le: boolean, file: string): NiftiHeader {
  const magic = readString(bytes, 4, 4);
  if (magic === 'ni2') {
    throw new InputError(
      'two-file NIfTI-2 (.hdr/.img, magic "ni2") is not supported; convert it to a single .nii',
      'UNSUPPORTED',
      file,
    );
  }
  if (magic !== 'n+2') {
    throw new InputError(`wrong NIfTI-2 magic ${JSON.stringify(magic)} (expected "n+2")`, 'BAD_MAGIC', file);
  }
  const i64 = (o: number) => {
    const v = view.getBigInt64(o, le);
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(-Number.MAX_SAFE_INTEGER)) {
      throw new InputError(`absurd NIfTI-2 header value ${v} at byte ${o}`, 'BAD_HEADER', file);
    }
    return Number(v);
  };
  const f64 = (o: number) => view.getFloat64(o, le);
  const i32 = (o: number) => view.getInt32(o, le);
  return {
    version: 2,
    littleEndian: le,
    datatype: view.getInt16(12, le),
    bitpix: view.getInt16(14, le),
    dim: Array.from({ length: 8 }, (_, n) => i64(16 + 8 * n)),
    pixdim: Array.from({ length: 8 }, (_, n) => f64(104 + 8 * n)),
    voxOffset: i64(168),
    sclSlope: f64(176),
    sclInter: f64(184),
    descrip: readString(bytes, 240, 80),
    qformCode: i32(344),
    sformCode: i32(348),
    quatern: [f64(352), f64(360), f64(368)],
    qoffset: [f64(376), f64(384), f64(392)],
    srow: Array.from({ length: 12 }, (_, n) => f64(400 + 8 * n)),
    xyztUnits: i32(500),
    headerSize: NIFTI2_HEADER_SIZE,
  };
}

export interface Nifti1Fields {
  dims: [number, number, number];
  dtype: DType;
  pixdim: number[];
  qformCode: number;
  sformCode: number;
  quatern: [number, number, number];
  qoffset: [number, number, number];
  srow: number[];
  sclSlope?: number;
  sclInter?: number;
  description?: string;
}

/** A little-endian NIfTI-1 header plus the empty extension flag (352 bytes): voxels follow directly. */
export function encodeNifti1Header(f: Nifti1Fields): Uint8Array {
  const out = new Uint8Array(NIFTI1_VOX_OFFSET);
  const view = new DataView(out.buffer);
  const t = NIFTI_DATATYPES[f.dtype];
  view.setInt32(0, NIFTI1_HEADER_SIZE, true);
  out[39] = 0; // dim_info
  const dim = [3, f.dims[0], f.dims[1], f.dims[2], 1, 1, 1, 1];
  dim.forEach((v, n) => {
    view.setInt16(40 + 2 * n, v, true);
  });
  view.setInt16(70, t.code, true);
  view.setInt16(72, t.bytes * 8, true);
  for (let n = 0; n < 8; n++) view.setFloat32(76 + 4 * n, f.pixdim[n] ?? 0, true);
  view.setFloat32(108, NIFTI1_VOX_OFFSET, true);
  view.setFloat32(112, f.sclSlope ?? 1, true);
  view.setFloat32(116, f.sclInter ?? 0, true);
  out[123] = 2; // xyzt_units: spatial unit mm, no time unit
  const descrip = (f.description ?? '').slice(0, 79);
  for (let n = 0; n < descrip.length; n++) out[148 + n] = descrip.charCodeAt(n) & 0x7f;
  view.setInt16(252, f.qformCode, true);
  view.setInt16(254, f.sformCode, true);
  f.quatern.forEach((v, n) => {
    view.setFloat32(256 + 4 * n, v, true);
  });
  f.qoffset.forEach((v, n) => {
    view.setFloat32(268 + 4 * n, v, true);
  });
  f.srow.forEach((v, n) => {
    view.setFloat32(280 + 4 * n, v, true);
  });
  out.set([0x6e, 0x2b, 0x31, 0], 344); // "n+1\0"
  return out;
}
