/**
 * NIfTI read (NIfTI-1 and NIfTI-2, .nii and .nii.gz, either byte order) and write (NIfTI-1).
 *
 * Geometry follows NiBabel: the sform when sform_code > 0, else the qform when qform_code > 0, else a
 * diagonal matrix of pixdim. Written files carry the affine in both the sform (exact, to float32) and the
 * qform (rotation + zooms + qfac), both with code 1 (scanner), so a label map written for an input overlays
 * it in any viewer.
 */
import { gzipSync } from 'node:zlib';
import { InputError } from '../errors.ts';
import { affineToQform, det3, linearPart, qformToAffine, spacingFromAffine } from './affine.ts';
import {
  decompressionCap,
  formatBytes,
  gunzipBounded,
  gunzipPrefix,
  isGzip,
  type ReadOptions,
  tooLarge,
} from './decompress.ts';
import { readInputFile, writeFileAtomic } from './files.ts';
import { assertFinite } from './finite.ts';
import {
  dtypeFromCode,
  encodeNifti1Header,
  NIFTI_DATATYPES,
  NIFTI2_HEADER_SIZE,
  type NiftiHeader,
  parseNiftiHeader,
} from './nifti-header.ts';
import {
  type Affine,
  DTYPE_ARRAYS,
  type DType,
  dtypeOf,
  type Vec3,
  type Volume,
  type VoxelArray,
} from './volume.ts';

export type { ReadOptions } from './decompress.ts';
/** Re-exported: it lived here first. */
export { writeFileAtomic } from './files.ts';

/** The voxel-to-world affine a NIfTI header describes (sform, else qform, else pixdim), NiBabel's rule. */
export function headerAffine(h: NiftiHeader): Affine {
  if (h.sformCode > 0) {
    const sform = [...h.srow, 0, 0, 0, 1];
    // A degenerate sform (all zeros, NaN) is a writer bug: fall through to the qform/pixdim then.
    const d = det3(linearPart(sform));
    if (Number.isFinite(d) && Math.abs(d) > 1e-12) return sform;
  }
  const zooms = [1, 2, 3].map((n) => {
    const v = Math.abs(h.pixdim[n]);
    return v > 0 && Number.isFinite(v) ? v : 1;
  }) as Vec3;
  if (h.qformCode > 0) {
    return qformToAffine({ quatern: h.quatern, offset: h.qoffset, zooms, qfac: h.pixdim[0] < 0 ? -1 : 1 });
  }
  return [zooms[0], 0, 0, 0, 0, zooms[1], 0, 0, 0, 0, zooms[2], 0, 0, 0, 0, 1];
}

/**
 * Spatial dims of a header, checked: 3D, or 4D+ with every extra dim 1; with `frames`, 4D+ with any extra
 * dims, whose product is the number of 3D frames (channels or time points) returned beside the dims.
 */
function spatialDims(h: NiftiHeader, file: string, frames = false): { dims: Vec3; frames: number } {
  const nd = h.dim[0];
  if (!Number.isInteger(nd) || nd < 1 || nd > 7) {
    throw new InputError(`bad NIfTI header: dim[0] is ${nd}, must be 1..7`, 'BAD_HEADER', file);
  }
  const used = h.dim.slice(1, nd + 1);
  if (used.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new InputError(
      `absurd dims ${used.join('x')}: every dimension must be at least 1`,
      'BAD_HEADER',
      file,
    );
  }
  const extra = used.slice(3);
  if (!frames && extra.some((d) => d !== 1)) {
    throw new InputError(
      `${nd}D NIfTI with dims ${used.join('x')} is not supported: only 3D volumes (or 4D with one time point)`,
      'UNSUPPORTED',
      file,
    );
  }
  return { dims: [used[0] ?? 1, used[1] ?? 1, used[2] ?? 1], frames: extra.reduce((a, b) => a * b, 1) };
}

function byteSwap(bytes: Uint8Array, size: number): void {
  if (size === 1) return;
  for (let i = 0; i < bytes.length; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      const t = bytes[a];
      bytes[a] = bytes[b];
      bytes[b] = t;
    }
  }
}

/** NIfTI: a slope of 0 (or not finite) means no scaling; so does slope 1 with intercept 0. */
function isIdentityScaling(slope: number, inter: number): boolean {
  return !Number.isFinite(slope) || slope === 0 || (slope === 1 && (inter === 0 || !Number.isFinite(inter)));
}

function applyScaling(raw: VoxelArray, slope: number, inter: number): VoxelArray {
  if (isIdentityScaling(slope, inter)) return raw;
  const b = Number.isFinite(inter) ? inter : 0;
  const out = raw instanceof Float64Array ? new Float64Array(raw.length) : new Float32Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw[i] * slope + b;
  return out;
}

/** Header extensions (between the header and vox_offset) beyond this are taken for a corrupt header. */
const MAX_EXTENSION_BYTES = 256 * 1024 ** 2;

/** Where a NIfTI file's voxels lie, from its header alone (checked against the cap). */
interface NiftiLayout {
  h: NiftiHeader;
  dtype: DType;
  elem: number;
  dims: Vec3;
  /** Voxels of one 3D frame. */
  count: number;
  /** 3D frames (1 unless read with `frames`). */
  frames: number;
  /** Voxel bytes (all frames). */
  need: number;
  /** Byte offset of the voxels. */
  offset: number;
}

function niftiLayout(bytes: Uint8Array, name: string, opts?: ReadOptions, multi = false): NiftiLayout {
  const h = parseNiftiHeader(bytes, name);
  const dtype = dtypeFromCode(h.datatype, name);
  const elem = NIFTI_DATATYPES[dtype].bytes;
  if (h.bitpix !== elem * 8) {
    throw new InputError(
      `bad NIfTI header: bitpix ${h.bitpix} does not match datatype ${dtype} (${elem * 8} bits)`,
      'BAD_HEADER',
      name,
    );
  }
  const { dims, frames } = spatialDims(h, name, multi);
  const count = dims[0] * dims[1] * dims[2];
  const need = count * frames * elem;
  const cap = decompressionCap(opts);
  if (need > cap) {
    throw new InputError(
      `absurd dims ${dims.join('x')}: ${formatBytes(need)} of ${dtype} voxels exceeds the cap of ${formatBytes(cap)}`,
      'TOO_LARGE',
      name,
    );
  }
  if (!Number.isSafeInteger(need)) throw tooLarge(name, cap);
  const offset = Math.round(h.voxOffset);
  if (!(offset >= h.headerSize) || !Number.isFinite(h.voxOffset)) {
    throw new InputError(
      `bad NIfTI header: vox_offset ${h.voxOffset} is inside the header`,
      'BAD_HEADER',
      name,
    );
  }
  if (offset - h.headerSize > MAX_EXTENSION_BYTES) {
    throw new InputError(
      `bad NIfTI header: vox_offset ${offset} puts ${formatBytes(offset - h.headerSize)} of extensions before the voxels (at most ${formatBytes(MAX_EXTENSION_BYTES)} accepted)`,
      'BAD_HEADER',
      name,
    );
  }
  return { h, dtype, elem, dims, count, frames, need, offset };
}

/**
 * A .nii.gz inflated no further than its header says the file goes (vox_offset + voxel bytes, plus one
 * byte to tell that there is more): a bomb behind a small header stops after a few bytes too many.
 */
function gunzipNifti(bytes: Uint8Array, name: string, opts?: ReadOptions, multi = false): Uint8Array {
  const head = gunzipPrefix(bytes, name, NIFTI2_HEADER_SIZE);
  const { offset, need, dims, dtype } = niftiLayout(head, name, opts, multi);
  const end = offset + need;
  return gunzipBounded(bytes, name, end + 1, () => {
    return new InputError(
      `dims ${dims.join('x')} of ${dtype} (${need} bytes after offset ${offset}) do not match the file size: the data goes on past byte ${end} (stopped inflating there)`,
      'SIZE_MISMATCH',
      name,
    );
  });
}

/** Decode a .nii or .nii.gz file held in memory (gzip is detected from the bytes, not the name). */
export function decodeNifti(bytes: Uint8Array, name: string, opts?: ReadOptions): Volume {
  return decodeFrames(bytes, name, opts, false)[0];
}

/**
 * Decode a NIfTI file of several 3D frames (a 4D image of channels or time points, such as the Medical
 * Segmentation Decathlon's four-sequence brain MRI): one volume per frame, in file order, all on the
 * header's grid. A 3D file gives one volume.
 */
export function decodeNiftiFrames(bytes: Uint8Array, name: string, opts?: ReadOptions): Volume[] {
  return decodeFrames(bytes, name, opts, true);
}

function decodeFrames(
  bytes: Uint8Array,
  name: string,
  opts: ReadOptions | undefined,
  multi: boolean,
): Volume[] {
  const owned = isGzip(bytes);
  if (owned) bytes = gunzipNifti(bytes, name, opts, multi);
  const { h, dtype, elem, dims, count, frames, need, offset } = niftiLayout(bytes, name, opts, multi);
  const have = bytes.length - offset;
  const shape = frames > 1 ? `${dims.join('x')}x${frames}` : dims.join('x');
  if (have < need) {
    throw new InputError(
      `truncated data: dims ${shape} of ${dtype} need ${need} bytes after offset ${offset}, the file has ${Math.max(0, have)}`,
      'TRUNCATED',
      name,
    );
  }
  if (have > need) {
    throw new InputError(
      `dims ${shape} of ${dtype} (${need} bytes) do not match the file size: ${have} bytes of data after offset ${offset}`,
      'SIZE_MISMATCH',
      name,
    );
  }
  const affine = headerAffine(h);
  const spacing = spacingOf(affine, h);
  const scaled = !isIdentityScaling(h.sclSlope, h.sclInter);
  const f = (v: number) => +v.toPrecision(6);
  const volumes: Volume[] = [];
  for (let t = 0; t < frames; t++) {
    let raw = bytes.subarray(offset + t * count * elem, offset + (t + 1) * count * elem);
    // The returned voxels own a buffer of exactly their size (callers may hand `data.buffer` on), so copy,
    // except when scaling makes a new array anyway and the bytes can be viewed in place.
    const viewable = owned && h.littleEndian && raw.byteOffset % elem === 0;
    if (!scaled || !viewable) raw = new Uint8Array(raw); // copy (Buffer.slice would not)
    if (!h.littleEndian) byteSwap(raw, elem);
    const Ctor = DTYPE_ARRAYS[dtype];
    const typed = new Ctor(raw.buffer as ArrayBuffer, raw.byteOffset, count) as VoxelArray;
    const data = applyScaling(typed, h.sclSlope, h.sclInter);
    const vol: Volume = { data, dims: [...dims], spacing: [...spacing], affine: [...affine], dtype };
    assertFinite(vol, name, scaled ? `scl_slope ${f(h.sclSlope)} / scl_inter ${f(h.sclInter)}` : undefined);
    volumes.push(vol);
  }
  return volumes;
}

/** Column norms of the affine; pixdim when it agrees (so a 3 mm file reports exactly 3, not 3.0000001). */
function spacingOf(affine: Affine, h: NiftiHeader): Vec3 {
  const norms = spacingFromAffine(affine);
  return norms.map((n, i) => {
    const p = Math.abs(h.pixdim[i + 1]);
    return Math.abs(p - n) <= 1e-6 * Math.max(1, n) ? p : n;
  }) as Vec3;
}

export async function readNifti(path: string, opts?: ReadOptions): Promise<Volume> {
  return decodeNifti(await readInputFile(path, opts), path, opts);
}

/** Read the 3D frames of a 4D NIfTI file (see `decodeNiftiFrames`). */
export async function readNiftiFrames(path: string, opts?: ReadOptions): Promise<Volume[]> {
  return decodeNiftiFrames(await readInputFile(path, opts), path, opts);
}

export interface EncodeOptions {
  gzip?: boolean;
  description?: string;
  /** gzip level 0..9 (default 6). */
  level?: 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;
}

/** Encode a volume as a single-file little-endian NIfTI-1 (.nii bytes, or .nii.gz bytes with `gzip`). */
export function encodeNifti(vol: Volume, opts: EncodeOptions = {}): Uint8Array {
  const dtype: DType = dtypeOf(vol.data);
  const count = vol.dims[0] * vol.dims[1] * vol.dims[2];
  if (vol.data.length !== count) {
    throw new RangeError(
      `volume data has ${vol.data.length} voxels, dims ${vol.dims.join('x')} need ${count}`,
    );
  }
  if (vol.dims.some((d) => !Number.isInteger(d) || d < 1 || d > 32767)) {
    throw new RangeError(`NIfTI-1 dims must be integers 1..32767, got ${vol.dims.join('x')}`);
  }
  const q = affineToQform(vol.affine);
  const header = encodeNifti1Header({
    dims: vol.dims,
    dtype,
    pixdim: [q.qfac, q.zooms[0], q.zooms[1], q.zooms[2], 1, 0, 0, 0],
    qformCode: 1,
    sformCode: 1,
    quatern: q.quatern,
    qoffset: q.offset,
    srow: vol.affine.slice(0, 12),
    description: opts.description,
  });
  const body = new Uint8Array(vol.data.buffer as ArrayBuffer, vol.data.byteOffset, vol.data.byteLength);
  const out = new Uint8Array(header.length + body.length);
  out.set(header, 0);
  out.set(body, header.length);
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1)
    byteSwap(out.subarray(header.length), body.length / count);
  if (!opts.gzip) return out;
  const gz = gzipSync(out, { level: opts.level ?? 6 });
  return new Uint8Array(gz.buffer, gz.byteOffset, gz.byteLength);
}

/**
 * Write to `path` (gzip when it ends in .gz) atomically: the bytes go to a temporary file in the same
 * folder, renamed over `path` only once complete.
 */
export async function writeNifti(
  path: string,
  vol: Volume,
  opts: Omit<EncodeOptions, 'gzip'> = {},
): Promise<void> {
  if (!/\.nii(\.gz)?$/i.test(path)) {
    throw new InputError('output must end in .nii or .nii.gz', 'BAD_ARGUMENT', path);
  }
  const bytes = encodeNifti(vol, { ...opts, gzip: /\.gz$/i.test(path) });
  await writeFileAtomic(path, bytes);
}
