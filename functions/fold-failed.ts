// The fold job's Catch in the training workflow's fold Map: the failed fold's outcome with its reason
// (the Batch job described with DescribeJobs), so the other folds carry on.
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { parseEvent } from '../lib/cloud/events.ts';
import { describeFoldFailure, foldFailedInput } from '../lib/cloud/fold-outcomes.ts';
import { logger } from '../lib/cloud/logger.ts';
import { batchDeps } from '../lib/cloud/runtime.ts';

export const handler = middy(async (event: unknown) =>
  describeFoldFailure(batchDeps(), parseEvent(foldFailedInput, event, 'fold-failed input')),
).use(injectLambdaContext(logger));
