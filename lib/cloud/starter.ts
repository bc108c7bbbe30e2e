/**
 * The starter of the segmentation workflow: S3 "Object Created" events reach it through an SQS queue
 * (EventBridge rule -> queue -> this Lambda, with bounded concurrency); it starts one execution per object
 * version. Kept apart from the step logic so its Lambda bundle stays small.
 *
 * - Only keys under `incoming/` with a scan suffix start anything (the rule's pattern says the same).
 * - Execution names derive from the job id (`seg-<jobId>`), so a second delivery of the same event is
 *   refused by Step Functions (`ExecutionAlreadyExists`) and counted as a duplicate.
 * - A re-drop of an object whose job FAILED (a new upload: new S3 sequencer) re-runs it as attempt N+1
 *   (`seg-<jobId>-a<N+1>`); a re-drop of a RUNNING or SUCCEEDED job is a duplicate.
 * - A message that could not be handled (throttling, a malformed event) is reported back to SQS as a
 *   batch item failure: SQS delivers it again after the visibility timeout, and after `maxReceiveCount`
 *   deliveries it lands in the dead-letter queue (alarmed). No event is dropped silently.
 */
import { type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import {
  type ObjectCreatedEvent,
  objectCreatedEvent,
  parseEvent,
  type SegmentationInput,
  type SqsEvent,
} from './events.ts';
import { executionNameFor, jobIdFor } from './identity.ts';
import type { JobStore } from './job-store.ts';
import { isIncomingScan, segmentationTaskOf } from './layout.ts';
import { logger } from './logger.ts';

export interface StarterDeps {
  sfn: SFNClient;
  stateMachineArn: string;
  /** Read-only use: whether a job already ran and failed (re-runs). */
  jobs: Pick<JobStore, 'get'>;
}

export type StartOutcome = { jobId: string; started: boolean; attempt?: number; reason?: string };

const alreadyExists = (e: unknown) => (e as { name?: string })?.name === 'ExecutionAlreadyExists';

async function start(deps: StarterDeps, input: SegmentationInput, attempt: number): Promise<boolean> {
  try {
    await deps.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: deps.stateMachineArn,
        name: executionNameFor(input.jobId, attempt),
        input: JSON.stringify({ ...input, attempt }),
      }),
    );
    return true;
  } catch (e) {
    if (alreadyExists(e)) return false;
    throw e;
  }
}

/** Start (or re-run) the segmentation of one dropped object; see the module comment for the rules. */
export async function startSegmentation(deps: StarterDeps, event: ObjectCreatedEvent): Promise<StartOutcome> {
  const o = event.detail.object;
  const source = {
    bucket: event.detail.bucket.name,
    key: o.key,
    versionId: o['version-id'] ?? null,
    size: o.size,
    ...(o.sequencer ? { sequencer: o.sequencer } : {}),
  };
  const jobId = jobIdFor({ ...source, etag: o.etag });
  if (!isIncomingScan(o.key)) {
    logger.warn('ignored object: not a scan under incoming/', { jobId });
    return { jobId, started: false, reason: 'not a scan under incoming/' };
  }
  const task = segmentationTaskOf(o.key);
  const input: SegmentationInput = { jobId, source, ...(task === 'brats' ? { task } : {}) };
  if (await start(deps, input, 1)) {
    logger.info('segmentation started', { jobId, task, sizeBytes: o.size });
    return { jobId, started: true, attempt: 1 };
  }
  const job = await deps.jobs.get(jobId);
  const reDrop = o.sequencer !== undefined && job?.source?.sequencer !== o.sequencer;
  if (job?.status === 'FAILED' && reDrop) {
    const attempt = (job.attempt ?? 1) + 1;
    if (await start(deps, input, attempt)) {
      logger.info('failed job re-run', { jobId, attempt });
      return { jobId, started: true, attempt };
    }
  }
  logger.info('duplicate event: execution exists', { jobId });
  return { jobId, started: false, reason: 'duplicate' };
}

/**
 * One SQS batch: each message body is an EventBridge S3 event. Returns the partial-batch response: the
 * messages to deliver again (failures), the rest are done.
 */
export async function startFromQueue(
  deps: StarterDeps,
  event: SqsEvent,
): Promise<{ batchItemFailures: Array<{ itemIdentifier: string }>; outcomes: StartOutcome[] }> {
  const batchItemFailures: Array<{ itemIdentifier: string }> = [];
  const outcomes: StartOutcome[] = [];
  for (const record of event.Records) {
    try {
      let body: unknown;
      try {
        body = JSON.parse(record.body);
      } catch {
        body = undefined;
      }
      outcomes.push(
        await startSegmentation(deps, parseEvent(objectCreatedEvent, body, 'S3 Object Created event')),
      );
    } catch (e) {
      const err = e as Error;
      // The error's name and message only: an InputError names fields, never the key itself.
      logger.warn('message not handled; SQS delivers it again', {
        messageId: record.messageId,
        error: err.name,
        detail: err.name === 'InputError' ? err.message : undefined,
      });
      batchItemFailures.push({ itemIdentifier: record.messageId });
    }
  }
  return { batchItemFailures, outcomes };
}
