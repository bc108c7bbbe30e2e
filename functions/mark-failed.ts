// The Catch target of both workflows. Segmentation: the job becomes FAILED with the reason taken from the
// error's Cause. Training (an event with `execution`): the run is recorded FAILED in the models table.
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { markFailedInput, parseEvent } from '../lib/cloud/events.ts';
import { logger } from '../lib/cloud/logger.ts';
import { recordRunFailure, runFailedInput } from '../lib/cloud/run-failure.ts';
import { runFailureDeps, segmentationDeps } from '../lib/cloud/runtime.ts';
import { markFailed } from '../lib/cloud/segmentation.ts';

const isRunFailure = (event: unknown) => typeof event === 'object' && event !== null && 'execution' in event;

export const handler = middy(async (event: unknown) =>
  isRunFailure(event)
    ? recordRunFailure(runFailureDeps(), parseEvent(runFailedInput, event, 'run-failed input'))
    : markFailed(segmentationDeps(), parseEvent(markFailedInput, event, 'mark-failed input')),
).use(injectLambdaContext(logger));
