/**
 * A folder holding one DICOM series (one file per slice) -> Volume in HU.
 *
 * - Slices are ordered by their ImagePositionPatient projected on the slice normal (row cosine x column
 *   cosine of ImageOrientationPatient), never by file name or InstanceNumber.
 * - Spacing: PixelSpacing in plane, the distance between slice positions across; unequal gaps, missing
 *   slices, duplicate positions and mixed series are refused with a message that says which.
 * - RescaleSlope/RescaleIntercept are applied (int16 voxels when the result is integral and fits, int32
 *   when integral but wider, else float32).
 * - Geometry: the LPS affine from IOP/IPP is turned into RAS (x and y negated) and the rows are stored
 *   bottom-up (j flipped), the layout dcm2niix writes, so label maps made on its output overlay ours.
 * Transfer syntaxes: implicit and explicit VR little endian, explicit VR big endian, deflated explicit VR
 * little endian (inflation capped like any decompression), RLE Lossless, JPEG 2000.
 * An enhanced multi-frame object (Enhanced CT Image Storage: every frame's position, orientation, pixel
 * spacing and rescale in its per-frame or the shared functional groups) is split into one slice per frame,
 * which then go through the same ordering and geometry checks as a classic one-file-per-slice series.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import dicomParser, { type DataSet, type ParseDicomOptions } from 'dicom-parser';
import { InputError } from '../errors.ts';
import { decompressionCap, type ReadOptions, tooLarge } from './decompress.ts';
import { decodeRleFrame } from './dicom-rle.ts';
import { readInputFile } from './files.ts';
import { decodeJpegBaseline, decodeJpegLossless, decodeJpegLs, jpegPrecision } from './jpeg-codecs.ts';
import { type DecodedFrame, decodeJpeg2000 } from './jpeg2000.ts';
import type { Affine, Vec3, Volume, VoxelArray } from './volume.ts';

const TS_IMPLICIT_LE = '1.2.840.10008.1.2';
const TS_EXPLICIT_LE = '1.2.840.10008.1.2.1';
const TS_EXPLICIT_BE = '1.2.840.10008.1.2.2';
const TS_J2K_LOSSLESS = '1.2.840.10008.1.2.4.90';
const TS_J2K = '1.2.840.10008.1.2.4.91';
const TS_DEFLATED_LE = '1.2.840.10008.1.2.1.99';
const TS_RLE = '1.2.840.10008.1.2.5';
const TS_JPEG_BASELINE = '1.2.840.10008.1.2.4.50';
const TS_JPEG_EXTENDED = '1.2.840.10008.1.2.4.51';
const TS_JPEG_LOSSLESS = '1.2.840.10008.1.2.4.57';
const TS_JPEG_LOSSLESS_SV1 = '1.2.840.10008.1.2.4.70';
const TS_JPEG_LS = '1.2.840.10008.1.2.4.80';
const TS_JPEG_LS_NEAR = '1.2.840.10008.1.2.4.81';
/** Lossy ones: read, with a warning. */
const LOSSY_TS = [TS_JPEG_BASELINE, TS_JPEG_EXTENDED, TS_JPEG_LS_NEAR];
const SUPPORTED_TS = [
  TS_JPEG_BASELINE,
  TS_JPEG_EXTENDED,
  TS_JPEG_LOSSLESS,
  TS_JPEG_LOSSLESS_SV1,
  TS_JPEG_LS,
  TS_JPEG_LS_NEAR,
  TS_IMPLICIT_LE,
  TS_EXPLICIT_LE,
  TS_EXPLICIT_BE,
  TS_DEFLATED_LE,
  TS_RLE,
  TS_J2K_LOSSLESS,
  TS_J2K,
];

const TAG = {
  transferSyntax: 'x00020010',
  modality: 'x00080060',
  seriesUid: 'x0020000e',
  studyUid: 'x0020000d',
  frameOfReferenceUid: 'x00200052',
  sopClassUid: 'x00080016',
  sopInstanceUid: 'x00080018',
  mediaSopClassUid: 'x00020002',
  mediaSopInstanceUid: 'x00020003',
  position: 'x00200032',
  orientation: 'x00200037',
  pixelSpacing: 'x00280030',
  sliceThickness: 'x00180050',
  spacingBetweenSlices: 'x00180088',
  samplesPerPixel: 'x00280002',
  frames: 'x00280008',
  rows: 'x00280010',
  columns: 'x00280011',
  bitsAllocated: 'x00280100',
  bitsStored: 'x00280101',
  pixelRepresentation: 'x00280103',
  intercept: 'x00281052',
  slope: 'x00281053',
  pixelData: 'x7fe00010',
  sharedFunctionalGroups: 'x52009229',
  perFrameFunctionalGroups: 'x52009230',
};

/** Gaps may differ from the series' typical gap by this much (mm) plus this fraction of it. */
const GAP_TOL_MM = 0.01;
const GAP_TOL_REL = 0.01;

interface Slice {
  name: string;
  ds: DataSet;
  /** Frame index in a multi-frame object (0 for a single-frame file). */
  frame: number;
  /** 1-based frame number when the slice is a frame of an enhanced multi-frame object. */
  frameNumber?: number;
  ts: string;
  rows: number;
  cols: number;
  ipp: Vec3;
  iop: number[];
  pixelSpacing: [number, number];
  bitsAllocated: number;
  bitsStored: number;
  signed: boolean;
  slope: number;
  intercept: number;
  /** Position along the slice normal (mm). */
  position: number;
  /** SliceThickness and SpacingBetweenSlices (mm), when given (enhanced objects: in Pixel Measures). */
  thickness?: number;
  spacingBetweenSlices?: number;
}

export function hasDicmPreamble(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 132 &&
    bytes[128] === 0x44 &&
    bytes[129] === 0x49 &&
    bytes[130] === 0x43 &&
    bytes[131] === 0x4d
  );
}

function errorText(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (typeof e === 'string') return e;
  if (e && typeof e === 'object' && 'exception' in e) return String((e as { exception: unknown }).exception);
  return String(e);
}

function numbers(ds: DataSet, tag: string): number[] | undefined {
  const s = ds.string(tag);
  if (s === undefined || s.trim() === '') return undefined;
  const v = s.split('\\').map((x) => Number(x.trim()));
  return v.every(Number.isFinite) ? v : undefined;
}

function cross(a: number[], b: number[]): Vec3 {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}

function dot(a: number[], b: number[]): number {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

/** Where a slice's attributes are: one data set, or a frame's functional groups then the object itself. */
type AttributeLookup = (tag: string) => number[] | undefined;

/**
 * An attribute of frame `index` of an enhanced multi-frame object: in the frame's item of the Per-frame
 * Functional Groups Sequence, else the Shared Functional Groups Sequence (each functional group is a
 * sequence of one item holding the attributes, e.g. Plane Position (0020,9113) -> ImagePositionPatient),
 * else the top level.
 */
function frameLookup(ds: DataSet, index: number): AttributeLookup {
  const groups = [
    ds.elements[TAG.perFrameFunctionalGroups]?.items?.[index]?.dataSet,
    ds.elements[TAG.sharedFunctionalGroups]?.items?.[0]?.dataSet,
  ];
  return (tag) => {
    for (const group of groups) {
      if (!group) continue;
      for (const el of Object.values(group.elements)) {
        const item = el.items?.[0]?.dataSet;
        const v = item?.elements[tag] ? numbers(item, tag) : undefined;
        if (v) return v;
      }
    }
    return numbers(ds, tag);
  };
}

/** True for an enhanced (functional-group) multi-frame image object. */
function isEnhanced(ds: DataSet): boolean {
  return ds.elements[TAG.perFrameFunctionalGroups] !== undefined;
}

/** One slice per image: a classic file is one, an enhanced multi-frame object one per frame. */
function toSlices(name: string, ds: DataSet, label: string): Slice[] {
  if (!isEnhanced(ds)) return [toSlice(name, ds, label)];
  const frames = Number(ds.string(TAG.frames) ?? '1');
  const perFrame = ds.elements[TAG.perFrameFunctionalGroups]?.items?.length ?? 0;
  if (!(Number.isInteger(frames) && frames >= 1) || perFrame !== frames) {
    throw new InputError(
      `${name}: NumberOfFrames ${ds.string(TAG.frames)} does not match the ${perFrame} items of its Per-frame Functional Groups Sequence`,
      'BAD_HEADER',
      label,
    );
  }
  return Array.from({ length: frames }, (_, f) =>
    toSlice(`${name} frame ${f + 1}`, ds, label, { index: f, lookup: frameLookup(ds, f) }),
  );
}

function toSlice(
  name: string,
  ds: DataSet,
  label: string,
  frame?: { index: number; lookup: AttributeLookup },
): Slice {
  const attribute: AttributeLookup = frame?.lookup ?? ((tag) => numbers(ds, tag));
  const need = (tag: string, what: string, count: number): number[] => {
    const v = attribute(tag);
    if (!v || v.length < count) {
      throw new InputError(`${name}: missing or unreadable ${what} (${tag.slice(1)})`, 'BAD_HEADER', label);
    }
    return v;
  };
  const ts = ds.string(TAG.transferSyntax) ?? TS_IMPLICIT_LE;
  if (!SUPPORTED_TS.includes(ts)) {
    throw new InputError(
      `${name}: transfer syntax ${ts} is not supported (uncompressed little/big endian, deflated, RLE, JPEG baseline/extended/lossless, JPEG-LS and JPEG 2000 are)`,
      'UNSUPPORTED',
      label,
    );
  }
  const samples = ds.uint16(TAG.samplesPerPixel) ?? 1;
  if (samples !== 1) {
    throw new InputError(
      `${name}: ${samples} samples per pixel (colour) is not supported`,
      'UNSUPPORTED',
      label,
    );
  }
  const frames = Number(ds.string(TAG.frames) ?? '1');
  if (frames > 1 && !frame) {
    throw new InputError(
      `${name}: multi-frame DICOM (${frames} frames) without per-frame functional groups is not supported`,
      'UNSUPPORTED',
      label,
    );
  }
  const rows = ds.uint16(TAG.rows) ?? 0;
  const cols = ds.uint16(TAG.columns) ?? 0;
  if (!(rows > 0 && cols > 0)) throw new InputError(`${name}: missing Rows/Columns`, 'BAD_HEADER', label);
  const bitsAllocated = ds.uint16(TAG.bitsAllocated) ?? 0;
  if (bitsAllocated !== 8 && bitsAllocated !== 16) {
    throw new InputError(
      `${name}: BitsAllocated ${bitsAllocated} is not supported (8 or 16)`,
      'UNSUPPORTED',
      label,
    );
  }
  const bitsStored = Math.min(ds.uint16(TAG.bitsStored) ?? bitsAllocated, bitsAllocated) || bitsAllocated;
  const ipp = need(TAG.position, 'ImagePositionPatient', 3).slice(0, 3) as Vec3;
  const iop = need(TAG.orientation, 'ImageOrientationPatient', 6).slice(0, 6);
  const ps = need(TAG.pixelSpacing, 'PixelSpacing', 2);
  if (!(ps[0] > 0 && ps[1] > 0)) {
    throw new InputError(`${name}: PixelSpacing ${ps.join('\\')} is not positive`, 'BAD_HEADER', label);
  }
  const slope = attribute(TAG.slope)?.[0] ?? 1;
  const intercept = attribute(TAG.intercept)?.[0] ?? 0;
  const normal = cross(iop.slice(0, 3), iop.slice(3, 6));
  if (Math.abs(Math.hypot(...normal) - 1) > 1e-2) {
    throw new InputError(
      `${name}: ImageOrientationPatient ${iop.join('\\')} is not two orthogonal unit vectors`,
      'BAD_HEADER',
      label,
    );
  }
  return {
    name,
    ds,
    frame: frame?.index ?? 0,
    ...(frame ? { frameNumber: frame.index + 1 } : {}),
    ts,
    rows,
    cols,
    ipp,
    iop,
    pixelSpacing: [ps[0], ps[1]],
    bitsAllocated,
    bitsStored,
    signed: (ds.uint16(TAG.pixelRepresentation) ?? 0) === 1,
    slope: slope === 0 ? 1 : slope,
    intercept,
    position: dot(ipp, normal),
    thickness: attribute(TAG.sliceThickness)?.[0],
    spacingBetweenSlices: attribute(TAG.spacingBetweenSlices)?.[0],
  };
}

function checkSameSeries(parsed: Array<{ name: string; ds: DataSet }>, label: string): void {
  const groups = new Map<string, string[]>();
  for (const p of parsed) {
    const uid = (p.ds.string(TAG.seriesUid) ?? '').trim() || '(no SeriesInstanceUID)';
    groups.set(uid, [...(groups.get(uid) ?? []), p.name]);
  }
  if (groups.size > 1) {
    const list = [...groups].map(([uid, names]) => `${uid} (${names.length} files, e.g. ${names[0]})`);
    throw new InputError(
      `folder mixes ${groups.size} DICOM series: ${list.join('; ')}; put one series per folder`,
      'BAD_SERIES',
      label,
    );
  }
}

function checkConsistent(slices: Slice[], label: string): void {
  const ref = slices[0];
  for (const s of slices) {
    if (s.rows !== ref.rows || s.cols !== ref.cols) {
      throw new InputError(
        `slices differ in size: ${ref.name} is ${ref.cols}x${ref.rows}, ${s.name} is ${s.cols}x${s.rows}`,
        'BAD_SERIES',
        label,
      );
    }
    if (s.iop.some((v, i) => Math.abs(v - ref.iop[i]) > 1e-3)) {
      throw new InputError(
        `slices differ in orientation: ${ref.name} has ImageOrientationPatient ${ref.iop.join('\\')}, ${s.name} ${s.iop.join('\\')}`,
        'BAD_SERIES',
        label,
      );
    }
    if (s.pixelSpacing.some((v, i) => Math.abs(v - ref.pixelSpacing[i]) > 1e-4)) {
      throw new InputError(
        `slices differ in PixelSpacing: ${ref.name} ${ref.pixelSpacing.join('\\')}, ${s.name} ${s.pixelSpacing.join('\\')}`,
        'BAD_SERIES',
        label,
      );
    }
  }
}

/** Check the sorted slice positions are evenly spaced, no slice missing. */
function checkSpacing(slices: Slice[], label: string): void {
  if (slices.length < 2) return;
  const gaps = slices.slice(1).map((s, k) => s.position - slices[k].position);
  for (let k = 0; k < gaps.length; k++) {
    if (gaps[k] < 1e-3) {
      throw new InputError(
        `two slices at the same position ${slices[k].position.toFixed(3)} mm: ${slices[k].name} and ${slices[k + 1].name} (repeated acquisition or mixed series?)`,
        'BAD_SERIES',
        label,
      );
    }
  }
  const typical = [...gaps].sort((a, b) => a - b)[Math.floor((gaps.length - 1) / 2)];
  const tol = GAP_TOL_MM + GAP_TOL_REL * typical;
  for (let k = 0; k < gaps.length; k++) {
    const g = gaps[k];
    if (Math.abs(g - typical) <= tol) continue;
    const where = `between ${slices[k].name} (${slices[k].position.toFixed(3)} mm) and ${slices[k + 1].name} (${slices[k + 1].position.toFixed(3)} mm)`;
    const ratio = g / typical;
    if (ratio > 1.5 && Math.abs(ratio - Math.round(ratio)) * typical <= tol) {
      const missing = Math.round(ratio) - 1;
      throw new InputError(
        `missing slice${missing > 1 ? 's' : ''}: gap of ${g.toFixed(3)} mm ${where}, the other slices are ${typical.toFixed(3)} mm apart (${missing} slice${missing > 1 ? 's' : ''} missing)`,
        'BAD_SERIES',
        label,
      );
    }
    throw new InputError(
      `unequal slice spacing: gap of ${g.toFixed(3)} mm ${where}, the other slices are ${typical.toFixed(3)} mm apart`,
      'BAD_SERIES',
      label,
    );
  }
}

type FrameDecoder = (frame: Uint8Array, bytesPerSample: number) => Promise<DecodedFrame> | DecodedFrame;
const JPEG_DECODERS: Record<string, [string, FrameDecoder]> = {
  [TS_J2K]: ['JPEG 2000', decodeJpeg2000],
  [TS_J2K_LOSSLESS]: ['JPEG 2000', decodeJpeg2000],
  [TS_JPEG_LOSSLESS]: ['JPEG Lossless', decodeJpegLossless],
  [TS_JPEG_LOSSLESS_SV1]: ['JPEG Lossless', decodeJpegLossless],
  [TS_JPEG_LS]: ['JPEG-LS', decodeJpegLs],
  [TS_JPEG_LS_NEAR]: ['JPEG-LS', decodeJpegLs],
  [TS_JPEG_BASELINE]: ['JPEG', decodeJpegBaseline],
  [TS_JPEG_EXTENDED]: ['JPEG', decodeJpegBaseline],
};

/** Raw stored values of one slice, as signed/unsigned integers with unused high bits handled. */
async function slicePixels(
  s: Slice,
  label: string,
): Promise<Int16Array | Uint16Array | Int8Array | Uint8Array> {
  const el = s.ds.elements[TAG.pixelData];
  if (!el) throw new InputError(`${s.name}: no PixelData`, 'BAD_HEADER', label);
  const n = s.rows * s.cols;
  let bytes: Uint8Array;
  let bytesPerSample = s.bitsAllocated / 8;
  const encapsulated = (): Uint8Array => {
    try {
      if (s.frameNumber === undefined) {
        return dicomParser.readEncapsulatedPixelDataFromFragments(s.ds, el, 0, el.fragments?.length ?? 1);
      }
      // a frame of a multi-frame object: by the Basic Offset Table, or one fragment per frame without one
      if ((el.basicOffsetTable?.length ?? 0) > 0)
        return dicomParser.readEncapsulatedImageFrame(s.ds, el, s.frame);
      const frames = Number(s.ds.string(TAG.frames) ?? '1');
      if ((el.fragments?.length ?? 0) !== frames) {
        throw new Error(
          `${el.fragments?.length ?? 0} fragments for ${frames} frames and no Basic Offset Table`,
        );
      }
      return dicomParser.readEncapsulatedPixelDataFromFragments(s.ds, el, s.frame, 1);
    } catch (e) {
      throw new InputError(
        `${s.name}: unreadable encapsulated pixel data (${errorText(e)})`,
        'BAD_HEADER',
        label,
      );
    }
  };
  if (s.ts === TS_RLE) {
    try {
      bytes = decodeRleFrame(encapsulated(), n, bytesPerSample);
    } catch (e) {
      if (e instanceof InputError) throw e;
      throw new InputError(`${s.name}: RLE decoding failed (${errorText(e)})`, 'BAD_HEADER', label);
    }
  } else if (JPEG_DECODERS[s.ts]) {
    const frame = encapsulated();
    const [codecName, decode] = JPEG_DECODERS[s.ts];
    if ((s.ts === TS_JPEG_BASELINE || s.ts === TS_JPEG_EXTENDED) && (jpegPrecision(frame) ?? 8) > 8) {
      throw new InputError(
        `${s.name}: ${jpegPrecision(frame)}-bit ${codecName} is not supported (8-bit samples are)`,
        'UNSUPPORTED',
        label,
      );
    }
    let decoded: Awaited<ReturnType<typeof decodeJpeg2000>>;
    try {
      decoded = await decode(frame, bytesPerSample);
    } catch (e) {
      throw new InputError(`${s.name}: ${codecName} decoding failed (${errorText(e)})`, 'BAD_HEADER', label);
    }
    if (decoded.width !== s.cols || decoded.height !== s.rows || decoded.componentCount !== 1) {
      throw new InputError(
        `${s.name}: ${codecName} frame is ${decoded.width}x${decoded.height}x${decoded.componentCount}, the header says ${s.cols}x${s.rows}x1`,
        'BAD_HEADER',
        label,
      );
    }
    bytes = decoded.pixels;
    bytesPerSample = decoded.bitsPerSample <= 8 ? 1 : 2;
  } else {
    const need = n * bytesPerSample;
    // frames of a multi-frame object lie back to back
    const start = el.dataOffset + s.frame * need;
    const end = start + need;
    if (end > s.ds.byteArray.length || el.length < end - el.dataOffset) {
      throw new InputError(
        `${s.name}: truncated pixel data (${Math.max(0, Math.min(el.dataOffset + el.length, s.ds.byteArray.length) - start)} of ${need} bytes)`,
        'TRUNCATED',
        label,
      );
    }
    // a copy (byteArray is often a Node Buffer, whose slice() would be a view)
    bytes = new Uint8Array(s.ds.byteArray.subarray(start, end));
    if (s.ts === TS_EXPLICIT_BE && bytesPerSample === 2) {
      for (let i = 0; i < bytes.length; i += 2) {
        const t = bytes[i];
        bytes[i] = bytes[i + 1];
        bytes[i + 1] = t;
      }
    }
  }
  if (bytesPerSample === 1) {
    const u = bytes.subarray(0, n);
    return s.signed ? new Int8Array(u.buffer, u.byteOffset, n) : u;
  }
  const u16 = new Uint16Array(bytes.buffer, bytes.byteOffset, n);
  const bs = s.bitsStored;
  if (bs < 16) {
    // Keep only the stored bits; sign-extend from the top stored bit for signed data.
    const mask = (1 << bs) - 1;
    if (s.signed) {
      const shift = 32 - bs;
      const out = new Int16Array(n);
      for (let i = 0; i < n; i++) out[i] = ((u16[i] & mask) << shift) >> shift;
      return out;
    }
    for (let i = 0; i < n; i++) u16[i] &= mask;
    return u16;
  }
  return s.signed ? new Int16Array(u16.buffer, u16.byteOffset, n) : u16;
}

/**
 * Deflated explicit VR little endian: inflate the data set after the meta header ourselves, capped
 * (dicom-parser's own Node fallback would inflate without a limit).
 */
function cappedInflater(name: string, label: string, opts?: ReadOptions) {
  return (bytes: Uint8Array, position: number): Uint8Array => {
    const cap = decompressionCap(opts);
    let inflated: Uint8Array;
    try {
      inflated = inflateRawSync(bytes.subarray(position), {
        maxOutputLength: Math.floor(Math.min(cap, 2 ** 32)),
      });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE')
        throw tooLarge(`${label}: ${name}`, cap);
      throw new InputError(`${name}: corrupt deflated data set (${errorText(e)})`, 'BAD_HEADER', label);
    }
    const full = new Uint8Array(position + inflated.length);
    full.set(bytes.subarray(0, position));
    full.set(inflated, position);
    return full;
  };
}

/**
 * What a derived object (a DICOM SEG) needs to reference the series it was made from: the identifying
 * UIDs, the patient/study attributes it must repeat, and per slice, in the volume's k order, the SOP
 * Instance UID and position. No pixel data.
 */
export interface DicomSeriesInfo {
  studyInstanceUid: string;
  seriesInstanceUid: string;
  frameOfReferenceUid: string;
  /** Patient and study attributes (keyword -> text) copied into derived objects; absent ones omitted. */
  patientStudy: Record<string, string>;
  rows: number;
  columns: number;
  /** ImageOrientationPatient (LPS row cosine, column cosine). */
  orientation: number[];
  /** PixelSpacing as in DICOM: [row spacing (between rows), column spacing (between columns)]. */
  pixelSpacing: [number, number];
  sliceThickness?: number;
  /** Distance between consecutive slices (mm); for one slice, SpacingBetweenSlices or thickness. */
  sliceStep: number;
  /**
   * In the volume's k order (ascending along the slice normal). `frameNumber` (1-based) when the slices are
   * frames of one enhanced multi-frame object (they then share its SOP Instance UID).
   */
  slices: Array<{
    sopClassUid: string;
    sopInstanceUid: string;
    position: Vec3;
    file: string;
    frameNumber?: number;
  }>;
}

const PATIENT_STUDY_TAGS: Record<string, string> = {
  PatientName: 'x00100010',
  PatientID: 'x00100020',
  PatientBirthDate: 'x00100030',
  PatientSex: 'x00100040',
  StudyDate: 'x00080020',
  StudyTime: 'x00080030',
  StudyID: 'x00200010',
  AccessionNumber: 'x00080050',
  ReferringPhysicianName: 'x00080090',
  StudyDescription: 'x00081030',
};

function seriesInfo(slices: Slice[], sliceStep: number): DicomSeriesInfo {
  const ds = slices[0].ds;
  const text = (tag: string) => (ds.string(tag) ?? '').trim();
  const patientStudy: Record<string, string> = {};
  for (const [key, tag] of Object.entries(PATIENT_STUDY_TAGS)) {
    if (ds.elements[tag]) patientStudy[key] = text(tag);
  }
  return {
    studyInstanceUid: text(TAG.studyUid),
    seriesInstanceUid: text(TAG.seriesUid),
    frameOfReferenceUid: text(TAG.frameOfReferenceUid),
    patientStudy,
    rows: slices[0].rows,
    columns: slices[0].cols,
    orientation: [...slices[0].iop],
    pixelSpacing: [...slices[0].pixelSpacing],
    sliceThickness: slices[0].thickness,
    sliceStep,
    // the file meta header repeats both UIDs (some anonymised exports keep only that copy)
    slices: slices.map((s) => ({
      sopClassUid: (s.ds.string(TAG.sopClassUid) || s.ds.string(TAG.mediaSopClassUid) || '').trim(),
      sopInstanceUid: (s.ds.string(TAG.sopInstanceUid) || s.ds.string(TAG.mediaSopInstanceUid) || '').trim(),
      position: [...s.ipp],
      file: s.name,
      ...(s.frameNumber !== undefined ? { frameNumber: s.frameNumber } : {}),
    })),
  };
}

/** Decode an in-memory DICOM series (files of one folder or zip). `label` names the series in errors. */
export async function decodeDicomSeries(
  files: Array<{ name: string; bytes: Uint8Array }>,
  label: string,
  opts?: ReadOptions,
): Promise<Volume> {
  return (await decodeDicomSeriesWithInfo(files, label, opts)).volume;
}

/** `decodeDicomSeries` that also returns the series' references (`DicomSeriesInfo`). */
export async function decodeDicomSeriesWithInfo(
  files: Array<{ name: string; bytes: Uint8Array }>,
  label: string,
  opts?: ReadOptions,
): Promise<{ volume: Volume; info: DicomSeriesInfo }> {
  const dicom = files.filter((f) => hasDicmPreamble(f.bytes));
  if (dicom.length === 0) {
    throw new InputError(
      `no DICOM files found (none of ${files.length} files has the DICM preamble)`,
      'BAD_SERIES',
      label,
    );
  }
  const parsed: Array<{ name: string; ds: DataSet }> = [];
  for (const f of dicom) {
    try {
      const inflater = cappedInflater(f.name, label, opts) as unknown as ParseDicomOptions['inflater'];
      parsed.push({ name: f.name, ds: dicomParser.parseDicom(f.bytes, { inflater }) });
    } catch (e) {
      if (e instanceof InputError) throw e;
      const msg = errorText(e);
      const truncated = /buffer overrun|past end|beyond|truncat/i.test(msg);
      throw new InputError(
        `${f.name}: ${truncated ? 'truncated' : 'unreadable'} DICOM file (${msg})`,
        truncated ? 'TRUNCATED' : 'BAD_HEADER',
        label,
      );
    }
  }
  // Only image objects count (a DICOMDIR or a report in the folder is ignored).
  const images = parsed.filter((p) => p.ds.elements[TAG.pixelData]);
  if (images.length === 0) throw new InputError('no DICOM image (with PixelData) found', 'BAD_SERIES', label);
  checkSameSeries(images, label);
  const slices = images.flatMap((p) => toSlices(p.name, p.ds, label));
  checkConsistent(slices, label);
  slices.sort((a, b) => a.position - b.position);
  checkSpacing(slices, label);

  const lossy = [...new Set(slices.map((s) => s.ts).filter((ts) => LOSSY_TS.includes(ts)))];
  if (lossy.length) {
    opts?.onWarning?.(
      `${label}: lossy compression (transfer syntax ${lossy.join(', ')}): intensities differ from the scanner's`,
    );
  }
  const ref = slices[0];
  const nx = ref.cols;
  const ny = ref.rows;
  const nz = slices.length;
  const rowCos = ref.iop.slice(0, 3); // direction of increasing column index (i)
  const colCos = ref.iop.slice(3, 6); // direction of increasing row index (j)
  const dx = ref.pixelSpacing[1];
  const dy = ref.pixelSpacing[0];
  let kStep: number[];
  if (nz > 1) {
    const last = slices[nz - 1].ipp;
    kStep = [0, 1, 2].map((a) => (last[a] - ref.ipp[a]) / (nz - 1));
  } else {
    const thick = ref.spacingBetweenSlices ?? ref.thickness ?? 1;
    kStep = cross(rowCos, colCos).map((v) => v * (thick > 0 ? thick : 1));
  }
  // LPS affine, then RAS (negate x and y), then rows flipped: voxel j' = ny-1-j.
  const affine: Affine = [];
  for (let a = 0; a < 3; a++) {
    const sign = a < 2 ? -1 : 1;
    const ci = rowCos[a] * dx * sign;
    const cj = colCos[a] * dy * sign;
    affine.push(ci, -cj, kStep[a] * sign, (ref.ipp[a] + (ny - 1) * colCos[a] * dy) * sign);
  }
  affine.push(0, 0, 0, 1);

  const raws: Array<Awaited<ReturnType<typeof slicePixels>>> = [];
  let min = Infinity;
  let max = -Infinity;
  let integral = true;
  for (const s of slices) {
    const raw = await slicePixels(s, label);
    raws.push(raw);
    if (!Number.isInteger(s.slope) || !Number.isInteger(s.intercept)) integral = false;
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < raw.length; i++) {
      const v = raw[i];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const a = lo * s.slope + s.intercept;
    const b = hi * s.slope + s.intercept;
    min = Math.min(min, a, b);
    max = Math.max(max, a, b);
  }
  const count = nx * ny * nz;
  let data: VoxelArray;
  if (!integral) data = new Float32Array(count);
  else if (min >= -32768 && max <= 32767) data = new Int16Array(count);
  else data = new Int32Array(count);
  const plane = nx * ny;
  for (let k = 0; k < nz; k++) {
    const raw = raws[k];
    const { slope, intercept } = slices[k];
    for (let j = 0; j < ny; j++) {
      const src = j * nx;
      const dst = k * plane + (ny - 1 - j) * nx;
      for (let i = 0; i < nx; i++) data[dst + i] = raw[src + i] * slope + intercept;
    }
  }
  const modality = ref.ds.string(TAG.modality)?.trim();
  // rounded to 1e-9 mm: slice positions in decimal text leave float noise (0.9999999999999929)
  const dz = Math.round(Math.hypot(kStep[0], kStep[1], kStep[2]) * 1e9) / 1e9;
  const volume: Volume = {
    ...(modality ? { modality } : {}),
    data,
    dims: [nx, ny, nz],
    spacing: [dx, dy, dz],
    affine,
    dtype: data instanceof Float32Array ? 'float32' : data instanceof Int16Array ? 'int16' : 'int32',
  };
  return { volume, info: seriesInfo(slices, dz) };
}

/** Read every file of `dir` (not sub-folders) as one DICOM series. */
export async function readDicomSeries(dir: string, opts?: ReadOptions): Promise<Volume> {
  return (await readDicomSeriesWithInfo(dir, opts)).volume;
}

/** `readDicomSeries` that also returns the series' references (`DicomSeriesInfo`). */
export async function readDicomSeriesWithInfo(
  dir: string,
  opts?: ReadOptions,
): Promise<{ volume: Volume; info: DicomSeriesInfo }> {
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new InputError('no such folder', 'NOT_FOUND', dir);
    if (code === 'ENOTDIR')
      throw new InputError('is a file, expected a folder of DICOM slices', 'BAD_ARGUMENT', dir);
    throw e;
  }
  const files: Array<{ name: string; bytes: Uint8Array }> = [];
  const cap = decompressionCap(opts);
  let total = 0;
  for (const name of names) {
    if (name.startsWith('.')) continue;
    const p = join(dir, name);
    // Only regular files: sub-folders, FIFOs, devices, dangling links and link loops are not slices.
    const st = await stat(p).catch(() => undefined);
    if (!st?.isFile()) continue;
    total += st.size;
    if (total > cap) throw tooLarge(dir, cap);
    files.push({ name, bytes: await readInputFile(p, opts) });
  }
  return decodeDicomSeriesWithInfo(files, dir, opts);
}
