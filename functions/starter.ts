// SQS (fed by the EventBridge rule on Object Created under incoming/) -> one segmentation execution per
// object version; failed messages go back to the queue (partial batch response), then to its DLQ.
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { parseEvent, sqsEvent } from '../lib/cloud/events.ts';
import { logger } from '../lib/cloud/logger.ts';
import { starterDeps } from '../lib/cloud/runtime.ts';
import { startFromQueue } from '../lib/cloud/starter.ts';

export const handler = middy(async (event: unknown) =>
  startFromQueue(starterDeps(), parseEvent(sqsEvent, event, 'SQS event')),
).use(injectLambdaContext(logger));
