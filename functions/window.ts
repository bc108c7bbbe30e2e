// Segmentation step 2: HU window + normalisation, preprocessed volume to S3.
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { parseEvent, planStepInput } from '../lib/cloud/events.ts';
import { logger } from '../lib/cloud/logger.ts';
import { segmentationDeps } from '../lib/cloud/runtime.ts';
import { windowScan } from '../lib/cloud/segmentation.ts';

export const handler = middy(async (event: unknown) =>
  windowScan(segmentationDeps(), parseEvent(planStepInput, event, 'window input')),
).use(injectLambdaContext(logger));
