// Training step 1: dataset manifest, K-fold split and sweep variants of a run.
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { parseEvent, planInput } from '../lib/cloud/events.ts';
import { logger } from '../lib/cloud/logger.ts';
import { trainingDeps } from '../lib/cloud/runtime.ts';
import { planTraining } from '../lib/cloud/training.ts';

export const handler = middy(async (event: unknown) =>
  planTraining(trainingDeps(), parseEvent(planInput, event, 'training request').request),
).use(injectLambdaContext(logger));
