/**
 * NRRD (`.nrrd`, detached `.nhdr`) and MetaImage (`.mha`, detached `.mhd`) input, as 3D Slicer and ITK
 * save scans: a small reader of the text header and the raw / gzip (NRRD) or zlib (MetaImage) voxel data.
 *
 * - 3D scalar images; voxels are stored first axis fastest, as `Volume` keeps them.
 * - Geometry: NRRD `space directions` + `space origin` in `space` (RAS, LPS or LAS; `spacings` alone gives
 *   a diagonal); MetaImage `TransformMatrix` (one direction per axis, ITK's order), `ElementSpacing` and
 *   `Offset` (LPS, ITK's frame). Converted to the RAS affine of `Volume`.
 * - The same checks as NIfTI: dims >= 1, voxel bytes exactly dims x type, non-degenerate geometry,
 *   decompression capped.
 */
import { inflateSync } from 'node:zlib';
import { InputError } from '../errors.ts';
import { decompressionCap, gunzipBounded, type ReadOptions, tooLarge } from './decompress.ts';
import type { Affine, DType, Vec3, Volume, VoxelArray } from './volume.ts';
import { DTYPE_ARRAYS } from './volume.ts';

/** Bytes of a detached data file named in a header (relative to the header's folder). */
export type DataFileLoader = (name: string) => Promise<Uint8Array>;

const NRRD_TYPES: Record<string, DType> = {
  'signed char': 'int8',
  int8: 'int8',
  int8_t: 'int8',
  char: 'int8',
  uchar: 'uint8',
  'unsigned char': 'uint8',
  uint8: 'uint8',
  uint8_t: 'uint8',
  short: 'int16',
  'short int': 'int16',
  'signed short': 'int16',
  'signed short int': 'int16',
  int16: 'int16',
  int16_t: 'int16',
  ushort: 'uint16',
  'unsigned short': 'uint16',
  'unsigned short int': 'uint16',
  uint16: 'uint16',
  uint16_t: 'uint16',
  int: 'int32',
  'signed int': 'int32',
  int32: 'int32',
  int32_t: 'int32',
  uint: 'uint32',
  'unsigned int': 'uint32',
  uint32: 'uint32',
  uint32_t: 'uint32',
  float: 'float32',
  double: 'float64',
};

const MET_TYPES: Record<string, DType> = {
  MET_CHAR: 'int8',
  MET_UCHAR: 'uint8',
  MET_SHORT: 'int16',
  MET_USHORT: 'uint16',
  MET_INT: 'int32',
  MET_UINT: 'uint32',
  MET_FLOAT: 'float32',
  MET_DOUBLE: 'float64',
};

function bad(name: string, what: string): InputError {
  return new InputError(what, 'BAD_HEADER', name);
}

/**
 * Gunzip voxel data no further than the bytes the header declares (plus one, to notice a surplus) and
 * never past the decompression cap: a bomb stops there instead of being materialised.
 */
function inflateDeclared(
  raw: Uint8Array,
  dtype: DType,
  dims: Vec3,
  name: string,
  opts?: ReadOptions,
): Uint8Array {
  const cap = decompressionCap(opts);
  const declared = dims[0] * dims[1] * dims[2] * DTYPE_ARRAYS[dtype].BYTES_PER_ELEMENT;
  if (declared > cap) throw tooLarge(name, cap);
  return gunzipBounded(raw, name, declared + 1, () =>
    bad(name, `compressed voxel data inflates past the ${declared} bytes the header declares`),
  );
}

function numbersOf(s: string): number[] {
  return s
    .trim()
    .split(/[\s,()]+/)
    .filter((x) => x !== '')
    .map(Number);
}

/** Voxels from raw bytes: exact size check, byte order, typed array of `dtype`. */
function voxels(raw: Uint8Array, dtype: DType, dims: Vec3, bigEndian: boolean, name: string): VoxelArray {
  const Ctor = DTYPE_ARRAYS[dtype];
  const count = dims[0] * dims[1] * dims[2];
  const need = count * Ctor.BYTES_PER_ELEMENT;
  if (raw.length < need) {
    throw new InputError(
      `voxel data holds ${raw.length} bytes, ${dims.join('x')} ${dtype} needs ${need}`,
      'TRUNCATED',
      name,
    );
  }
  if (raw.length > need) {
    throw new InputError(
      `voxel data holds ${raw.length} bytes, ${dims.join('x')} ${dtype} needs ${need}`,
      'SIZE_MISMATCH',
      name,
    );
  }
  const copy = new Uint8Array(raw); // aligned, and ours to swap
  const size = Ctor.BYTES_PER_ELEMENT;
  if (bigEndian && size > 1) {
    for (let i = 0; i < copy.length; i += size) copy.subarray(i, i + size).reverse();
  }
  return new Ctor(copy.buffer, 0, count);
}

function checkDims(d: number[], name: string): Vec3 {
  if (d.length !== 3 || !d.every((x) => Number.isInteger(x) && x >= 1)) {
    throw new InputError(`sizes ${d.join(' ')}: only 3D scalar images are read`, 'UNSUPPORTED', name);
  }
  return d as Vec3;
}

/** RAS affine from per-axis direction vectors (already scaled by spacing) and origin, in `frame`. */
function affineFrom(
  axes: Vec3[],
  origin: Vec3,
  frame: 'RAS' | 'LPS' | 'LAS',
  name: string,
): { affine: Affine; spacing: Vec3 } {
  const flip = frame === 'RAS' ? [1, 1, 1] : frame === 'LPS' ? [-1, -1, 1] : [-1, 1, 1];
  const affine: Affine = [];
  // (+ 0 turns -0 into 0)
  for (let r = 0; r < 3; r++) affine.push(...axes.map((a) => a[r] * flip[r] + 0), origin[r] * flip[r] + 0);
  affine.push(0, 0, 0, 1);
  const spacing = axes.map((a) => Math.hypot(...a)) as Vec3;
  const [a, b, c] = axes;
  const det =
    a[0] * (b[1] * c[2] - b[2] * c[1]) -
    a[1] * (b[0] * c[2] - b[2] * c[0]) +
    a[2] * (b[0] * c[1] - b[1] * c[0]);
  if (
    !spacing.every((s) => Number.isFinite(s) && s > 0) ||
    !(Math.abs(det) > 1e-12) ||
    !origin.every(Number.isFinite)
  ) {
    throw bad(name, 'degenerate geometry (zero, infinite or collinear voxel axes)');
  }
  return { affine, spacing };
}

/** Split a header from attached data at the first empty line (NRRD) or after `ElementDataFile` (MetaImage). */
function textOf(bytes: Uint8Array, end: number): string {
  return new TextDecoder('latin1').decode(bytes.subarray(0, end));
}

export function isNrrd(bytes: Uint8Array): boolean {
  return textOf(bytes, Math.min(bytes.length, 8)).startsWith('NRRD000');
}

export function isMetaImage(bytes: Uint8Array): boolean {
  return /^(ObjectType|NDims)\s*=/.test(textOf(bytes, Math.min(bytes.length, 64)).trimStart());
}

export async function decodeNrrd(
  bytes: Uint8Array,
  name: string,
  load: DataFileLoader,
  opts?: ReadOptions,
): Promise<Volume> {
  // header: lines up to the first empty line
  let end = -1;
  for (let i = 0; i + 1 < bytes.length && i < 1 << 20; i++) {
    if (bytes[i] === 10 && (bytes[i + 1] === 10 || (bytes[i + 1] === 13 && bytes[i + 2] === 10))) {
      end = i + (bytes[i + 1] === 10 ? 2 : 3);
      break;
    }
  }
  const header = textOf(bytes, end < 0 ? bytes.length : end);
  const fields = new Map<string, string>();
  for (const line of header.split(/\r?\n/).slice(1)) {
    if (line.startsWith('#') || !line.includes(':')) continue;
    const at = line.indexOf(':');
    fields.set(
      line.slice(0, at).trim().toLowerCase(),
      line
        .slice(at + 1)
        .replace(/^=/, '')
        .trim(),
    );
  }
  const get = (k: string) => fields.get(k);
  const dtype = NRRD_TYPES[(get('type') ?? '').toLowerCase()];
  if (!dtype) throw new InputError(`NRRD type '${get('type') ?? ''}' is not supported`, 'UNSUPPORTED', name);
  const dims = checkDims(numbersOf(get('sizes') ?? ''), name);
  const encoding = (get('encoding') ?? '').toLowerCase();
  if (!['raw', 'gzip', 'gz'].includes(encoding)) {
    throw new InputError(`NRRD encoding '${encoding}' is not supported (raw, gzip)`, 'UNSUPPORTED', name);
  }
  const space = (get('space') ?? '').toLowerCase();
  const frames: Record<string, 'RAS' | 'LPS' | 'LAS'> = {
    'right-anterior-superior': 'RAS',
    ras: 'RAS',
    'left-posterior-superior': 'LPS',
    lps: 'LPS',
    'left-anterior-superior': 'LAS',
    las: 'LAS',
  };
  let axes: Vec3[];
  let origin: Vec3 = [0, 0, 0];
  let frame: 'RAS' | 'LPS' | 'LAS' = 'RAS';
  if (get('space directions')) {
    frame = frames[space];
    if (!frame)
      throw new InputError(`NRRD space '${space}' is not supported (RAS, LPS, LAS)`, 'UNSUPPORTED', name);
    const vecs = (get('space directions') ?? '').match(/\(([^)]*)\)/g) ?? [];
    axes = vecs.map((v) => numbersOf(v) as Vec3);
    if (axes.length !== 3 || axes.some((a) => a.length !== 3))
      throw bad(name, 'space directions must be three 3-vectors');
    if (get('space origin')) origin = numbersOf(get('space origin') ?? '') as Vec3;
    if (origin.length !== 3) throw bad(name, 'space origin must be a 3-vector');
  } else {
    const sp = get('spacings') ? numbersOf(get('spacings') ?? '') : [1, 1, 1];
    axes = [0, 1, 2].map((a) => [0, 1, 2].map((r) => (r === a ? sp[a] : 0)) as Vec3);
  }
  const { affine, spacing } = affineFrom(axes, origin, frame, name);
  let raw: Uint8Array;
  const dataFile = get('data file') ?? get('datafile');
  if (dataFile) raw = await load(dataFile);
  else if (end < 0)
    throw new InputError('no blank line ends the NRRD header (no voxel data)', 'TRUNCATED', name);
  else raw = bytes.subarray(end);
  if (encoding !== 'raw') raw = inflateDeclared(raw, dtype, dims, name, opts);
  const data = voxels(raw, dtype, dims, (get('endian') ?? 'little').toLowerCase() === 'big', name);
  return { data, dims, spacing, affine, dtype };
}

export async function decodeMetaImage(
  bytes: Uint8Array,
  name: string,
  load: DataFileLoader,
  opts?: ReadOptions,
): Promise<Volume> {
  const text = textOf(bytes, Math.min(bytes.length, 1 << 16));
  const fields = new Map<string, string>();
  let end = -1;
  let at = 0;
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    at += line.length + 1;
    if (eq < 0) continue;
    const key = line.slice(0, eq).trim();
    fields.set(key, line.slice(eq + 1).trim());
    if (key === 'ElementDataFile') {
      end = at;
      break;
    }
  }
  const get = (k: string) => fields.get(k);
  if (end < 0) throw bad(name, 'no ElementDataFile line ends the MetaImage header');
  const dtype = MET_TYPES[get('ElementType') ?? ''];
  if (!dtype)
    throw new InputError(`ElementType '${get('ElementType') ?? ''}' is not supported`, 'UNSUPPORTED', name);
  if ((get('ElementNumberOfChannels') ?? '1') !== '1') {
    throw new InputError('multi-channel MetaImage is not supported', 'UNSUPPORTED', name);
  }
  const dims = checkDims(numbersOf(get('DimSize') ?? ''), name);
  const sp = numbersOf(get('ElementSpacing') ?? '1 1 1');
  const m = numbersOf(get('TransformMatrix') ?? get('Rotation') ?? get('Orientation') ?? '1 0 0 0 1 0 0 0 1');
  const origin = numbersOf(get('Offset') ?? get('Position') ?? get('Origin') ?? '0 0 0') as Vec3;
  if (sp.length !== 3 || m.length !== 9 || origin.length !== 3) {
    throw bad(name, 'ElementSpacing, TransformMatrix and Offset must have 3, 9 and 3 numbers');
  }
  const axes = [0, 1, 2].map((a) => [0, 1, 2].map((r) => m[3 * a + r] * sp[a]) as Vec3);
  const { affine, spacing } = affineFrom(axes, origin, 'LPS', name);
  const file = get('ElementDataFile') ?? '';
  let raw = file === 'LOCAL' ? bytes.subarray(end) : await load(file);
  if ((get('CompressedData') ?? 'False').toLowerCase() === 'true') {
    const cap = decompressionCap(opts);
    try {
      raw = inflateSync(raw, { maxOutputLength: Math.floor(Math.min(cap, 2 ** 32)) });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(name, cap);
      throw bad(name, `corrupt compressed voxel data (${(e as Error).message})`);
    }
  }
  const msb =
    (get('BinaryDataByteOrderMSB') ?? get('ElementByteOrderMSB') ?? 'False').toLowerCase() === 'true';
  const data = voxels(raw, dtype, dims, msb, name);
  return { data, dims, spacing, affine, dtype };
}

/**
 * The data file a detached NRRD (`data file:`) or MetaImage (`ElementDataFile =`, not LOCAL) header names,
 * relative to the header's folder; undefined for attached files and anything else. Writers use it to
 * keep an input's data file from being overwritten.
 */
export function detachedDataFileOf(bytes: Uint8Array): string | undefined {
  const text = textOf(bytes, Math.min(bytes.length, 1 << 16));
  if (isNrrd(bytes)) {
    const header = text.split(/\r?\n\r?\n/)[0];
    return /^data ?file:=?\s*(.+?)\s*$/im.exec(header)?.[1];
  }
  if (isMetaImage(bytes)) {
    const file = /^ElementDataFile\s*=\s*(.+?)\s*$/m.exec(text)?.[1];
    return file && file !== 'LOCAL' ? file : undefined;
  }
  return undefined;
}
