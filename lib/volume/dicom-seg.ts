/**
 * DICOM Segmentation objects (SOP Class 1.2.840.10008.5.1.4.1.1.66.4), binary, encoded and parsed with
 * dcmjs (the library OHIF uses).
 *
 * - `encodeDicomSeg(labels, source)`: a label map (values of `LABELS`) on the grid of a DICOM series ->
 *   the bytes of a SEG that references that series (study, frame of reference, one source SOP Instance
 *   per frame, per-frame ImagePositionPatient, shared orientation and pixel spacing). One segment per
 *   label: "Liver" holds every voxel >= 1 (the organ with its tumours), "Liver tumor" the voxels == 2.
 *   Frames that would be empty are left out (each segment keeps at least one frame).
 * - `decodeDicomSeg(bytes, name)`: segments and frames (positions, referenced instances, bit masks).
 * - `segToLabelMap(seg, grid)`: the frames painted onto a volume's grid (tumour over liver), for example
 *   the grid of the referenced series as `readVolume` returns it.
 * No file system access here: callers (CLI, cloud) read and write the bytes.
 */
import dcmjs, { type NaturalDataset } from 'dcmjs';
import { InputError } from '../errors.ts';
import { applyAffine, invertAffine } from './affine.ts';
import type { DicomSeriesInfo } from './dicom.ts';
import { type CodedConcept, LABELS, type LabelDefinition } from './labels.ts';
import type { Affine, Vec3, Volume } from './volume.ts';

export const SEG_SOP_CLASS_UID = '1.2.840.10008.5.1.4.1.1.66.4';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
/** (0062,000B) ReferencedSegmentNumber in (0062,000A) SegmentIdentificationSequence. */
const TAG_REFERENCED_SEGMENT_NUMBER = 0x0062000b;
const TAG_SEGMENT_IDENTIFICATION_SEQUENCE = 0x0062000a;
/** (0020,0032) ImagePositionPatient in (0020,9113) PlanePositionSequence. */
const TAG_IMAGE_POSITION_PATIENT = 0x00200032;
const TAG_PLANE_POSITION_SEQUENCE = 0x00209113;

export interface SegWriteOptions {
  /** New UIDs; generated (2.25.<random>) when absent. */
  seriesInstanceUid?: string;
  sopInstanceUid?: string;
  seriesNumber?: number;
  seriesDescription?: string;
  /** Software version written into the Enhanced General Equipment module. */
  softwareVersion?: string;
  /** Content date and time (YYYYMMDD, HHMMSS); now when absent. */
  date?: string;
  time?: string;
}

export interface SegSegment {
  number: number;
  label: string;
  category?: CodedConcept | { value: string; scheme: string; meaning: string };
  type?: { value: string; scheme: string; meaning: string };
  /** RecommendedDisplayCIELabValue converted to sRGB 0..255, when present. */
  color?: [number, number, number];
}

export interface SegFrame {
  segment: number;
  /** ImagePositionPatient (LPS mm) of the frame's top-left pixel. */
  position: Vec3;
  /** The source image the frame was derived from, when the SEG says. */
  referencedSopInstanceUid?: string;
  /** rows x columns, row-major as in DICOM, 1 inside the segment. */
  mask: Uint8Array;
}

export interface DicomSeg {
  sopInstanceUid: string;
  seriesInstanceUid: string;
  studyInstanceUid: string;
  frameOfReferenceUid: string;
  /** SeriesInstanceUID of the series it references, and its instances. */
  referencedSeries: Array<{ seriesInstanceUid: string; sopInstanceUids: string[] }>;
  rows: number;
  columns: number;
  orientation: number[];
  /** As in DICOM: [between rows, between columns]. */
  pixelSpacing: [number, number];
  segments: SegSegment[];
  frames: SegFrame[];
}

/** How a DICOM frame's pixels land on a volume's voxels: voxel = origin + column * di + row * dj. */
interface FrameMapping {
  origin: Vec3;
  di: Vec3;
  dj: Vec3;
}

/** LPS position of pixel (column c, row r) of a frame. */
function framePoint(position: Vec3, iop: number[], ps: [number, number], c: number, r: number): Vec3 {
  return [0, 1, 2].map((a) => position[a] + c * iop[a] * ps[1] + r * iop[3 + a] * ps[0]) as Vec3;
}

function lpsToVoxel(inv: Affine, p: Vec3): Vec3 {
  return applyAffine(inv, [-p[0], -p[1], p[2]]);
}

/**
 * Map a frame (position, orientation, spacing) onto a grid; null when it does not fall on the grid's
 * voxels (not on a slice, rotated against it, or a different pixel size).
 */
function frameMapping(
  grid: Pick<Volume, 'dims' | 'affine'>,
  position: Vec3,
  iop: number[],
  ps: [number, number],
  rows: number,
  columns: number,
): FrameMapping | null {
  const inv = invertAffine(grid.affine);
  const o = lpsToVoxel(inv, position);
  const a = lpsToVoxel(inv, framePoint(position, iop, ps, 1, 0));
  const b = lpsToVoxel(inv, framePoint(position, iop, ps, 0, 1));
  const tol = 1e-2;
  const round = (v: Vec3): Vec3 | null => {
    const r = v.map(Math.round) as Vec3;
    return r.every((x, i) => Math.abs(x - v[i]) <= tol) ? r : null;
  };
  const origin = round(o);
  const di = round([a[0] - o[0], a[1] - o[1], a[2] - o[2]]);
  const dj = round([b[0] - o[0], b[1] - o[1], b[2] - o[2]]);
  if (!origin || !di || !dj) return null;
  const unit = (v: Vec3) => v.reduce((s, x) => s + Math.abs(x), 0) === 1;
  if (!unit(di) || !unit(dj)) return null;
  for (const [c, r] of [
    [0, 0],
    [columns - 1, 0],
    [0, rows - 1],
    [columns - 1, rows - 1],
  ]) {
    for (let ax = 0; ax < 3; ax++) {
      const v = origin[ax] + c * di[ax] + r * dj[ax];
      if (v < 0 || v >= grid.dims[ax]) return null;
    }
  }
  return { origin, di, dj };
}

function code(c: { value: string; scheme: string; meaning: string }): NaturalDataset {
  return { CodeValue: c.value, CodingSchemeDesignator: c.scheme, CodeMeaning: c.meaning };
}

function inSegment(label: LabelDefinition, v: number): boolean {
  // the liver segment is the whole organ, tumours included
  return label.key === 'liver' ? v >= 1 : v === label.value;
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

/**
 * What a viewer will not be able to match when `source` lacks identifying UIDs (some anonymised exports
 * drop them); `encodeDicomSeg` then writes newly generated ones in their place.
 */
export function dicomSegWarnings(source: DicomSeriesInfo): string[] {
  const missing = (
    [
      ['StudyInstanceUID', source.studyInstanceUid],
      ['SeriesInstanceUID', source.seriesInstanceUid],
      ['FrameOfReferenceUID', source.frameOfReferenceUid],
    ] as const
  )
    .filter(([, v]) => !v)
    .map(([k]) => k);
  if (missing.length === 0) return [];
  return [
    `the DICOM series has no ${missing.join(', ')}; the DICOM SEG carries newly generated ones, so viewers ` +
      'will not file it with the series by those (its per-frame references to the slices stand)',
  ];
}

/**
 * Encode `labels` (a label map on the grid of the series described by `source`) as a binary DICOM SEG.
 * Throws an `InputError` when the label map is not on that series' grid.
 */
export function encodeDicomSeg(
  labels: Volume,
  source: DicomSeriesInfo,
  opts: SegWriteOptions = {},
): Uint8Array {
  const { rows, columns, orientation: iop, pixelSpacing: ps } = source;
  const mappings = source.slices.map((s) => frameMapping(labels, s.position, iop, ps, rows, columns));
  const bad = mappings.indexOf(null);
  if (bad >= 0) {
    throw new InputError(
      `the label map (${labels.dims.join('x')}) is not on the grid of the DICOM series: slice ${source.slices[bad].file} does not fall on its voxels`,
      'BAD_ARGUMENT',
    );
  }
  const noUid = source.slices.find((s) => !s.sopInstanceUid);
  if (noUid) {
    throw new InputError(
      `${noUid.file} has no SOP Instance UID, so a DICOM SEG cannot reference it`,
      'BAD_SERIES',
    );
  }
  const plane = rows * columns;
  const frameMask = (m: FrameMapping, label: LabelDefinition): Uint8Array | null => {
    const out = new Uint8Array(plane);
    const [nx, ny] = labels.dims;
    let any = false;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < columns; c++) {
        const i = m.origin[0] + c * m.di[0] + r * m.dj[0];
        const j = m.origin[1] + c * m.di[1] + r * m.dj[1];
        const k = m.origin[2] + c * m.di[2] + r * m.dj[2];
        if (inSegment(label, labels.data[i + nx * (j + ny * k)])) {
          out[r * columns + c] = 1;
          any = true;
        }
      }
    }
    return any ? out : null;
  };

  const frames: Array<{ segment: number; slice: number; mask: Uint8Array }> = [];
  LABELS.forEach((label, s) => {
    const first = frames.length;
    source.slices.forEach((_, k) => {
      const mask = frameMask(mappings[k] as FrameMapping, label);
      if (mask) frames.push({ segment: s + 1, slice: k, mask });
    });
    if (frames.length === first) frames.push({ segment: s + 1, slice: 0, mask: new Uint8Array(plane) });
  });

  // Binary SEG pixel data: one bit per pixel, frames back to back, least significant bit first.
  const packed = new Uint8Array(Math.ceil((frames.length * plane) / 8));
  frames.forEach((f, n) => {
    const base = n * plane;
    for (let p = 0; p < plane; p++) {
      if (f.mask[p]) {
        const bit = base + p;
        packed[bit >> 3] |= 1 << (bit & 7);
      }
    }
  });

  const now = new Date();
  const date = opts.date ?? `${now.getUTCFullYear()}${pad2(now.getUTCMonth() + 1)}${pad2(now.getUTCDate())}`;
  const time =
    opts.time ?? `${pad2(now.getUTCHours())}${pad2(now.getUTCMinutes())}${pad2(now.getUTCSeconds())}`;
  const uid = () => dcmjs.data.DicomMetaDictionary.uid();
  const dimensionOrganizationUid = uid();
  // Type 1 attributes a source series may lack (see dicomSegWarnings): new UIDs stand in
  const generated = { study: uid(), series: uid(), frameOfReference: uid() };
  const patientStudy: NaturalDataset = {};
  for (const [key, value] of Object.entries(source.patientStudy)) {
    patientStudy[key] = key.endsWith('Name') ? (value ? [{ Alphabetic: value }] : []) : value;
  }
  for (const key of [
    'PatientName',
    'PatientID',
    'PatientBirthDate',
    'PatientSex',
    'StudyID',
    'AccessionNumber',
  ]) {
    if (!(key in patientStudy)) patientStudy[key] = key === 'PatientName' ? [] : '';
  }
  if (!('ReferringPhysicianName' in patientStudy)) patientStudy.ReferringPhysicianName = [];
  if (!('StudyDate' in patientStudy)) patientStudy.StudyDate = '';
  if (!('StudyTime' in patientStudy)) patientStudy.StudyTime = '';

  const thickness = source.sliceThickness ?? source.sliceStep;
  const dataset: NaturalDataset = {
    _meta: { TransferSyntaxUID: { Value: [EXPLICIT_LE] } },
    _vrMap: { PixelData: 'OB' },
    SOPClassUID: SEG_SOP_CLASS_UID,
    SOPInstanceUID: opts.sopInstanceUid ?? uid(),
    ...patientStudy,
    StudyInstanceUID: source.studyInstanceUid || generated.study,
    SeriesInstanceUID: opts.seriesInstanceUid ?? uid(),
    SeriesNumber: opts.seriesNumber ?? 901,
    SeriesDescription: opts.seriesDescription ?? 'RA-UNet liver and tumor segmentation',
    SeriesDate: date,
    SeriesTime: time,
    ContentDate: date,
    ContentTime: time,
    InstanceNumber: 1,
    Modality: 'SEG',
    Manufacturer: 'raunet',
    ManufacturerModelName: 'RA-UNet',
    DeviceSerialNumber: '0',
    SoftwareVersions: opts.softwareVersion ?? '0.1.0',
    FrameOfReferenceUID: source.frameOfReferenceUid || generated.frameOfReference,
    PositionReferenceIndicator: '',
    ImageType: ['DERIVED', 'PRIMARY'],
    ContentLabel: 'RAUNET',
    ContentDescription: 'Automatic liver and liver tumor segmentation (research use)',
    ContentCreatorName: [],
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    Rows: rows,
    Columns: columns,
    BitsAllocated: 1,
    BitsStored: 1,
    HighBit: 0,
    PixelRepresentation: 0,
    LossyImageCompression: '00',
    SegmentationType: 'BINARY',
    NumberOfFrames: frames.length,
    ReferencedSeriesSequence: [
      {
        SeriesInstanceUID: source.seriesInstanceUid || generated.series,
        // each instance once (the frames of an enhanced multi-frame source share one)
        ReferencedInstanceSequence: [
          ...new Map(source.slices.map((s) => [s.sopInstanceUid, s])).values(),
        ].map((s) => ({
          ReferencedSOPClassUID: s.sopClassUid,
          ReferencedSOPInstanceUID: s.sopInstanceUid,
        })),
      },
    ],
    DimensionOrganizationSequence: [{ DimensionOrganizationUID: dimensionOrganizationUid }],
    DimensionIndexSequence: [
      {
        DimensionOrganizationUID: dimensionOrganizationUid,
        DimensionIndexPointer: TAG_REFERENCED_SEGMENT_NUMBER,
        FunctionalGroupPointer: TAG_SEGMENT_IDENTIFICATION_SEQUENCE,
        DimensionDescriptionLabel: 'ReferencedSegmentNumber',
      },
      {
        DimensionOrganizationUID: dimensionOrganizationUid,
        DimensionIndexPointer: TAG_IMAGE_POSITION_PATIENT,
        FunctionalGroupPointer: TAG_PLANE_POSITION_SEQUENCE,
        DimensionDescriptionLabel: 'ImagePositionPatient',
      },
    ],
    SegmentSequence: LABELS.map((label, s) => ({
      SegmentNumber: s + 1,
      SegmentLabel: label.name,
      SegmentAlgorithmType: 'AUTOMATIC',
      SegmentAlgorithmName: 'RA-UNet',
      SegmentedPropertyCategoryCodeSequence: [code(label.category)],
      SegmentedPropertyTypeCodeSequence: [code(label.type)],
      ...(label.anatomicRegion ? { AnatomicRegionSequence: [code(label.anatomicRegion)] } : {}),
      RecommendedDisplayCIELabValue: dcmjs.data.Colors.rgb2DICOMLAB(label.color.map((v) => v / 255)).map(
        Math.round,
      ),
    })),
    SharedFunctionalGroupsSequence: [
      {
        PlaneOrientationSequence: [{ ImageOrientationPatient: iop }],
        PixelMeasuresSequence: [
          { PixelSpacing: ps, SliceThickness: thickness, SpacingBetweenSlices: source.sliceStep },
        ],
      },
    ],
    PerFrameFunctionalGroupsSequence: frames.map((f) => {
      const s = source.slices[f.slice];
      return {
        DerivationImageSequence: [
          {
            SourceImageSequence: [
              {
                ReferencedSOPClassUID: s.sopClassUid,
                ReferencedSOPInstanceUID: s.sopInstanceUid,
                ...(s.frameNumber !== undefined ? { ReferencedFrameNumber: s.frameNumber } : {}),
                PurposeOfReferenceCodeSequence: [
                  code({
                    value: '121322',
                    scheme: 'DCM',
                    meaning: 'Source image for image processing operation',
                  }),
                ],
              },
            ],
            DerivationCodeSequence: [code({ value: '113076', scheme: 'DCM', meaning: 'Segmentation' })],
          },
        ],
        FrameContentSequence: [{ DimensionIndexValues: [f.segment, f.slice + 1] }],
        PlanePositionSequence: [{ ImagePositionPatient: s.position }],
        SegmentIdentificationSequence: [{ ReferencedSegmentNumber: f.segment }],
      };
    }),
    PixelData: [packed.buffer],
  };
  const dict = dcmjs.data.datasetToDict(dataset);
  return new Uint8Array(dict.write());
}

// ---- reading --------------------------------------------------------------------------------------

type Item = Record<string, unknown>;

function first(v: unknown): Item | undefined {
  return Array.isArray(v) ? (v[0] as Item | undefined) : (v as Item | undefined);
}

function nums(v: unknown): number[] {
  return (Array.isArray(v) ? v : v === undefined ? [] : [v]).map(Number);
}

function str(v: unknown): string {
  return v === undefined || v === null ? '' : String(Array.isArray(v) ? v[0] : v);
}

function codeOf(v: unknown): SegSegment['type'] {
  const c = first(v);
  if (!c) return undefined;
  return { value: str(c.CodeValue), scheme: str(c.CodingSchemeDesignator), meaning: str(c.CodeMeaning) };
}

/** Parse a DICOM SEG. `name` names the file in errors. */
export function decodeDicomSeg(bytes: Uint8Array, name: string): DicomSeg {
  let ds: Item;
  try {
    const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    ds = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dcmjs.data.DicomMessage.readFile(buf).dict);
  } catch (e) {
    throw new InputError(
      `unreadable DICOM file (${e instanceof Error ? e.message : String(e)})`,
      'BAD_HEADER',
      name,
    );
  }
  if (str(ds.SOPClassUID) !== SEG_SOP_CLASS_UID) {
    throw new InputError(`not a DICOM Segmentation (SOP Class ${str(ds.SOPClassUID)})`, 'UNSUPPORTED', name);
  }
  const type = str(ds.SegmentationType);
  const bits = Number(ds.BitsAllocated);
  if (type !== 'BINARY' || bits !== 1) {
    throw new InputError(
      `SegmentationType ${type} with BitsAllocated ${bits} is not supported (BINARY, 1 bit)`,
      'UNSUPPORTED',
      name,
    );
  }
  const rows = Number(ds.Rows);
  const columns = Number(ds.Columns);
  const nFrames = Number(ds.NumberOfFrames ?? 1);
  const shared = first(ds.SharedFunctionalGroupsSequence) ?? {};
  const perFrame = (
    Array.isArray(ds.PerFrameFunctionalGroupsSequence) ? ds.PerFrameFunctionalGroupsSequence : []
  ) as Item[];
  if (perFrame.length !== nFrames) {
    throw new InputError(
      `${nFrames} frames but ${perFrame.length} per-frame functional groups`,
      'BAD_HEADER',
      name,
    );
  }
  const group = (f: Item, key: string): Item | undefined => first(f[key]) ?? first(shared[key]);
  const iop = nums(group(perFrame[0] ?? {}, 'PlaneOrientationSequence')?.ImageOrientationPatient);
  const ps = nums(group(perFrame[0] ?? {}, 'PixelMeasuresSequence')?.PixelSpacing);
  if (iop.length !== 6 || ps.length !== 2 || !(rows > 0 && columns > 0)) {
    throw new InputError(
      'missing ImageOrientationPatient, PixelSpacing, Rows or Columns',
      'BAD_HEADER',
      name,
    );
  }
  const pixelData = first(ds.PixelData) as unknown as ArrayBuffer | undefined;
  const plane = rows * columns;
  const packed = pixelData ? new Uint8Array(pixelData) : new Uint8Array(0);
  if (packed.length < Math.ceil((nFrames * plane) / 8)) {
    throw new InputError(
      `pixel data holds ${packed.length} bytes, ${nFrames} frames of ${columns}x${rows} need ${Math.ceil((nFrames * plane) / 8)}`,
      'TRUNCATED',
      name,
    );
  }
  const frames: SegFrame[] = perFrame.map((f, n) => {
    const position = nums(group(f, 'PlanePositionSequence')?.ImagePositionPatient);
    if (position.length !== 3) {
      throw new InputError(`frame ${n + 1} has no ImagePositionPatient`, 'BAD_HEADER', name);
    }
    const segment = Number(group(f, 'SegmentIdentificationSequence')?.ReferencedSegmentNumber);
    const source = first(first(group(f, 'DerivationImageSequence')?.SourceImageSequence));
    const mask = new Uint8Array(plane);
    const base = n * plane;
    for (let p = 0; p < plane; p++) {
      const bit = base + p;
      mask[p] = (packed[bit >> 3] >> (bit & 7)) & 1;
    }
    return {
      segment,
      position: position as Vec3,
      referencedSopInstanceUid: source ? str(source.ReferencedSOPInstanceUID) : undefined,
      mask,
    };
  });
  const segments: SegSegment[] = ((ds.SegmentSequence ?? []) as Item[]).map((s) => {
    const lab = nums(s.RecommendedDisplayCIELabValue);
    return {
      number: Number(s.SegmentNumber),
      label: str(s.SegmentLabel),
      category: codeOf(s.SegmentedPropertyCategoryCodeSequence),
      type: codeOf(s.SegmentedPropertyTypeCodeSequence),
      color:
        lab.length === 3
          ? (dcmjs.data.Colors.dicomlab2RGB(lab).map((v) => Math.round(v * 255)) as [number, number, number])
          : undefined,
    };
  });
  return {
    sopInstanceUid: str(ds.SOPInstanceUID),
    seriesInstanceUid: str(ds.SeriesInstanceUID),
    studyInstanceUid: str(ds.StudyInstanceUID),
    frameOfReferenceUid: str(ds.FrameOfReferenceUID),
    referencedSeries: ((ds.ReferencedSeriesSequence ?? []) as Item[]).map((r) => ({
      seriesInstanceUid: str(r.SeriesInstanceUID),
      sopInstanceUids: ((r.ReferencedInstanceSequence ?? []) as Item[]).map((i) =>
        str(i.ReferencedSOPInstanceUID),
      ),
    })),
    rows,
    columns,
    orientation: iop,
    pixelSpacing: [ps[0], ps[1]],
    segments,
    frames,
  };
}

/** The older SNOMED-RT codes (scheme SRT) of the same concepts, as dcmqi's older SEGs carry them. */
const LEGACY_SRT: Record<LabelDefinition['key'], string> = { liver: 'T-62000', tumor: 'M-8FFFF' };

/**
 * The label value a segment gets in a label map: ours by its property type (liver 1, neoplasm 2), any
 * other segment its segment number.
 */
export function labelValueOf(segment: SegSegment): number {
  const t = segment.type;
  const match = LABELS.find(
    (l) =>
      (l.type.value === t?.value && l.type.scheme === t?.scheme) ||
      (t?.scheme === 'SRT' && LEGACY_SRT[l.key] === t.value),
  );
  return match ? match.value : segment.number;
}

/**
 * Paint the SEG's frames onto `grid` (dims + affine, e.g. the referenced series read by `readVolume`).
 * Higher label values win where segments overlap (tumour over liver). Throws when a frame does not fall
 * on the grid's voxels.
 */
export function segToLabelMap(
  seg: DicomSeg,
  grid: Pick<Volume, 'dims' | 'affine' | 'spacing'>,
  name = 'SEG',
): Volume<Uint8Array> {
  const [nx, ny, nz] = grid.dims;
  const data = new Uint8Array(nx * ny * nz);
  const values = new Map(seg.segments.map((s) => [s.number, labelValueOf(s)]));
  seg.frames.forEach((f, n) => {
    const m = frameMapping(grid, f.position, seg.orientation, seg.pixelSpacing, seg.rows, seg.columns);
    if (!m) {
      throw new InputError(
        `frame ${n + 1} (ImagePositionPatient ${f.position.join('\\')}) does not fall on the reference grid ${grid.dims.join('x')}`,
        'BAD_SERIES',
        name,
      );
    }
    const value = values.get(f.segment) ?? f.segment;
    for (let r = 0; r < seg.rows; r++) {
      for (let c = 0; c < seg.columns; c++) {
        if (!f.mask[r * seg.columns + c]) continue;
        const i = m.origin[0] + c * m.di[0] + r * m.dj[0];
        const j = m.origin[1] + c * m.di[1] + r * m.dj[1];
        const k = m.origin[2] + c * m.di[2] + r * m.dj[2];
        const at = i + nx * (j + ny * k);
        if (value > data[at]) data[at] = value;
      }
    }
  });
  return {
    data,
    dims: [nx, ny, nz],
    spacing: [...grid.spacing],
    affine: [...grid.affine],
    dtype: 'uint8',
  };
}
