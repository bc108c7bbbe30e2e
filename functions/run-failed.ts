// The training workflow's Catch target: the run is recorded FAILED with its reason in the models table
// (a failed Batch job described with DescribeJobs).
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { parseEvent } from '../lib/cloud/events.ts';
import { logger } from '../lib/cloud/logger.ts';
import { recordRunFailure, runFailedInput } from '../lib/cloud/run-failure.ts';
import { runFailureDeps } from '../lib/cloud/runtime.ts';

export const handler = middy(async (event: unknown) =>
  recordRunFailure(runFailureDeps(), parseEvent(runFailedInput, event, 'run-failed input')),
).use(injectLambdaContext(logger));
