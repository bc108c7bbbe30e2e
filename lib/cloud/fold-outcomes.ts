/**
 * A failed fold does not discard the others. Each iteration of the training workflow's fold Map ends in
 * a fold outcome: SUCCEEDED, or FAILED with its reason (the fold job's Catch runs `describeFoldFailure`).
 * `checkFolds` then applies the run's `minFolds` rule: a sweep variant's ensemble is a candidate only
 * when at least `minFolds` of its folds succeeded, and it is made of those folds alone. The outcomes are
 * stored beside the run (`runs/<runId>/folds.json`); with no candidate left the run fails with
 * `FoldsFailed`, a reason naming the failed folds.
 */
import type { BatchClient } from '@aws-sdk/client-batch';
import type { S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import {
  evaluateEnsembleArgs,
  type FoldOutcome,
  foldOutcome,
  runIdSchema,
  trainableStage,
} from './events.ts';
import { RUNS_PREFIX, s3Uri } from './layout.ts';
import { logger } from './logger.ts';
import { putJson } from './object-store.ts';
import { explainFailure } from './run-failure.ts';

export const FOLDS_FILE = 'folds.json';

/** What the fold job's Catch passes: the item's variant and fold, and the caught error. */
export const foldFailedInput = z.object({
  variant: z.string().regex(/^v\d+$/),
  fold: z.number().int().nonnegative(),
  error: z.object({ Error: z.string(), Cause: z.string().optional() }),
});
export type FoldFailedInput = z.infer<typeof foldFailedInput>;

export const checkFoldsInput = z.object({
  runId: runIdSchema,
  stage: trainableStage,
  minFolds: z.number().int().min(1),
  evaluate: evaluateEnsembleArgs,
  outcomes: z.array(foldOutcome).min(1),
});
export type CheckFoldsInput = z.infer<typeof checkFoldsInput>;

/** Too few folds succeeded: the run fails with this error (its message names the failed folds). */
export class FoldsFailedError extends Error {
  override readonly name = 'FoldsFailed';
}

/** A failed fold's outcome: the Batch job's final record explains it (DescribeJobs), else the error. */
export async function describeFoldFailure(
  deps: { batch: BatchClient },
  input: FoldFailedInput,
): Promise<FoldOutcome> {
  const { reason, batchJob } = await explainFailure(deps.batch, input.error);
  logger.warn('fold failed', { variant: input.variant, fold: input.fold, batchJobId: batchJob?.jobId });
  return {
    variant: input.variant,
    fold: input.fold,
    status: 'FAILED',
    reason,
    ...(batchJob ? { batchJobId: batchJob.jobId } : {}),
  };
}

const describeFailed = (o: FoldOutcome) => `${o.variant} fold ${o.fold}: ${o.reason ?? 'failed'}`;

/**
 * Apply the minFolds rule. Resolves to the ensemble evaluation's arguments restricted to the eligible
 * variants and their succeeded folds; throws `FoldsFailedError` when no variant is eligible. The outcomes
 * are written to `runs/<runId>/folds.json` first, either way.
 */
export async function checkFolds(
  deps: { s3: S3Client; modelsBucket: string; now?: () => Date },
  input: CheckFoldsInput,
): Promise<{
  evaluate: CheckFoldsInput['evaluate'];
  succeeded: number;
  failed: number;
}> {
  const { runId, stage, minFolds, outcomes } = input;
  await putJson(deps.s3, s3Uri(deps.modelsBucket, `${RUNS_PREFIX}${runId}/${FOLDS_FILE}`), {
    runId,
    stage,
    minFolds,
    outcomes,
    at: (deps.now?.() ?? new Date()).toISOString(),
  });
  const failed = outcomes.filter((o) => o.status === 'FAILED');
  const candidates = input.evaluate.candidates.flatMap((c) => {
    const folds = outcomes
      .filter((o) => o.variant === c.variant && o.status === 'SUCCEEDED')
      .map((o) => o.fold)
      .sort((a, b) => a - b);
    return folds.length >= minFolds ? [{ ...c, folds }] : [];
  });
  logger.info('fold outcomes', {
    runId,
    stage,
    succeeded: outcomes.length - failed.length,
    failed: failed.length,
    candidates: candidates.length,
  });
  if (candidates.length === 0) {
    const perVariant = input.evaluate.candidates
      .map((c) => {
        const mine = outcomes.filter((o) => o.variant === c.variant);
        return `${c.variant} ${mine.filter((o) => o.status === 'SUCCEEDED').length} of ${mine.length}`;
      })
      .join(', ');
    throw new FoldsFailedError(
      `fewer than minFolds ${minFolds} folds succeeded (${perVariant}); failed: ${failed.map(describeFailed).join('; ')}`,
    );
  }
  return {
    evaluate: { ...input.evaluate, candidates },
    succeeded: outcomes.length - failed.length,
    failed: failed.length,
  };
}
