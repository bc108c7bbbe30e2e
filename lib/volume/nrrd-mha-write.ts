/**
 * NRRD and MetaImage output, the counterpart of `nrrd-mha.ts`: a volume -> header text + voxel bytes, as
 * 3D Slicer and ITK read them.
 *
 * - NRRD: `space: left-posterior-superior` (what Slicer writes), `space directions` the affine's voxel axes
 *   and `space origin` its translation, both converted from RAS to LPS (x and y negated), so an oblique
 *   or flipped grid keeps its exact geometry. `encoding: gzip` or `raw`, `endian: little`.
 * - MetaImage: ITK's LPS frame; `TransformMatrix` the unit direction of each voxel axis (first axis first),
 *   `ElementSpacing` their lengths, `Offset` the origin. `CompressedData = True` (zlib) or raw.
 * - Attached (`.nrrd`, `.mha`: one file) or detached (`.nhdr`, `.mhd`: a header naming a data file beside
 *   it). The voxel type is the data array's, as for NIfTI; voxels first axis fastest, little-endian.
 * No file system access: callers write the bytes (through `lib/output/safe-output.ts`).
 */
import { deflateSync, gzipSync } from 'node:zlib';
import { type DType, dtypeOf, type Volume } from './volume.ts';

const NRRD_TYPE: Record<DType, string> = {
  int8: 'int8',
  uint8: 'uint8',
  int16: 'int16',
  uint16: 'uint16',
  int32: 'int32',
  uint32: 'uint32',
  float32: 'float',
  float64: 'double',
};

const MET_TYPE: Record<DType, string> = {
  int8: 'MET_CHAR',
  uint8: 'MET_UCHAR',
  int16: 'MET_SHORT',
  uint16: 'MET_USHORT',
  int32: 'MET_INT',
  uint32: 'MET_UINT',
  float32: 'MET_FLOAT',
  float64: 'MET_DOUBLE',
};

export interface ImageEncodeOptions {
  /** gzip (NRRD) / zlib (MetaImage) the voxel data; default true. */
  compress?: boolean;
}

/** The encoded image: the header file's bytes, and for a detached header the data file's. */
export interface EncodedImage {
  header: Uint8Array;
  /** Present for detached headers: the bytes of the data file the header names. */
  data?: Uint8Array;
}

/** Shortest text that reads back as exactly this double ("-0" written as "0"). */
function num(x: number): string {
  return String(x + 0);
}

/** LPS voxel axes (each scaled by its spacing) and origin of a volume's RAS affine. */
function lpsGeometry(vol: Volume): { axes: number[][]; origin: number[] } {
  const a = vol.affine;
  const flip = [-1, -1, 1];
  const axes = [0, 1, 2].map((col) => [0, 1, 2].map((row) => a[4 * row + col] * flip[row]));
  const origin = [0, 1, 2].map((row) => a[4 * row + 3] * flip[row]);
  return { axes, origin };
}

/** The voxels as little-endian bytes (a copy only on a big-endian machine). */
function voxelBytes(vol: Volume): Uint8Array {
  const count = vol.dims[0] * vol.dims[1] * vol.dims[2];
  if (vol.data.length !== count) {
    throw new RangeError(
      `volume data has ${vol.data.length} voxels, dims ${vol.dims.join('x')} need ${count}`,
    );
  }
  const bytes = new Uint8Array(vol.data.buffer as ArrayBuffer, vol.data.byteOffset, vol.data.byteLength);
  const size = vol.data.BYTES_PER_ELEMENT;
  if (size === 1 || new Uint8Array(new Uint16Array([1]).buffer)[0] === 1) return bytes;
  const swapped = new Uint8Array(bytes);
  for (let i = 0; i < swapped.length; i += size) swapped.subarray(i, i + size).reverse();
  return swapped;
}

function joinBytes(text: string, data: Uint8Array): Uint8Array {
  const head = new TextEncoder().encode(text);
  const out = new Uint8Array(head.length + data.length);
  out.set(head);
  out.set(data, head.length);
  return out;
}

/**
 * NRRD bytes of `vol`: attached (`.nrrd`) when `dataFile` is absent, else a detached header (`.nhdr`)
 * naming `dataFile` (a name beside it) and that file's bytes.
 */
export function encodeNrrd(vol: Volume, opts: ImageEncodeOptions & { dataFile?: string } = {}): EncodedImage {
  const compress = opts.compress ?? true;
  const { axes, origin } = lpsGeometry(vol);
  const raw = voxelBytes(vol);
  const body = compress ? new Uint8Array(gzipSync(raw, { level: 6 })) : raw;
  const lines = [
    'NRRD0004',
    '# written by raunet',
    `type: ${NRRD_TYPE[dtypeOf(vol.data)]}`,
    'dimension: 3',
    'space: left-posterior-superior',
    `sizes: ${vol.dims.join(' ')}`,
    `space directions: ${axes.map((v) => `(${v.map(num).join(',')})`).join(' ')}`,
    'kinds: domain domain domain',
    'endian: little',
    `encoding: ${compress ? 'gzip' : 'raw'}`,
    `space origin: (${origin.map(num).join(',')})`,
  ];
  if (opts.dataFile) {
    lines.push(`data file: ${opts.dataFile}`);
    return { header: new TextEncoder().encode(`${lines.join('\n')}\n`), data: body };
  }
  // an empty line ends the header; the voxel data follows
  return { header: joinBytes(`${lines.join('\n')}\n\n`, body) };
}

/**
 * MetaImage bytes of `vol`: attached (`.mha`, `ElementDataFile = LOCAL`) when `dataFile` is absent, else a
 * detached header (`.mhd`) naming `dataFile` and that file's bytes.
 */
export function encodeMetaImage(
  vol: Volume,
  opts: ImageEncodeOptions & { dataFile?: string } = {},
): EncodedImage {
  const compress = opts.compress ?? true;
  const { axes, origin } = lpsGeometry(vol);
  const spacing = axes.map((v) => Math.hypot(v[0], v[1], v[2]));
  const directions = axes.flatMap((v, a) => v.map((x) => x / spacing[a]));
  const raw = voxelBytes(vol);
  const body = compress ? new Uint8Array(deflateSync(raw, { level: 6 })) : raw;
  const lines = [
    'ObjectType = Image',
    'NDims = 3',
    'BinaryData = True',
    'BinaryDataByteOrderMSB = False',
    `CompressedData = ${compress ? 'True' : 'False'}`,
    ...(compress ? [`CompressedDataSize = ${body.length}`] : []),
    `TransformMatrix = ${directions.map(num).join(' ')}`,
    `Offset = ${origin.map(num).join(' ')}`,
    `ElementSpacing = ${spacing.map(num).join(' ')}`,
    `DimSize = ${vol.dims.join(' ')}`,
    `ElementType = ${MET_TYPE[dtypeOf(vol.data)]}`,
    `ElementDataFile = ${opts.dataFile ?? 'LOCAL'}`,
  ];
  const header = `${lines.join('\n')}\n`;
  if (opts.dataFile) return { header: new TextEncoder().encode(header), data: body };
  return { header: joinBytes(header, body) };
}
