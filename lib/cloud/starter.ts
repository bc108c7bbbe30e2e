/**
 * The starter of the segmentation workflow (the EventBridge target): one execution per object version.
 * Kept apart from the step logic so its Lambda bundle stays small.
 */
import { type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { ObjectCreatedEvent, SegmentationInput } from './events.ts';
import { executionNameFor, jobIdFor } from './identity.ts';
import { hasInputSuffix } from './layout.ts';
import { logger } from './logger.ts';

export interface StarterDeps {
  sfn: SFNClient;
  stateMachineArn: string;
}

/**
 * Start one execution per object version. The execution name is derived from the job id, so a second
 * delivery of the event either is refused by Step Functions (`ExecutionAlreadyExists`) or, while the
 * first execution runs with the same input, returns that execution: no second job either way.
 */
export async function startSegmentation(
  deps: StarterDeps,
  event: ObjectCreatedEvent,
): Promise<{ jobId: string; started: boolean; reason?: string }> {
  const o = event.detail.object;
  const source = {
    bucket: event.detail.bucket.name,
    key: o.key,
    versionId: o['version-id'] ?? null,
    size: o.size,
  };
  const jobId = jobIdFor({ ...source, etag: o.etag });
  if (!hasInputSuffix(o.key)) {
    logger.info('ignored object: not a scan suffix', { jobId });
    return { jobId, started: false, reason: 'not a scan' };
  }
  const input: SegmentationInput = { jobId, source };
  try {
    await deps.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: deps.stateMachineArn,
        name: executionNameFor(jobId),
        input: JSON.stringify(input),
      }),
    );
  } catch (e) {
    if ((e as { name?: string })?.name === 'ExecutionAlreadyExists') {
      logger.info('duplicate event: execution exists', { jobId });
      return { jobId, started: false, reason: 'duplicate' };
    }
    throw e;
  }
  logger.info('segmentation started', { jobId, sizeBytes: o.size });
  return { jobId, started: true };
}
