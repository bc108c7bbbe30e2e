/**
 * The logic of the segmentation workflow's Lambda steps. Handlers in `functions/` validate the event and
 * call these with their dependencies; everything returned goes into the execution state, so it is small
 * (ids, S3 URIs, dims and summary numbers), whatever the size of the scan.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { InputError } from '../errors.ts';
import { checkInput } from '../pipeline/input-checks.ts';
import { caseName } from '../pipeline/inputs.ts';
import { previewOptionsOf } from '../pipeline/preview.ts';
import {
  buildReport,
  isDemoModel,
  reportOptions,
  type SegmentationReport,
  type StageTimings,
} from '../pipeline/report.ts';
import { noLiverFound } from '../pipeline/stages.ts';
import type { Box3 } from '../preprocess/crop.ts';
import { VIEWER_PAGE } from '../viewer/static-layout.ts';
import { boxToInput, fromCanonicalData, toCanonical } from '../volume/orientation.ts';
import { type Vec3, type Volume, voxelCount, withData } from '../volume/volume.ts';
import { type BratsIngestOutput, ingestBrats } from './brats-jobs.ts';
import { DICOM_SEG_FILE, dicomSegOutcome } from './dicom-seg-result.ts';
import {
  boxFile,
  type ExecutionEndedEvent,
  type FinalizeInput,
  type IngestInput,
  type MarkFailedInput,
  type PlanStepInput,
  parseEvent,
  type SegmentationPlan,
  type StageInfo,
  stageInfo,
} from './events.ts';
import { clip, failureReason } from './failure.ts';
import { executionNameFor, jobOfExecution } from './identity.ts';
import type { JobResults, JobStore, LiverJobSummary } from './job-store.ts';
import { JOB_VIEWER_DIR, writeJobViewer } from './job-viewer.ts';
import { hasInputSuffix, RESULT_FILES, resultsPrefix, STAGE_FILES, s3Uri, workPrefix } from './layout.ts';
import { logger } from './logger.ts';
import type { ModelRegistry } from './model-registry.ts';
import { fileNameOf, getJson, getObjectBytes, getUriBytes, putJson, putObjectBytes } from './object-store.ts';
import type { VolumeCodec } from './volume-codec.ts';

/** Scans larger than this are refused before download (a 512x512x1000 int16 CT is 500 MiB raw). */
export const MAX_INPUT_BYTES = 2 * 1024 ** 3;

/** Bad input (TOO_LARGE) for a dropped object over MAX_INPUT_BYTES, before anything reads it. */
export function refuseOversized(size: number, file: string): void {
  if (size > MAX_INPUT_BYTES) {
    throw new InputError(`is ${size} bytes, more than the limit of ${MAX_INPUT_BYTES}`, 'TOO_LARGE', file);
  }
}
/** The smallest grid the three stages can work on (RA-UNet-I slices are resized, patches are padded). */
export const MIN_DIMS: Vec3 = [32, 32, 8];
const MODEL_STAGES = ['localize', 'liver', 'tumor'] as const;

export interface SegmentationDeps {
  s3: S3Client;
  jobs: JobStore;
  models: ModelRegistry;
  codec: VolumeCodec;
  /** The viewer page's script (`jobViewerScript`), for the job's viewer folder. */
  viewerScript: () => Promise<Uint8Array>;
  resultsBucket: string;
  /** Where the intermediate files go (`work/<jobId>/`): a bucket without event notifications. */
  workBucket: string;
  now?: () => Date;
}

const nowIso = (deps: { now?: () => Date }) => (deps.now?.() ?? new Date()).toISOString();

// --- ingest --------------------------------------------------------------------------------------------

export type IngestOutput =
  | { status: 'DUPLICATE' }
  | { status: 'CREATED'; dims: Vec3; spacing: Vec3; plan: SegmentationPlan };

/** Error raised when a stage has no promoted model yet (the training workflow has not run). */
export class NoModelError extends Error {
  override readonly name = 'NoModelError';
}

export function planFor(jobId: string, workBucket: string, models: Record<string, string>): SegmentationPlan {
  const work = s3Uri(workBucket, workPrefix(jobId));
  const preprocessed = `${work}preprocessed.nii.gz`;
  const localizeOut = `${work}localize/`;
  const liverOut = `${work}liver/`;
  return {
    work,
    preprocessed,
    localize: { jobId, ct: preprocessed, models: models.localize, out: localizeOut },
    liver: {
      jobId,
      ct: preprocessed,
      models: models.liver,
      box: `${localizeOut}${STAGE_FILES.box}`,
      out: liverOut,
    },
    tumor: {
      jobId,
      ct: preprocessed,
      models: models.tumor,
      liver: `${liverOut}${STAGE_FILES.liver}`,
      out: `${work}tumor/`,
    },
  };
}

export function checkGrid(vol: Volume, file: string): void {
  if (vol.dims.some((d, i) => d < MIN_DIMS[i])) {
    throw new InputError(
      `volume of ${vol.dims.join('x')} voxels is smaller than the minimum ${MIN_DIMS.join('x')}`,
      'SIZE_MISMATCH',
      file,
    );
  }
  if (vol.spacing.some((s) => !(s > 0 && s < 20))) {
    throw new InputError(
      `voxel spacing ${vol.spacing.join('x')} mm is not plausible for a CT`,
      'BAD_HEADER',
      file,
    );
  }
}

/**
 * Claim the job for this execution: create the record (conditional write), or find it already ours (Lambda
 * retried ingest after the write), or reopen a FAILED job for a re-run with a higher attempt. Anything
 * else is a duplicate (another execution owns the job or it finished).
 */
export async function claimJob(deps: SegmentationDeps, input: IngestInput, at: string): Promise<boolean> {
  const { jobId, source } = input;
  const attempt = input.attempt ?? 1;
  const execution = input.execution ?? executionNameFor(jobId, attempt);
  const created = await deps.jobs.create({
    jobId,
    status: 'RUNNING',
    createdAt: at,
    updatedAt: at,
    source,
    step: 'ingest',
    attempt,
    execution,
  });
  if (created === 'created') return true;
  const job = await deps.jobs.get(jobId);
  if (job?.status === 'RUNNING' && job.execution === execution) {
    logger.info("ingest retried: the job is this execution's", { jobId, attempt });
    return true;
  }
  if (job?.status === 'FAILED' && attempt > (job.attempt ?? 1)) {
    if (await deps.jobs.reopen(jobId, { attempt, execution, source }, at)) {
      logger.info('failed job re-run', { jobId, attempt });
      return true;
    }
  }
  return false;
}

/**
 * Claim the job (see `claimJob`; a duplicate stops here), then validate the scan and look up the current
 * models. Validation errors propagate (the workflow's Catch marks the job FAILED with them).
 */
export async function ingest(
  deps: SegmentationDeps,
  input: IngestInput,
): Promise<IngestOutput | BratsIngestOutput> {
  if (input.task === 'brats') return ingestBrats(deps, input);
  const { jobId, source } = input;
  const at = nowIso(deps);
  if (!(await claimJob(deps, input, at))) {
    logger.info('duplicate event: job exists', { jobId });
    return { status: 'DUPLICATE' };
  }
  const file = fileNameOf(source.key);
  if (!hasInputSuffix(source.key)) {
    throw new InputError('unsupported file type (expected .nii, .nii.gz or .zip)', 'UNSUPPORTED', file);
  }
  refuseOversized(source.size, file);
  const bytes = await getObjectBytes(deps.s3, source, MAX_INPUT_BYTES);
  const vol = await deps.codec.decodeScan(file, bytes);
  checkGrid(vol, file);
  // The CLI's input checks: a refusal fails the job with its reason (the warnings go into the report).
  const { refusal } = checkInput(vol, { modality: vol.modality });
  if (refusal) throw new InputError(refusal.message, 'NOT_CT', file);
  const current = await deps.models.current(MODEL_STAGES);
  const missing = MODEL_STAGES.filter((s) => !current[s]);
  if (missing.length > 0) {
    throw new NoModelError(
      `no promoted model for stage ${missing.join(', ')}: run the training workflow first`,
    );
  }
  const models = Object.fromEntries(MODEL_STAGES.map((s) => [s, current[s].models]));
  logger.info('job created', { jobId, dims: vol.dims, dtype: vol.dtype, sizeBytes: source.size });
  return {
    status: 'CREATED',
    dims: vol.dims,
    spacing: vol.spacing,
    plan: planFor(jobId, deps.workBucket, models),
  };
}

// --- window --------------------------------------------------------------------------------------------

/**
 * HU window + normalisation of the scan on its canonical RAS+ grid (as `segmentCt`: the Batch stages work
 * there, finalize maps their masks back); writes the Float32 volume (NIfTI) to `plan.preprocessed`.
 */
export async function windowScan(
  deps: SegmentationDeps,
  input: PlanStepInput,
): Promise<{ preprocessed: string; dims: Vec3; ms: number }> {
  const { jobId, source, plan } = input;
  const started = performance.now();
  await deps.jobs.setStep(jobId, 'window', nowIso(deps));
  const file = fileNameOf(source.key);
  const vol = await deps.codec.decodeScan(file, await getObjectBytes(deps.s3, source, MAX_INPUT_BYTES));
  const normalized = deps.codec.windowAndNormalize(toCanonical(vol).volume);
  await putObjectBytes(deps.s3, plan.preprocessed, deps.codec.encodeNifti(normalized));
  // The step's wall time (read, window, write): the report's preprocessMs.
  const ms = Math.round(performance.now() - started);
  logger.info('preprocessed volume written', { jobId, dims: vol.dims, ms });
  return { preprocessed: plan.preprocessed, dims: vol.dims, ms };
}

// --- finalize ------------------------------------------------------------------------------------------

/** Label map (0 background, 1 liver, 2 tumor) from the two stage masks; tumor wins where both are set. */
export function combineLabels(liver: ArrayLike<number>, tumor: ArrayLike<number>): Uint8Array {
  if (liver.length !== tumor.length) throw new RangeError('liver and tumor masks differ in size');
  const out = new Uint8Array(liver.length);
  for (let i = 0; i < out.length; i++) out[i] = tumor[i] ? 2 : liver[i] ? 1 : 0;
  return out;
}

/** The job record's summary numbers, read off the report. */
export function summaryOf(report: SegmentationReport): LiverJobSummary {
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    dims: [...report.input.dims],
    spacing: [...report.input.spacing],
    liverVoxels: report.liver.voxels,
    tumorVoxels: report.structures.tumor.voxels,
    liverVolumeMl: round(report.liver.volumeMl),
    tumorVolumeMl: round(report.structures.tumor.volumeMl),
    tumorCount: report.tumors.count,
  };
}

/**
 * Wall time of each step as the workflow measured it: the window Lambda's own time, and each Batch job's
 * run from DescribeJobs' `startedAt` to `stoppedAt` (model download included); total is their sum.
 */
export function stageTimings(input: Pick<FinalizeInput, 'window' | 'batch'>): StageTimings {
  const ms = (t: { startedAt: number; stoppedAt: number }) => Math.max(0, t.stoppedAt - t.startedAt);
  const t = {
    preprocessMs: input.window.ms,
    localizeMs: ms(input.batch.localize),
    liverMs: ms(input.batch.liver),
    tumorMs: ms(input.batch.tumor),
  };
  return { ...t, totalMs: t.preprocessMs + t.localizeMs + t.liverMs + t.tumorMs };
}

function sameDims(a: Volume, b: Volume, what: string): void {
  if (a.dims.some((d, i) => d !== b.dims[i])) {
    throw new Error(`${what} mask is ${b.dims.join('x')}, the scan ${a.dims.join('x')}`);
  }
}

async function readStageInfo(s3: S3Client, out: string): Promise<StageInfo> {
  return parseEvent(stageInfo, await getJson(s3, `${out}${STAGE_FILES.info}`), STAGE_FILES.info);
}

/** The report's case name: the file name without `.nii`, `.nii.gz` or `.zip` (as `raunet segment` names it). */
export function reportName(key: string): string {
  return caseName(fileNameOf(key)).replace(/\.zip$/i, '');
}

/**
 * Label map, report and preview to the results bucket; the job becomes SUCCEEDED with its summary. The
 * report is the one `raunet segment` writes (`buildReport` of the pipeline, with the stages' engines,
 * models and patch sizes from their `stage.json` and the workflow's step times), plus the job's id, source
 * object, summary and result files.
 */
export async function finalizeJob(
  deps: SegmentationDeps,
  input: FinalizeInput,
): Promise<{ results: JobResults; summary: LiverJobSummary }> {
  const { jobId, source, plan } = input;
  const file = fileNameOf(source.key);
  const scanBytes = await getObjectBytes(deps.s3, source, MAX_INPUT_BYTES);
  // The same object version ingest accepted: a DICOM series' references for the SEG come from it.
  const { volume: ct, dicom } = await deps.codec.decodeScanWithInfo(file, scanBytes);
  // The stages ran on the canonical grid (see windowScan); their masks go back onto the scan's own grid.
  const { volume: canonical, reorientation } = toCanonical(ct);
  const liverUri = plan.tumor.liver;
  const tumorUri = `${plan.tumor.out}${STAGE_FILES.tumor}`;
  const liver = deps.codec.decodeNifti(STAGE_FILES.liver, await getUriBytes(deps.s3, liverUri));
  const tumor = deps.codec.decodeNifti(STAGE_FILES.tumor, await getUriBytes(deps.s3, tumorUri));
  sameDims(canonical, liver, 'liver');
  sameDims(canonical, tumor, 'tumor');
  if (voxelCount(ct.dims) !== liver.data.length) throw new Error('liver mask does not fill the grid');
  const info = {
    localize: await readStageInfo(deps.s3, plan.localize.out),
    liver: await readStageInfo(deps.s3, plan.liver.out),
    tumor: await readStageInfo(deps.s3, plan.tumor.out),
  };
  const { box } = parseEvent(boxFile, await getJson(deps.s3, plan.liver.box), STAGE_FILES.box);
  // The label map keeps the input's grid and affine exactly.
  const labels = withData(
    ct,
    fromCanonicalData(combineLabels(liver.data, tumor.data), reorientation),
    'uint8',
  );
  // As `raunet segment`: a scan without liver is a failed job (nothing written), however it came about.
  if (!labels.data.some((v) => v > 0)) throw noLiverFound(file);
  const stageModels = [...info.localize.models, ...info.liver.models, ...info.tumor.models];
  const at = nowIso(deps);
  const report = buildReport(ct, labels, {
    name: reportName(source.key),
    localization: boxToInput(box as Box3, reorientation),
    timings: stageTimings(input),
    engine: info.liver.engine,
    models: { localize: info.localize.models, liver: info.liver.models, tumor: info.tumor.models },
    options: reportOptions(
      {},
      {
        localize: info.localize.patch,
        liver: info.liver.patch,
        tumor: info.tumor.patch,
      },
    ),
    flags: checkInput(ct, { modality: ct.modality }).flags,
    demoModels: stageModels.some(isDemoModel),
    createdAt: at,
  });
  const summary = summaryOf(report);
  const prefix = s3Uri(deps.resultsBucket, resultsPrefix(jobId));
  const seg = dicomSegOutcome(labels, dicom);
  const results: JobResults = {
    labels: `${prefix}${RESULT_FILES.labels}`,
    report: `${prefix}${RESULT_FILES.report}`,
    preview: `${prefix}${RESULT_FILES.preview}`,
    viewer: `${prefix}${JOB_VIEWER_DIR}${VIEWER_PAGE}`,
    ...(seg.kind === 'written'
      ? { dicomSeg: `${prefix}${DICOM_SEG_FILE}` }
      : { dicomSegSkipped: seg.reason }),
  };
  if (seg.kind === 'written' && results.dicomSeg) {
    // the warnings name missing UID attributes only, never values
    for (const w of seg.warnings) logger.warn('DICOM SEG written with generated UIDs', { jobId, detail: w });
    await putObjectBytes(deps.s3, results.dicomSeg, seg.bytes, 'application/dicom');
  }
  const labelBytes = deps.codec.encodeNifti(labels);
  const jobReport = {
    ...report,
    jobId,
    source: { bucket: source.bucket, key: source.key, versionId: source.versionId ?? null },
    summary,
    files: results,
  };
  await putObjectBytes(deps.s3, results.labels, labelBytes, 'application/gzip');
  await putObjectBytes(
    deps.s3,
    results.preview,
    deps.codec.previewPng(ct, labels, previewOptionsOf(report)),
    'image/png',
  );
  // The viewer folder (`raunet view --static`'s layout): the scan as NIfTI, the label map and the report.
  await writeJobViewer(deps.s3, prefix, await deps.viewerScript(), {
    name: report.input.name,
    ctNiftiGz: deps.codec.encodeNifti(ct),
    segNiftiGz: labelBytes,
    report: jobReport,
  });
  // The report last: a job whose report.json exists has all its results.
  await putJson(deps.s3, results.report, jobReport);
  await deps.jobs.succeed(jobId, summary, results, at);
  logger.info('job succeeded', { jobId, ...summary });
  return { results, summary };
}

// --- mark failed ---------------------------------------------------------------------------------------

export async function markFailed(
  deps: Pick<SegmentationDeps, 'jobs' | 'now'>,
  input: MarkFailedInput,
): Promise<{ status: 'FAILED' | 'SUCCEEDED'; reason: string }> {
  const reason = failureReason(input.error);
  const outcome = await deps.jobs.fail(input.jobId, reason, nowIso(deps));
  logger.warn('job failed', { jobId: input.jobId, error: input.error.Error, outcome });
  return { status: outcome === 'failed' ? 'FAILED' : 'SUCCEEDED', reason };
}

/**
 * An execution that ended outside its own Catch (EventBridge "Execution Status Change": TIMED_OUT, ABORTED,
 * or FAILED): its job, while still RUNNING under this execution, becomes FAILED with the reason. A job the
 * Catch already marked, a finished job and another attempt's job are left alone.
 */
export async function markExecutionEnded(
  deps: Pick<SegmentationDeps, 'jobs' | 'now'>,
  event: ExecutionEndedEvent,
): Promise<{ status: 'FAILED' | 'UNCHANGED'; reason?: string }> {
  const { name, status, error, cause } = event.detail;
  const job = jobOfExecution(name);
  if (!job) {
    logger.warn('execution of another form ignored', { status });
    return { status: 'UNCHANGED' };
  }
  const what = { TIMED_OUT: 'timed out', ABORTED: 'was stopped', FAILED: 'failed' }[status];
  const detail = [error, cause].filter((x) => x).join(': ');
  const reason = clip(`segmentation workflow ${what}${detail ? ` (${detail})` : ''}`);
  const outcome = await deps.jobs.failExecution(job.jobId, name, reason, nowIso(deps));
  logger.warn('execution ended', { jobId: job.jobId, status, outcome });
  return outcome === 'failed' ? { status: 'FAILED', reason } : { status: 'UNCHANGED' };
}
