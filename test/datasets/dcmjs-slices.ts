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
  /** 8 (unsigned) or 16 (signed, the default). */
  bits?: 8 | 16;
  /** ImageOrientationPatient (LPS row and column cosines; default axial [1,0,0,0,1,0]). */
  iop?: [number, number, number, number, number, number];
  /** InstanceNumber (default: none). */
  instanceNumber?: number;
  /** SliceThickness in mm (default 2). */
  sliceThickness?: number;
  /** Encapsulated: the transfer syntax and the compressed frame (pixels then only set the type). */
  compressed?: { transferSyntax: string; frame: Uint8Array };
}

export function dcmSlice(s: DcmSlice): Uint8Array {
  const bits = s.bits ?? 16;
  const px = bits === 8 ? Uint8Array.from(s.pixels) : Int16Array.from(s.pixels);
  const ts = s.compressed?.transferSyntax ?? '1.2.840.10008.1.2.1';
  const ds = {
    _meta: { TransferSyntaxUID: { Value: [ts] } },
    _vrMap: { PixelData: s.compressed || bits === 8 ? 'OB' : 'OW' },
    SOPClassUID: '1.2.840.10008.5.1.4.1.1.2',
    SOPInstanceUID: s.sopUid,
    StudyInstanceUID: '2.25.1001',
    SeriesInstanceUID: s.seriesUid,
    FrameOfReferenceUID: '2.25.1002',
    Modality: 'CT',
    PatientID: 'FAKE',
    ...(s.instanceNumber === undefined ? {} : { InstanceNumber: s.instanceNumber }),
    ImagePositionPatient: s.ipp,
    ImageOrientationPatient: s.iop ?? [1, 0, 0, 0, 1, 0],
    PixelSpacing: s.pixelSpacing ?? [0.7, 0.7],
    SliceThickness: s.sliceThickness ?? 2,
    Rows: s.rows,
    Columns: s.cols,
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    BitsAllocated: bits,
    BitsStored: bits,
    HighBit: bits - 1,
    PixelRepresentation: bits === 8 ? 0 : 1,
    RescaleIntercept: s.intercept ?? 0,
    RescaleSlope: 1,
    PixelData: [s.compressed ? s.compressed.frame.slice().buffer : px.buffer],
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
