/**
 * Where things live in the buckets. Object keys are chosen by users and may carry patient identifiers:
 * they are stored in job records but never logged and never used in derived names (job ids are hashes).
 */
export const INPUT_SUFFIXES = ['.nii', '.nii.gz', '.zip'] as const;
/**
 * Scans are accepted only under this prefix of the input bucket (the EventBridge rule's pattern and the
 * starter both check it), so no other object can ever start a segmentation.
 */
export const INCOMING_PREFIX = 'incoming/';
/**
 * Brain-tumour subjects: a `.zip` of one BraTS subject folder (`<id>_{t1,t1ce,t2,flair}.nii.gz`) dropped
 * under this prefix runs the brain job (`segment-brats`) instead of the liver stages.
 */
export const BRATS_INCOMING_PREFIX = `${INCOMING_PREFIX}brats/`;
export type SegmentationTask = 'liver' | 'brats';

/** The task a dropped key asks for: `brats` under `incoming/brats/`, else the liver pipeline. */
export function segmentationTaskOf(key: string): SegmentationTask {
  return key.startsWith(BRATS_INCOMING_PREFIX) ? 'brats' : 'liver';
}
/** Intermediate files of a job: `work/<jobId>/...` in the work bucket (no event notifications). */
export const WORK_PREFIX = 'work/';
/** Results of a job: `results/<jobId>/...` in the results bucket. */
export const RESULTS_PREFIX = 'results/';
/** Training runs: `runs/<runId>/...` in the models bucket; datasets under `datasets/<name>/`. */
export const RUNS_PREFIX = 'runs/';
export const DATASETS_PREFIX = 'datasets/';

/** Where a fold job of a training run keeps its S3 checkpoints (see fold-checkpoint.ts). */
export function checkpointPrefix(runId: string, variant: string, stage: string, fold: number): string {
  return `${RUNS_PREFIX}${runId}/checkpoints/${variant}/${stage}/fold-${fold}/`;
}

export function hasInputSuffix(key: string): boolean {
  const lower = key.toLowerCase();
  return INPUT_SUFFIXES.some((s) => lower.endsWith(s));
}

/**
 * True for a key the segmentation workflow accepts: under `incoming/` with a scan suffix; under
 * `incoming/brats/` only a `.zip` (a subject is four files).
 */
export function isIncomingScan(key: string): boolean {
  if (!(key.startsWith(INCOMING_PREFIX) && key.length > INCOMING_PREFIX.length && hasInputSuffix(key)))
    return false;
  return segmentationTaskOf(key) === 'liver' || key.toLowerCase().endsWith('.zip');
}

export function workPrefix(jobId: string): string {
  return `${WORK_PREFIX}${jobId}/`;
}

export function resultsPrefix(jobId: string): string {
  return `${RESULTS_PREFIX}${jobId}/`;
}

export function s3Uri(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}

/** Split `s3://bucket/key` into its parts; throws on anything else. */
export function parseS3Uri(uri: string): { bucket: string; key: string } {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/(.*)$/.exec(uri);
  if (!m) throw new Error(`not an s3:// URI: ${uri}`);
  return { bucket: m[1], key: m[2] };
}

/** Files the Batch stages write under their `out` prefix, and the finalize step reads. */
export const STAGE_FILES = {
  box: 'box.json',
  coarse: 'coarse.nii.gz',
  liver: 'liver.nii.gz',
  tumor: 'tumor.nii.gz',
  /** What the stage ran with: engine, models, patch size (`StageInfo` in events.ts), for the report. */
  info: 'stage.json',
} as const;

/** Files of a finished job under `results/<jobId>/`. */
export const RESULT_FILES = {
  labels: 'labels.nii.gz',
  report: 'report.json',
  preview: 'preview.png',
} as const;
