/**
 * The Batch container entrypoint: `node --import tsx containers/batch-entrypoint.ts <stage> --args <json>`.
 * One program for every stage (localize, segment-liver, segment-tumor, train-fold, evaluate-ensemble);
 * the work is in `lib/cloud/batch-stages.ts`. On GPU queues (RAUNET_REQUIRE_GPU=1) it refuses to run on
 * a CPU fallback (exit code 3).
 */
import { S3Client } from '@aws-sdk/client-s3';
import { runBatchStage } from '../lib/cloud/batch-stages.ts';
import { runBratsJob } from '../lib/cloud/brats-batch.ts';
import { loadStageEngines } from '../lib/cloud/engine-loader.ts';
import { trainingLibrary } from '../lib/cloud/training-library.ts';
import { libraryCodec } from '../lib/cloud/volume-codec.ts';

process.exitCode = await runBatchStage(process.argv.slice(2), {
  s3: new S3Client({}),
  codec: libraryCodec,
  loadEngines: loadStageEngines,
  training: trainingLibrary,
  brats: runBratsJob,
  requireGpu: process.env.RAUNET_REQUIRE_GPU === '1',
});
