/**
 * The training workflow's Catch target: a failed run (plan, a train-fold job, the ensemble evaluation or
 * registration) is recorded as FAILED with its reason in the models table, never silently lost.
 *
 * The record is a conditional write of the run's own item (stage, runId): it never overwrites a stored
 * item (a run registered before a later step failed keeps its record) and never touches the stage's
 * CURRENT item, so the promoted ensemble stays current.
 *
 * When the failure is a Batch job's, the job is looked up with DescribeJobs: the Catch's Cause is Step
 * Functions' snapshot of the job (and may be cut short), DescribeJobs its final record with every attempt.
 * A job Batch no longer knows, or a DescribeJobs error, falls back to what the Cause says: the failure is
 * recorded either way.
 */
import { type BatchClient, DescribeJobsCommand, type JobDetail } from '@aws-sdk/client-batch';
import { z } from 'zod';
import { foldOutcome, runIdSchema, trainableStage } from './events.ts';
import { batchJobIdOf, batchJobReason, clip, failureReason } from './failure.ts';
import { runIdForExecution } from './identity.ts';
import { logger, safeError } from './logger.ts';
import type { FailedRun, ModelRegistry } from './model-registry.ts';

export interface RunFailureDeps {
  registry: ModelRegistry;
  batch: BatchClient;
  now?: () => Date;
}

/** What the training workflow's RunFailed step passes (to functions/run-failed.ts): the execution's name and start, and the whole state at the Catch. */
export const runFailedInput = z.object({
  execution: z.object({ name: z.string().min(1).max(80), startTime: z.string().min(1) }),
  state: z.object({
    /** The training request's stage (may be missing or invalid when the request itself was bad). */
    stage: z.unknown().optional(),
    /** Present once Plan has run. */
    plan: z.object({ runId: runIdSchema, stage: trainableStage }).optional(),
    error: z.object({ Error: z.string(), Cause: z.string().optional() }),
    /** Present once the fold Map has run: every fold's outcome. */
    foldResults: z.array(foldOutcome).optional(),
  }),
});
export type RunFailedInput = z.infer<typeof runFailedInput>;

/** Partition used when the request named no valid stage (the run still gets its FAILED record). */
export const UNKNOWN_STAGE = 'unknown';

export type DescribedJob =
  | { found: true; job: NonNullable<FailedRun['batchJob']>; reason: string }
  | { found: false; why: 'missing' | 'error' };

/** The final record of one Batch job, or why there is none. */
export async function describeFailedJob(batch: BatchClient, jobId: string): Promise<DescribedJob> {
  let detail: JobDetail | undefined;
  try {
    const out = await batch.send(new DescribeJobsCommand({ jobs: [jobId] }));
    detail = out.jobs?.find((j) => j.jobId === jobId);
  } catch (e) {
    logger.warn('DescribeJobs failed; recording the failure from the Cause', { jobId, ...safeError(e) });
    return { found: false, why: 'error' };
  }
  if (!detail) return { found: false, why: 'missing' };
  const exitCode = detail.container?.exitCode;
  return {
    found: true,
    job: {
      jobId,
      jobName: detail.jobName,
      status: detail.status,
      statusReason: detail.statusReason,
      exitCode,
      attempts: detail.attempts?.length ?? 0,
    },
    reason: batchJobReason({
      jobName: detail.jobName,
      statusReason: detail.statusReason,
      exitCode,
      containerReason: detail.container?.reason,
      logStream: detail.container?.logStreamName,
    }),
  };
}

/**
 * The reason of a caught Step Functions error; for a Batch job's failure, its final record from
 * DescribeJobs (or what the Cause says when Batch no longer knows the job or the call fails).
 */
export async function explainFailure(
  batch: BatchClient,
  error: { Error: string; Cause?: string },
): Promise<{ reason: string; batchJob?: NonNullable<FailedRun['batchJob']> }> {
  const reason = failureReason(error);
  const jobId = batchJobIdOf(error);
  if (!jobId) return { reason };
  const described = await describeFailedJob(batch, jobId);
  if (described.found) return { reason: clip(described.reason), batchJob: described.job };
  return {
    reason: described.why === 'missing' ? clip(`${reason} (Batch no longer knows job ${jobId})`) : reason,
    batchJob: { jobId },
  };
}

export async function recordRunFailure(
  deps: RunFailureDeps,
  input: RunFailedInput,
): Promise<{ runId: string; stage: string; recorded: boolean; reason: string }> {
  const { execution, state } = input;
  const runId = state.plan?.runId ?? runIdForExecution(execution.startTime, execution.name);
  const requested = trainableStage.safeParse(state.stage);
  const stage = state.plan?.stage ?? (requested.success ? requested.data : UNKNOWN_STAGE);
  const { reason, batchJob } = await explainFailure(deps.batch, state.error);
  const jobId = batchJob?.jobId;
  const run: FailedRun = {
    stage,
    runId,
    status: 'FAILED',
    reason,
    error: state.error.Error,
    execution: execution.name,
    failedAt: (deps.now?.() ?? new Date()).toISOString(),
    ...(batchJob ? { batchJob } : {}),
    ...(state.foldResults ? { folds: state.foldResults } : {}),
  };
  const recorded = await deps.registry.recordFailedRun(run);
  logger.warn('training run failed', {
    runId,
    stage,
    error: state.error.Error,
    batchJobId: jobId,
    exitCode: batchJob?.exitCode,
    recorded,
  });
  return { runId, stage, recorded, reason };
}
