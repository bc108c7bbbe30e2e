// The segmentation workflow's Catch target: the job becomes FAILED with the reason taken from the error's
// Cause. (The training workflow records failed runs with functions/run-failed.ts.)
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { markFailedInput, parseEvent } from '../lib/cloud/events.ts';
import { logger } from '../lib/cloud/logger.ts';
import { segmentationDeps } from '../lib/cloud/runtime.ts';
import { markFailed } from '../lib/cloud/segmentation.ts';

export const handler = middy(async (event: unknown) =>
  markFailed(segmentationDeps(), parseEvent(markFailedInput, event, 'mark-failed input')),
).use(injectLambdaContext(logger));
