/** Shared fixtures of the handler tests: small real NIfTI scans, S3 bodies, a Lambda context. */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import type { AwsClientStub } from 'aws-sdk-client-mock';
import { encodeNifti } from '../../lib/volume/nifti.ts';
import { createVolume, type Vec3 } from '../../lib/volume/volume.ts';

export const INPUT_BUCKET = 'raunet-input-test';
export const RESULTS_BUCKET = 'raunet-results-test';
export const WORK_BUCKET = 'raunet-work-test';
export const MODELS_BUCKET = 'raunet-models-test';

export function setLambdaEnv(): void {
  Object.assign(process.env, {
    JOBS_TABLE: 'jobs-table',
    MODELS_TABLE: 'models-table',
    INPUT_BUCKET,
    RESULTS_BUCKET,
    WORK_BUCKET,
    MODELS_BUCKET,
    STATE_MACHINE_ARN: 'arn:aws:states:eu-west-1:123456789012:stateMachine:seg',
    DEFAULT_DATASET: 'lits',
    DEFAULT_FOLDS: '3',
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
  });
}

export const CT_DIMS: Vec3 = [40, 36, 10];
export const CT_SPACING: Vec3 = [0.8, 0.8, 2.5];

/** A CT-like int16 volume: -1000 HU air, a 0..300 HU ramp along x inside a box. */
export function makeCt() {
  const [nx, ny, nz] = CT_DIMS;
  const data = new Int16Array(nx * ny * nz).fill(-1000);
  for (let k = 2; k < 8; k++) {
    for (let j = 5; j < 30; j++) for (let i = 5; i < 35; i++) data[i + nx * (j + ny * k)] = (i - 5) * 10;
  }
  return createVolume(data, CT_DIMS, CT_SPACING);
}

export function ctBytes(gzip = true): Uint8Array {
  return encodeNifti(makeCt(), { gzip });
}

/** What GetObject resolves to: only the parts our helpers read. */
export function body(bytes: Uint8Array) {
  return {
    Body: { transformToByteArray: async () => bytes },
    ContentLength: bytes.length,
  } as never;
}

export const context = {
  awsRequestId: 'req-1',
  functionName: 'test-fn',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:test-fn',
  memoryLimitInMB: '512',
  getRemainingTimeInMillis: () => 30_000,
} as unknown as Context;

export const JOB_ID = '0123456789abcdef0123456789abcdef';
export const SOURCE = {
  bucket: INPUT_BUCKET,
  key: 'incoming/Jane_Doe_1970-01-01/ct scan.nii.gz',
  versionId: 'v1',
  size: 1000,
};

export function conditionalCheckFailed(): Error {
  return Object.assign(new Error('The conditional request failed'), {
    name: 'ConditionalCheckFailedException',
  });
}

/**
 * Back a mocked S3 client with `store` (`<bucket>/<key>` -> bytes): GetObject (NoSuchKey when absent),
 * PutObject and ListObjectsV2 by prefix. Call after `s3.reset()`.
 */
export function backS3WithStore(s3: AwsClientStub<S3Client>, store: Map<string, Uint8Array>): void {
  s3.on(GetObjectCommand).callsFake((input) => {
    const bytes = store.get(`${input.Bucket}/${input.Key}`);
    if (!bytes) throw Object.assign(new Error('missing'), { name: 'NoSuchKey' });
    return { Body: { transformToByteArray: async () => bytes }, ContentLength: bytes.length };
  });
  s3.on(PutObjectCommand).callsFake((input) => {
    store.set(`${input.Bucket}/${input.Key}`, input.Body as Uint8Array);
    return {};
  });
  s3.on(ListObjectsV2Command).callsFake((input) => ({
    Contents: [...store.keys()]
      .filter((k) => k.startsWith(`${input.Bucket}/${input.Prefix}`))
      .map((k) => ({ Key: k.slice(input.Bucket.length + 1) })),
  }));
}
