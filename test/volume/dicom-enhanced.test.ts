// Enhanced multi-frame CT (one file, per-frame functional groups) read into the same Volume as the classic
// series it was built from: the test builds the enhanced object from the real ct-3slice series with dcmjs.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import dcmjs, { type NaturalDataset } from 'dcmjs';
import dicomParser from 'dicom-parser';
import { describe, expect, it } from 'vitest';
import { decodeDicomSeg, encodeDicomSeg, segToLabelMap } from '../../lib/volume/dicom-seg.ts';
import { decodeVolumeBytesWithInfo, readVolumeWithInfo } from '../../lib/volume/read.ts';
import { withData } from '../../lib/volume/volume.ts';
import { SHARED_DATA } from './helpers.ts';
import { encodeJpegLs } from './jpeg-encoders.ts';

const SERIES = join(SHARED_DATA, 'dicom/ct-3slice');
const ENHANCED_CT = '1.2.840.10008.5.1.4.1.1.2.1';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const JPEG_LS = '1.2.840.10008.1.2.4.80';

interface ClassicSlice {
  ds: NaturalDataset;
  pixels: Int16Array;
}

let cached: Promise<ClassicSlice[]> | undefined;
/** The classic files parsed with dcmjs, once. */
function classicSlices(): Promise<ClassicSlice[]> {
  // dcmjs notes every ambiguous VR of the implicit-VR files ("Invalid vr type xs"): expected here
  const dcmjsLog = (dcmjs as unknown as { log: { getLogger(n: string): { setLevel(l: string): void } } }).log;
  dcmjsLog.getLogger('validation.dcmjs').setLevel('silent');
  cached ??= readClassic();
  return cached;
}

async function readClassic(): Promise<ClassicSlice[]> {
  const out: ClassicSlice[] = [];
  for (const name of (await readdir(SERIES)).sort()) {
    const bytes = await readFile(join(SERIES, name));
    const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    const ds = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dcmjs.data.DicomMessage.readFile(buf).dict);
    const px = (ds.PixelData as ArrayBuffer[])[0];
    out.push({ ds, pixels: new Int16Array(px.slice(0)) });
  }
  return out;
}

interface EnhancedOptions {
  /** Frame order in the file (indices of the classic slices). */
  order: number[];
  /** Rescale per frame (stored values shifted so HU stay the same) instead of shared. */
  perFrameRescale?: boolean;
  /** Orientation and pixel measures per frame instead of shared. */
  perFrameGeometry?: boolean;
  transferSyntax?: typeof EXPLICIT_LE | typeof JPEG_LS;
  /** Overrides of frame positions (by frame index in the file). */
  positions?: Record<number, number[]>;
  numberOfFrames?: number;
}

/** An Enhanced CT Image Storage object holding the classic slices as frames. */
async function buildEnhanced(slices: ClassicSlice[], o: EnhancedOptions): Promise<Uint8Array> {
  const first = slices[0].ds;
  const geometry = (ds: NaturalDataset) => ({
    PlaneOrientationSequence: [{ ImageOrientationPatient: ds.ImageOrientationPatient }],
    PixelMeasuresSequence: [{ PixelSpacing: ds.PixelSpacing, SliceThickness: ds.SliceThickness }],
  });
  const rescale = (intercept: number) => ({
    PixelValueTransformationSequence: [{ RescaleIntercept: intercept, RescaleSlope: 1, RescaleType: 'HU' }],
  });
  const frames: Int16Array[] = [];
  const perFrame = o.order.map((k, f) => {
    // per-frame rescale: frame f stores HU + 1024 + 7f with intercept -1024 - 7f
    const shift = o.perFrameRescale ? 7 * f : 0;
    frames.push(slices[k].pixels.map((v) => v + shift));
    return {
      FrameContentSequence: [{ StackID: '1', InStackPositionNumber: f + 1 }],
      PlanePositionSequence: [
        { ImagePositionPatient: o.positions?.[f] ?? slices[k].ds.ImagePositionPatient },
      ],
      ...(o.perFrameGeometry ? geometry(slices[k].ds) : {}),
      ...(o.perFrameRescale ? rescale(Number(slices[k].ds.RescaleIntercept) - shift) : {}),
    };
  });
  const ts = o.transferSyntax ?? EXPLICIT_LE;
  const pixelData =
    ts === JPEG_LS
      ? await Promise.all(
          frames.map(async (f) => {
            const enc = await encodeJpegLs(new Uint16Array(f.buffer), 512, 512);
            return enc.buffer.slice(enc.byteOffset, enc.byteOffset + enc.byteLength);
          }),
        )
      : [concat(frames)];
  const dataset: NaturalDataset = {
    _meta: { TransferSyntaxUID: { Value: [ts] } },
    _vrMap: { PixelData: ts === JPEG_LS ? 'OB' : 'OW' },
    SOPClassUID: ENHANCED_CT,
    SOPInstanceUID: '1.2.826.0.1.3680043.8.498.1',
    StudyInstanceUID: first.StudyInstanceUID,
    SeriesInstanceUID: '1.2.826.0.1.3680043.8.498.2',
    FrameOfReferenceUID: first.FrameOfReferenceUID,
    Modality: 'CT',
    ImageType: ['ORIGINAL', 'PRIMARY', 'AXIAL', 'NONE'],
    NumberOfFrames: o.numberOfFrames ?? o.order.length,
    Rows: 512,
    Columns: 512,
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    BitsAllocated: 16,
    BitsStored: 16,
    HighBit: 15,
    PixelRepresentation: 1,
    SharedFunctionalGroupsSequence: [
      {
        ...(o.perFrameGeometry ? {} : geometry(first)),
        ...(o.perFrameRescale ? {} : rescale(Number(first.RescaleIntercept))),
      },
    ],
    PerFrameFunctionalGroupsSequence: perFrame,
    PixelData: pixelData,
  };
  return new Uint8Array(dcmjs.data.datasetToDict(dataset).write());
}

function concat(frames: Int16Array[]): ArrayBuffer {
  const out = new Int16Array(frames.reduce((n, f) => n + f.length, 0));
  frames.forEach((f, i) => {
    out.set(f, i * f.length);
  });
  return out.buffer;
}

/** File frame numbers (1-based) of the classic files in ascending z, for frames stored in `order`. */
function framesByZ(slices: ClassicSlice[], order: number[]): number[] {
  const z = (k: number) => Number((slices[k].ds.ImagePositionPatient as number[])[2]);
  const ascending = slices.map((_, k) => k).sort((a, b) => z(a) - z(b));
  return ascending.map((k) => order.indexOf(k) + 1);
}

async function expectSameAsClassic(bytes: Uint8Array) {
  const classic = await readVolumeWithInfo(SERIES);
  const enhanced = await decodeVolumeBytesWithInfo('enhanced.dcm', bytes);
  expect(enhanced.volume.dims).toEqual(classic.volume.dims);
  expect(enhanced.volume.spacing).toEqual(classic.volume.spacing);
  expect(enhanced.volume.affine).toEqual(classic.volume.affine);
  expect(enhanced.volume.dtype).toBe(classic.volume.dtype);
  // voxel for voxel (an element-wise loop: 786k voxels)
  let diffs = 0;
  for (let i = 0; i < classic.volume.data.length; i++) {
    if (enhanced.volume.data[i] !== classic.volume.data[i]) diffs++;
  }
  expect(diffs).toBe(0);
  return { classic, enhanced };
}

describe('enhanced multi-frame CT', () => {
  it('reads frames (stored out of order, shared groups) into the classic series volume', async () => {
    const slices = await classicSlices();
    const bytes = await buildEnhanced(slices, { order: [2, 0, 1] });
    const { classic, enhanced } = await expectSameAsClassic(bytes);
    // sorted along the normal (+z here): volume slice k is the frame holding the k-th lowest classic file
    expect(enhanced.dicom?.slices.map((s) => s.frameNumber)).toEqual(framesByZ(slices, [2, 0, 1]));
    expect(framesByZ(slices, [2, 0, 1])).toEqual([1, 3, 2]); // the files' z decreases: 03, 02, 01
    expect(enhanced.dicom?.slices.map((s) => s.position)).toEqual(
      classic.dicom?.slices.map((s) => s.position),
    );
    expect(enhanced.dicom?.slices.every((s) => s.sopClassUid === ENHANCED_CT)).toBe(true);
    expect(enhanced.dicom?.sliceThickness).toBeCloseTo(1.25, 6);
    expect(enhanced.dicom?.studyInstanceUid).toBe(classic.dicom?.studyInstanceUid);
  });

  it('reads per-frame rescale, orientation and pixel measures', async () => {
    const slices = await classicSlices();
    const bytes = await buildEnhanced(slices, {
      order: [0, 1, 2],
      perFrameRescale: true,
      perFrameGeometry: true,
    });
    // the stored values do differ from the classic ones; only the per-frame intercepts make them equal
    const raw = dicomParser.parseDicom(bytes);
    const px = raw.elements.x7fe00010;
    expect(new Int16Array(bytes.slice(px.dataOffset, px.dataOffset + px.length).buffer)[2 * 512 * 512]).toBe(
      slices[2].pixels[0] + 14,
    );
    await expectSameAsClassic(bytes);
  });

  it('reads JPEG-LS compressed frames (one per Basic Offset Table entry)', async () => {
    const slices = await classicSlices();
    const bytes = await buildEnhanced(slices, { order: [1, 2, 0], transferSyntax: JPEG_LS });
    expect(dicomParser.parseDicom(bytes).elements.x7fe00010.basicOffsetTable).toHaveLength(3);
    await expectSameAsClassic(bytes);
  }, 30_000);

  it('applies the series checks to frames: two frames at one position, frame count mismatch', async () => {
    const slices = await classicSlices();
    const dup = await buildEnhanced(slices, {
      order: [0, 1, 2],
      positions: { 2: slices[1].ds.ImagePositionPatient as number[] },
    });
    await expect(decodeVolumeBytesWithInfo('enhanced.dcm', dup)).rejects.toThrow(
      /^enhanced\.dcm: two slices at the same position .* enhanced\.dcm frame 2 and enhanced\.dcm frame 3/,
    );
    const gap = await buildEnhanced(slices, {
      order: [0, 1, 2],
      positions: { 2: (slices[2].ds.ImagePositionPatient as number[]).map((v, a) => (a === 2 ? v - 1 : v)) },
    });
    await expect(decodeVolumeBytesWithInfo('enhanced.dcm', gap)).rejects.toThrow(/missing slice/);
    const count = await buildEnhanced(slices, { order: [0, 1, 2], numberOfFrames: 4 });
    await expect(decodeVolumeBytesWithInfo('enhanced.dcm', count)).rejects.toMatchObject({
      code: 'BAD_HEADER',
      message: expect.stringMatching(/NumberOfFrames 4 does not match the 3 items/),
    });
  });

  it('a DICOM SEG of it references the one instance and each frame by number', async () => {
    const slices = await classicSlices();
    const { volume, dicom } = await decodeVolumeBytesWithInfo(
      'enhanced.dcm',
      await buildEnhanced(slices, { order: [2, 0, 1] }),
    );
    if (!dicom) throw new Error('no series info');
    const [nx, ny] = volume.dims;
    const labels = new Uint8Array(volume.data.length);
    for (let k = 0; k < 3; k++) labels[100 + nx * (200 + ny * k)] = k === 1 ? 2 : 1;
    const seg = encodeDicomSeg(withData(volume, labels), dicom);
    const ds = dicomParser.parseDicom(seg);
    const refs = ds.elements.x00081115.items?.[0].dataSet?.elements.x0008114a.items ?? [];
    expect(refs.map((r) => r.dataSet?.string('x00081155'))).toEqual(['1.2.826.0.1.3680043.8.498.1']);
    // per frame (0008,1160) ReferencedFrameNumber of the source frame its slice came from
    const frames = ds.elements.x52009230.items ?? [];
    const frameNumbers = frames.map((f) => {
      const src = f.dataSet?.elements.x00089124.items?.[0].dataSet?.elements.x00082112.items?.[0].dataSet;
      return [src?.string('x00081155'), src?.intString('x00081160')];
    });
    // liver frames on slices 0, 1, 2, then the tumour frame on slice 1, each naming its file frame
    const byK = framesByZ(slices, [2, 0, 1]);
    expect(frameNumbers.map((f) => f[1])).toEqual([byK[0], byK[1], byK[2], byK[1]]);
    expect([...segToLabelMap(decodeDicomSeg(seg, 'seg.dcm'), volume).data]).toEqual([...labels]);
  });
});
