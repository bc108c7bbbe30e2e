/**
 * Writing a segmentation's label map in the formats `raunet segment --format` offers: NIfTI
 * (`<name>_seg.nii.gz`, with the colour tables `<name>_seg.ctbl` for 3D Slicer and
 * `<name>_seg.labels.txt` for ITK-SNAP next to it) and/or a DICOM SEG (`<name>_seg.dcm`) referencing the DICOM series it was made
 * from. The encoding lives in `lib/volume/dicom-seg.ts` (bytes in, bytes out); this file only decides
 * which files a case gets.
 */
import { InputError } from '../errors.ts';
import type { DicomSeriesInfo } from '../volume/dicom.ts';
import { dicomSegWarnings, encodeDicomSeg } from '../volume/dicom-seg.ts';
import { itkSnapLabelDescription, slicerColorTable } from '../volume/label-tables.ts';
import { encodeNifti } from '../volume/nifti.ts';
import type { Volume } from '../volume/volume.ts';

export type OutputFormat = 'nifti' | 'dicom-seg' | 'both';

const NIFTI_NAME = /\.nii(\.gz)?$/i;

function noUids(path: string): InputError {
  return new InputError(
    'a NIfTI input has no DICOM UIDs for a DICOM SEG to reference; --format dicom-seg/both needs a DICOM series (use --format nifti)',
    'BAD_ARGUMENT',
    path,
  );
}

/** Refuse, before any work, a NIfTI file given with a format that needs a DICOM source. */
export function checkInputsForFormat(cases: Array<{ path: string }>, format: OutputFormat = 'nifti'): void {
  if (format === 'nifti') return;
  const nifti = cases.find((c) => NIFTI_NAME.test(c.path));
  if (nifti) throw noUids(nifti.path);
}

/** The same check on what was actually read (a NIfTI file need not be named `.nii`). */
export function requireDicomSource(path: string, dicom: DicomSeriesInfo | undefined): asserts dicom {
  if (!dicom) throw noUids(path);
}

/**
 * The label map's files for the paths given, as bytes (the caller writes them, all or nothing): the NIfTI
 * label map with its colour tables, and/or the DICOM SEG.
 */
export function segmentationOutputFiles(
  paths: { seg?: string; dicomSeg?: string; colorTable?: string; labelTable?: string },
  labels: Volume,
  dicom: DicomSeriesInfo | undefined,
  warn: (line: string) => void = () => {},
): Array<[string, Uint8Array]> {
  const files: Array<[string, Uint8Array]> = [];
  if (paths.seg) {
    files.push([paths.seg, encodeNifti(labels, { gzip: true })]);
    const text = new TextEncoder();
    for (const [path, table] of [
      [paths.colorTable, slicerColorTable],
      [paths.labelTable, itkSnapLabelDescription],
    ] as const) {
      if (path) files.push([path, text.encode(table())]);
    }
  }
  if (paths.dicomSeg && dicom) {
    for (const w of dicomSegWarnings(dicom)) warn(`warning: ${paths.dicomSeg}: ${w}`);
    files.push([paths.dicomSeg, encodeDicomSeg(labels, dicom)]);
  }
  return files;
}
