/**
 * Test-only: DICOM slices written with dcmjs (not the project's reader or the hand-rolled builder), for
 * fake datasets in real layouts.
 */
import dcmjs from 'dcmjs';

export interface DcmSlice {
  seriesUid: string;
  sopUid: string;
  /** LPS position of the top-left pixel. */
  ipp: [number, number, number];
  rows: number;
  cols: number;
  pixelSpacing?: [number, number];
  /** Stored values, row by row (int16). */
  pixels: ArrayLike<number>;
  intercept?: number;
}

export function dcmSlice(s: DcmSlice): Uint8Array {
  const px = Int16Array.from(s.pixels);
  const ds = {
    _meta: { TransferSyntaxUID: { Value: ['1.2.840.10008.1.2.1'] } },
    _vrMap: { PixelData: 'OW' },
    SOPClassUID: '1.2.840.10008.5.1.4.1.1.2',
    SOPInstanceUID: s.sopUid,
    StudyInstanceUID: '2.25.1001',
    SeriesInstanceUID: s.seriesUid,
    FrameOfReferenceUID: '2.25.1002',
    Modality: 'CT',
    PatientID: 'FAKE',
    ImagePositionPatient: s.ipp,
    ImageOrientationPatient: [1, 0, 0, 0, 1, 0],
    PixelSpacing: s.pixelSpacing ?? [0.7, 0.7],
    SliceThickness: 2,
    Rows: s.rows,
    Columns: s.cols,
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    BitsAllocated: 16,
    BitsStored: 16,
    HighBit: 15,
    PixelRepresentation: 1,
    RescaleIntercept: s.intercept ?? 0,
    RescaleSlope: 1,
    PixelData: [px.buffer],
  };
  return new Uint8Array(dcmjs.data.datasetToDict(ds).write());
}

/** A series of `nz` axial slices, 2 mm apart, value of pixel (c, r, k) from `value`. */
export function dcmSeries(
  uid: string,
  dims: [number, number, number],
  value: (c: number, r: number, k: number) => number,
  z0 = 0,
): Array<{ name: string; bytes: Uint8Array }> {
  const [cols, rows, nz] = dims;
  return Array.from({ length: nz }, (_, k) => ({
    name: `image_${k}`,
    bytes: dcmSlice({
      seriesUid: uid,
      sopUid: `${uid}.${k + 1}`,
      ipp: [-10, -20, z0 + 2 * k],
      rows,
      cols,
      pixels: Array.from({ length: rows * cols }, (_, p) => value(p % cols, Math.floor(p / cols), k)),
    }),
  }));
}
