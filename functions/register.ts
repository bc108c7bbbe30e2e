// Training last step: register the ensemble; promote it when its validation Dice beats the current one.
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { parseEvent, registerInput } from '../lib/cloud/events.ts';
import { logger } from '../lib/cloud/logger.ts';
import { trainingDeps } from '../lib/cloud/runtime.ts';
import { registerEnsemble } from '../lib/cloud/training.ts';

export const handler = middy(async (event: unknown) =>
  registerEnsemble(trainingDeps(), parseEvent(registerInput, event, 'register input')),
).use(injectLambdaContext(logger));
