// The segmentation workflow's failure recorder. Two callers: the workflow's Catch (`{ jobId, error }`: the
// job becomes FAILED with the reason taken from the error's Cause) and an EventBridge rule on executions
// that ended outside the Catch (timed out, aborted, failed), which fails the job if it is still RUNNING
// under that execution. (The training workflow records failed runs with functions/run-failed.ts.)
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { executionEndedEvent, markFailedInput, parseEvent } from '../lib/cloud/events.ts';
import { logger } from '../lib/cloud/logger.ts';
import { segmentationDeps } from '../lib/cloud/runtime.ts';
import { markExecutionEnded, markFailed } from '../lib/cloud/segmentation.ts';

export const handler = middy(async (event: unknown) => {
  const deps = segmentationDeps();
  if ((event as { source?: unknown })?.source === 'aws.states') {
    return markExecutionEnded(deps, parseEvent(executionEndedEvent, event, 'execution status event'));
  }
  return markFailed(deps, parseEvent(markFailedInput, event, 'mark-failed input'));
}).use(injectLambdaContext(logger));
