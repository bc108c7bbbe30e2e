// Segmentation last step: label map, report and preview to the results bucket; job SUCCEEDED. A brain-tumour
// job (`task: 'brats'`) has its results written by its Batch job already: finalize reads its report.
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { finalizeBratsJob } from '../lib/cloud/brats-jobs.ts';
import { finalizeBratsInput, finalizeInput, parseEvent } from '../lib/cloud/events.ts';
import { logger } from '../lib/cloud/logger.ts';
import { segmentationDeps } from '../lib/cloud/runtime.ts';
import { finalizeJob } from '../lib/cloud/segmentation.ts';

export const handler = middy(async (event: unknown) =>
  (event as { task?: unknown } | null)?.task === 'brats'
    ? finalizeBratsJob(segmentationDeps(), parseEvent(finalizeBratsInput, event, 'finalize input'))
    : finalizeJob(segmentationDeps(), parseEvent(finalizeInput, event, 'finalize input')),
).use(injectLambdaContext(logger));
