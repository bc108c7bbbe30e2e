/**
 * Writing a segmentation's label map in the formats `raunet segment --format` offers: a volume file,
 * NIfTI (`<name>_seg.nii.gz`, the default), NRRD (`<name>_seg.nrrd`) or MetaImage (`<name>_seg.mha`),
 * with the colour tables `<name>_seg.ctbl` for 3D Slicer and `<name>_seg.labels.txt` for ITK-SNAP next to
 * it, and/or a DICOM SEG (`<name>_seg.dcm`) referencing the DICOM series it was made from. The encodings
 * live in `lib/volume/` (`write-formats.ts`, `dicom-seg.ts`: bytes in, bytes out); this file only decides
 * which files a case gets.
 */
import { InputError } from '../errors.ts';
import type { DicomSeriesInfo } from '../volume/dicom.ts';
import { dicomSegWarnings, encodeDicomSeg } from '../volume/dicom-seg.ts';
import { itkSnapLabelDescription, slicerColorTable } from '../volume/label-tables.ts';
import type { Volume } from '../volume/volume.ts';
import { encodeVolumeFiles } from '../volume/write-formats.ts';

/** `both`: the NIfTI label map and the DICOM SEG. */
export const OUTPUT_FORMATS = ['nifti', 'nrrd', 'mha', 'dicom-seg', 'both'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/**
 * The file suffix of a case's volume outputs (label map, probability maps) in `format`: `.nrrd` or `.mha`
 * for those formats, NIfTI otherwise (a DICOM SEG holds the label map only; probability maps stay NIfTI).
 */
export function volumeSuffix(format: OutputFormat = 'nifti'): '.nii.gz' | '.nrrd' | '.mha' {
  if (format === 'nrrd') return '.nrrd';
  if (format === 'mha') return '.mha';
  return '.nii.gz';
}

/** Formats that write a DICOM SEG (and so need a DICOM source). */
export function writesDicomSeg(format: OutputFormat = 'nifti'): boolean {
  return format === 'dicom-seg' || format === 'both';
}

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
  if (!writesDicomSeg(format)) return;
  const nifti = cases.find((c) => NIFTI_NAME.test(c.path));
  if (nifti) throw noUids(nifti.path);
}

/** The same check on what was actually read (a NIfTI file need not be named `.nii`). */
export function requireDicomSource(path: string, dicom: DicomSeriesInfo | undefined): asserts dicom {
  if (!dicom) throw noUids(path);
}

/**
 * The label map's files for the paths given, as bytes (the caller writes them, all or nothing): the label
 * map in the format its name says (NIfTI, NRRD, MetaImage) with its colour tables, and/or the DICOM SEG.
 */
export function segmentationOutputFiles(
  paths: { seg?: string; dicomSeg?: string; colorTable?: string; labelTable?: string },
  labels: Volume,
  dicom: DicomSeriesInfo | undefined,
  warn: (line: string) => void = () => {},
): Array<[string, Uint8Array]> {
  const files: Array<[string, Uint8Array]> = [];
  if (paths.seg) {
    files.push(...encodeVolumeFiles(paths.seg, labels));
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
