// EventBridge "Object Created" (input bucket) -> one segmentation execution per object version.
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { objectCreatedEvent, parseEvent } from '../lib/cloud/events.ts';
import { logger } from '../lib/cloud/logger.ts';
import { starterDeps } from '../lib/cloud/runtime.ts';
import { startSegmentation } from '../lib/cloud/starter.ts';

export const handler = middy(async (event: unknown) =>
  startSegmentation(starterDeps(), parseEvent(objectCreatedEvent, event, 'S3 Object Created event')),
).use(injectLambdaContext(logger));
