/**
 * The DICOM SEG a segmentation job adds to its results when the dropped scan was a DICOM series (a zip):
 * `results/<jobId>/labels.dcm`, the label map encoded by `encodeDicomSeg` and referencing the source
 * series (study, frame of reference, one source SOP Instance per frame).
 *
 * Where the references come from: the ingest step keeps no UIDs (its output goes into the execution state
 * and stays small and free of patient data); the finalize step re-reads the very object version ingest
 * accepted (`source.versionId`) to put the masks back on the scan's grid, and takes the series' references
 * from that same read. So nothing identifying passes through the Step Functions state, the Batch jobs or
 * the logs; only the results bucket (private, encrypted) holds the SEG, as it holds the label map.
 *
 * A NIfTI drop (no DICOM UIDs), or a series the SEG cannot reference (slices without SOP Instance UIDs),
 * gets no SEG; the job record and report say why (`dicomSegSkipped`) and the job still succeeds.
 */
import { InputError } from '../errors.ts';
import type { DicomSeriesInfo } from '../volume/dicom.ts';
import { dicomSegWarnings, encodeDicomSeg } from '../volume/dicom-seg.ts';
import type { Volume } from '../volume/volume.ts';

/** The results bucket's file name of the SEG, beside `labels.nii.gz` (never derived from the user's key). */
export const DICOM_SEG_FILE = 'labels.dcm';

/** Why a job got no DICOM SEG when its scan was not DICOM. */
export const NOT_DICOM_REASON =
  'the scan was not a DICOM series (a NIfTI file has no DICOM UIDs for a DICOM SEG to reference)';

export type DicomSegOutcome =
  | { kind: 'written'; bytes: Uint8Array; warnings: string[] }
  | { kind: 'skipped'; reason: string };

/**
 * The SEG of `labels` (on the grid of the series `dicom` describes), or why there is none. Problems of the
 * series itself become a skip reason, not a failed job: the NIfTI label map is still good.
 */
export function dicomSegOutcome(labels: Volume, dicom: DicomSeriesInfo | undefined): DicomSegOutcome {
  if (!dicom) return { kind: 'skipped', reason: NOT_DICOM_REASON };
  try {
    return { kind: 'written', bytes: encodeDicomSeg(labels, dicom), warnings: dicomSegWarnings(dicom) };
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    return { kind: 'skipped', reason: `the DICOM SEG could not reference the series: ${e.message}` };
  }
}
