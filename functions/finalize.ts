// Segmentation last step: label map, report and preview to the results bucket; job SUCCEEDED.
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { finalizeInput, parseEvent } from '../lib/cloud/events.ts';
import { logger } from '../lib/cloud/logger.ts';
import { segmentationDeps } from '../lib/cloud/runtime.ts';
import { finalizeJob } from '../lib/cloud/segmentation.ts';

export const handler = middy(async (event: unknown) =>
  finalizeJob(segmentationDeps(), parseEvent(finalizeInput, event, 'finalize input')),
).use(injectLambdaContext(logger));
