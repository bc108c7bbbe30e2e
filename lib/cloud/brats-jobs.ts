/**
 * The brain-tumour path of the segmentation workflow (`incoming/brats/<subject>.zip`): ingest claims the
 * job like a CT's, checks the drop and plans one Batch job (`segment-brats`: unzip, segment with the
 * promoted `brats` ensemble, write label map, report and preview under `results/<jobId>/`); finalize reads
 * that report and marks the job SUCCEEDED with its summary. The CT steps (window, the three stages) are
 * skipped: the brain job normalises the four sequences itself.
 */
import { z } from 'zod';
import { InputError } from '../errors.ts';
import { type BratsPlan, type FinalizeBratsInput, type IngestInput, parseEvent } from './events.ts';
import type { BratsJobSummary, JobResults } from './job-store.ts';
import { RESULT_FILES, resultsPrefix, s3Uri } from './layout.ts';
import { logger } from './logger.ts';
import { fileNameOf, getJson } from './object-store.ts';
import { claimJob, NoModelError, refuseOversized, type SegmentationDeps } from './segmentation.ts';

export type BratsIngestOutput =
  | { status: 'DUPLICATE' }
  | { status: 'CREATED'; task: 'brats'; plan: BratsPlan };

/** The Batch job's arguments: the subject zip, the ensemble, the results prefix. */
export function bratsPlanFor(
  jobId: string,
  subject: string,
  models: string,
  resultsBucket: string,
): BratsPlan {
  return { brats: { jobId, subject, models, out: s3Uri(resultsBucket, resultsPrefix(jobId)) } };
}

export async function ingestBrats(deps: SegmentationDeps, input: IngestInput): Promise<BratsIngestOutput> {
  const { jobId, source } = input;
  const at = (deps.now?.() ?? new Date()).toISOString();
  if (!(await claimJob(deps, input, at))) {
    logger.info('duplicate event: job exists', { jobId });
    return { status: 'DUPLICATE' };
  }
  const file = fileNameOf(source.key);
  if (!source.key.toLowerCase().endsWith('.zip')) {
    throw new InputError('a brain-tumour subject is dropped as a .zip of its folder', 'UNSUPPORTED', file);
  }
  refuseOversized(source.size, file);
  const current = await deps.models.current(['brats']);
  if (!current.brats)
    throw new NoModelError('no promoted model for stage brats: run the training workflow first');
  const subject = s3Uri(source.bucket, source.key);
  logger.info('brain-tumour job created', { jobId, sizeBytes: source.size });
  return {
    status: 'CREATED',
    task: 'brats',
    plan: bratsPlanFor(jobId, subject, current.brats.models, deps.resultsBucket),
  };
}

/** The fields of the brain job's report (`lib/brats/report.ts`) the summary reads. */
const bratsReportFields = z.object({
  dims: z.array(z.number().int().positive()).length(3),
  spacing: z.array(z.number().positive()).length(3),
  tumour: z.object({
    voxels: z.number().int().nonnegative(),
    volumeMl: z.number().nonnegative(),
    components: z.number().int().nonnegative(),
  }),
});

/** The report's whole tumour as the job record's summary. */
export function bratsSummaryOf(report: z.infer<typeof bratsReportFields>): BratsJobSummary {
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    task: 'brats',
    dims: report.dims.slice(0, 3) as [number, number, number],
    spacing: report.spacing.slice(0, 3) as [number, number, number],
    wholeTumourVoxels: report.tumour.voxels,
    wholeTumourVolumeMl: round(report.tumour.volumeMl),
    components: report.tumour.components,
  };
}

export async function finalizeBratsJob(
  deps: SegmentationDeps,
  input: FinalizeBratsInput,
): Promise<{ results: JobResults; summary: BratsJobSummary }> {
  const out = input.plan.brats.out;
  const results = {
    labels: `${out}${RESULT_FILES.labels}`,
    report: `${out}${RESULT_FILES.report}`,
    preview: `${out}${RESULT_FILES.preview}`,
  };
  const report = parseEvent(bratsReportFields, await getJson(deps.s3, results.report), RESULT_FILES.report);
  const summary = bratsSummaryOf(report);
  const at = (deps.now?.() ?? new Date()).toISOString();
  await deps.jobs.succeed(input.jobId, summary, results, at);
  logger.info('job succeeded', { jobId: input.jobId, ...summary });
  return { results, summary };
}
