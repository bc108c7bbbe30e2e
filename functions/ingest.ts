// Segmentation step 1: create the job record (conditional write), validate the scan, plan the S3 locations.
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { ingestInput, parseEvent } from '../lib/cloud/events.ts';
import { logger } from '../lib/cloud/logger.ts';
import { segmentationDeps } from '../lib/cloud/runtime.ts';
import { ingest } from '../lib/cloud/segmentation.ts';

export const handler = middy(async (event: unknown) =>
  ingest(segmentationDeps(), parseEvent(ingestInput, event, 'ingest input')),
).use(injectLambdaContext(logger));
