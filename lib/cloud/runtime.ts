/**
 * Dependencies of the Lambda handlers, built from their environment (set by the CDK constructs) once per
 * container. A missing variable fails the first invocation with a message naming it.
 */
import { BatchClient } from '@aws-sdk/client-batch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoJobStore } from './job-store.ts';
import { jobViewerScript } from './job-viewer.ts';
import { DynamoModelRegistry } from './model-registry.ts';
import type { RunFailureDeps } from './run-failure.ts';
import type { SegmentationDeps } from './segmentation.ts';
import type { StarterDeps } from './starter.ts';
import type { TrainingDeps } from './training.ts';
import { libraryCodec } from './volume-codec.ts';

export function requireEnv(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const v = env[name];
  if (!v) throw new Error(`environment variable ${name} is not set`);
  return v;
}

let s3: S3Client | undefined;
let doc: DynamoDBDocumentClient | undefined;
let sfn: SFNClient | undefined;

const s3Client = () => (s3 ??= new S3Client({}));
const docClient = () =>
  (doc ??= DynamoDBDocumentClient.from(new DynamoDBClient({}), {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  }));
// Throttled StartExecution calls are retried by the SDK (standard mode: exponential backoff with full
// jitter) before the message goes back to the queue.
const sfnClient = () => (sfn ??= new SFNClient({ maxAttempts: 6, retryMode: 'standard' }));
let batch: BatchClient | undefined;
const batchClient = () => (batch ??= new BatchClient({}));

export function segmentationDeps(env: NodeJS.ProcessEnv = process.env): SegmentationDeps {
  return {
    s3: s3Client(),
    jobs: new DynamoJobStore(docClient(), requireEnv('JOBS_TABLE', env)),
    models: new DynamoModelRegistry(docClient(), requireEnv('MODELS_TABLE', env)),
    codec: libraryCodec,
    viewerScript: jobViewerScript,
    resultsBucket: requireEnv('RESULTS_BUCKET', env),
    workBucket: requireEnv('WORK_BUCKET', env),
  };
}

export function starterDeps(env: NodeJS.ProcessEnv = process.env): StarterDeps {
  return {
    sfn: sfnClient(),
    stateMachineArn: requireEnv('STATE_MACHINE_ARN', env),
    jobs: new DynamoJobStore(docClient(), requireEnv('JOBS_TABLE', env)),
  };
}

function intOr<T>(raw: string | undefined, fallback: T): number | T {
  const n = Number(raw);
  return raw !== undefined && raw !== '' && Number.isInteger(n) && n >= 0 ? n : fallback;
}

export function trainingDeps(env: NodeJS.ProcessEnv = process.env): TrainingDeps {
  const folds = Number(env.DEFAULT_FOLDS ?? '5');
  return {
    s3: s3Client(),
    registry: new DynamoModelRegistry(docClient(), requireEnv('MODELS_TABLE', env)),
    modelsBucket: requireEnv('MODELS_BUCKET', env),
    defaults: {
      dataset: env.DEFAULT_DATASET ?? 'lits',
      bratsDataset: env.DEFAULT_BRATS_DATASET ?? 'brats',
      folds: Number.isInteger(folds) ? folds : 5,
      checkpointEveryEpochs: intOr(env.DEFAULT_CHECKPOINT_EVERY, 0),
      // Unset: every fold of a run must succeed.
      minFolds: intOr(env.DEFAULT_MIN_FOLDS, null) || null,
    },
  };
}

export function batchDeps(): { batch: BatchClient } {
  return { batch: batchClient() };
}

export function runFailureDeps(env: NodeJS.ProcessEnv = process.env): RunFailureDeps {
  return {
    registry: new DynamoModelRegistry(docClient(), requireEnv('MODELS_TABLE', env)),
    batch: batchClient(),
  };
}
