/**
 * Writing a segmentation's label map in the formats `raunet segment --format` offers: NIfTI
 * (`<name>_seg.nii.gz`, with the colour tables `<name>_seg.ctbl` for 3D Slicer and
 * `<name>_seg.labels.txt` for ITK-SNAP next to it) and/or a DICOM SEG (`<name>_seg.dcm`) referencing the DICOM series it was made
 * from. The encoding lives in `lib/volume/dicom-seg.ts` (bytes in, bytes out); this file only decides
 * and writes.
 */
import { InputError } from '../errors.ts';
import type { DicomSeriesInfo } from '../volume/dicom.ts';
import { dicomSegWarnings, encodeDicomSeg } from '../volume/dicom-seg.ts';
import { itkSnapLabelDescription, slicerColorTable } from '../volume/label-tables.ts';
import { writeFileAtomic, writeNifti } from '../volume/nifti.ts';
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

/** Write the label map to the paths given; returns the paths written. */
export async function writeSegmentationOutputs(
  paths: { seg?: string; dicomSeg?: string; colorTable?: string; labelTable?: string },
  labels: Volume,
  dicom: DicomSeriesInfo | undefined,
  warn: (line: string) => void = () => {},
): Promise<string[]> {
  const written: string[] = [];
  if (paths.seg) {
    await writeNifti(paths.seg, labels);
    written.push(paths.seg);
    const text = new TextEncoder();
    for (const [path, table] of [
      [paths.colorTable, slicerColorTable],
      [paths.labelTable, itkSnapLabelDescription],
    ] as const) {
      if (!path) continue;
      await writeFileAtomic(path, text.encode(table()));
      written.push(path);
    }
  }
  if (paths.dicomSeg && dicom) {
    for (const w of dicomSegWarnings(dicom)) warn(`warning: ${paths.dicomSeg}: ${w}`);
    await writeFileAtomic(paths.dicomSeg, encodeDicomSeg(labels, dicom));
    written.push(paths.dicomSeg);
  }
  return written;
}
