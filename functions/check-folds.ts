// Training step after the fold Map: record every fold's outcome and apply the minFolds rule (the run fails
// with FoldsFailed when no sweep variant has enough succeeded folds).
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { parseEvent } from '../lib/cloud/events.ts';
import { checkFolds, checkFoldsInput } from '../lib/cloud/fold-outcomes.ts';
import { logger } from '../lib/cloud/logger.ts';
import { trainingDeps } from '../lib/cloud/runtime.ts';

export const handler = middy(async (event: unknown) =>
  checkFolds(trainingDeps(), parseEvent(checkFoldsInput, event, 'check-folds input')),
).use(injectLambdaContext(logger));
