// The LocalStack run up to the AWS calls, with mocked clients: health check, cdklocal deploy, scenario 1.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { jobIdFor } from '../../lib/cloud/identity.ts';
import { REPO_ROOT } from '../../lib/infra/paths.ts';
import { closeServer, listenOnLoopback } from '../../lib/localcloud/emulators.ts';
import {
  checkLocalStack,
  type LocalStackDeps,
  LocalStackRunError,
  localStackEnv,
  REQUIRED_OUTPUTS,
  runLocalStackE2E,
} from '../../lib/localcloud/localstack.ts';
import { synthesize } from '../../lib/localcloud/template.ts';
import { decodeNifti } from '../../lib/volume/nifti.ts';

const s3 = mockClient(S3Client);
const ddb = mockClient(DynamoDBClient);
afterAll(() => {
  s3.restore();
  ddb.restore();
});

const ENDPOINT = 'http://localstack.test:4566';
const ALL_SERVICES = {
  s3: 'running',
  dynamodb: 'available',
  lambda: 'available',
  stepfunctions: 'available',
  events: 'available',
  batch: 'available',
};
const OUTPUTS = {
  InputBucketName: 'in-bucket',
  ResultsBucketName: 'results-bucket',
  ModelsBucketName: 'models-bucket',
  JobsTableName: 'jobs-table',
  ModelsTableName: 'models-table',
  SegmentationStateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:seg',
};
const ETAG = '"0123456789abcdef0123456789abcdef"';
const JOB_ID = jobIdFor({
  bucket: 'in-bucket',
  key: 'incoming/localstack-case.nii.gz',
  etag: ETAG.slice(1, -1),
});

interface Recorder {
  cdk: string[][];
  seeded: Array<{ bucket: string; table: string }>;
  logs: string[];
  clock: number;
}

function deps(over: Partial<LocalStackDeps> = {}): { d: LocalStackDeps; r: Recorder } {
  const r: Recorder = { cdk: [], seeded: [], logs: [], clock: 0 };
  const d: LocalStackDeps = {
    endpoint: ENDPOINT,
    fetch: async () => ({ json: async () => ({ services: ALL_SERVICES }) }),
    hasCdkLocal: () => true,
    cdkLocal: (args, env) => {
      expect(env.AWS_ENDPOINT_URL).toBe(ENDPOINT);
      r.cdk.push(args);
    },
    outputsFile: () => '/tmp/outputs.json',
    readJson: () => ({ 'Raunet-dev': OUTPUTS }),
    s3: new S3Client({ region: 'us-east-1' }),
    ddb: new DynamoDBClient({ region: 'us-east-1' }),
    seedModels: async (o) => {
      r.seeded.push(o);
    },
    sleep: async (ms) => {
      r.clock += ms;
    },
    now: () => r.clock,
    log: (line) => r.logs.push(line),
    timeoutMs: 60_000,
    pollMs: 5000,
    ...over,
  };
  return { d, r };
}

async function failure(p: Promise<unknown>): Promise<LocalStackRunError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(LocalStackRunError);
  return e as LocalStackRunError;
}

const env = localStackEnv(ENDPOINT, {});

beforeEach(() => {
  s3.reset();
  ddb.reset();
  s3.on(PutObjectCommand).resolves({});
  s3.on(HeadObjectCommand).resolves({ ETag: ETAG });
  s3.on(ListObjectsV2Command).resolves({
    Contents: ['report.json', 'labels.nii.gz', 'preview.png', 'viewer/index.html', 'viewer/viewer.js'].map(
      (f) => ({ Key: `results/${JOB_ID}/${f}` }),
    ),
  });
});

describe('LocalStack environment', () => {
  it('points every client at LocalStack, S3 at an IP endpoint (path-style buckets)', () => {
    const e = localStackEnv('http://localhost:4566', { AWS_REGION: 'eu-west-1' });
    expect(e).toMatchObject({
      AWS_ENDPOINT_URL: 'http://localhost:4566',
      AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:4566',
      AWS_ENDPOINT_URL_DYNAMODB: 'http://localhost:4566',
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'test',
      CDK_DEFAULT_ACCOUNT: '000000000000',
    });
    expect(localStackEnv('http://ls.internal:4566', {}).AWS_ENDPOINT_URL_S3).toBe('http://ls.internal:4566');
  });
});

describe('LocalStack run: preconditions (exit code 2, nothing deployed)', () => {
  it('says LocalStack is unreachable', async () => {
    const { d, r } = deps({ fetch: async () => Promise.reject(new Error('connect ECONNREFUSED')) });
    const e = await failure(runLocalStackE2E(d, env));
    expect(e.exitCode).toBe(2);
    expect(e.message).toMatch(/not reachable at http:\/\/localstack\.test:4566 \(connect ECONNREFUSED\)/);
    expect(r.cdk).toEqual([]);
  });

  it('names the services LocalStack lacks (Batch in the free tier)', async () => {
    const { batch: _, ...free } = ALL_SERVICES;
    const e = await failure(
      checkLocalStack(
        deps({ fetch: async () => ({ json: async () => ({ services: { ...free, events: 'disabled' } }) }) })
          .d,
      ),
    );
    expect(e.exitCode).toBe(2);
    expect(e.message).toMatch(/does not offer: events, batch/);
  });

  it('says cdklocal is missing', async () => {
    const { d, r } = deps({ hasCdkLocal: () => false });
    const e = await failure(runLocalStackE2E(d, env));
    expect([e.exitCode, e.message]).toEqual([2, 'cdklocal is not installed: npm i -g aws-cdk-local aws-cdk']);
    expect(r.cdk).toEqual([]);
  });
});

describe('LocalStack run: deploy and scenario 1 against mocked clients', () => {
  it('bootstraps, deploys with an outputs file, seeds models, uploads a phantom, waits for SUCCEEDED', async () => {
    ddb
      .on(GetItemCommand)
      .resolvesOnce({})
      .resolvesOnce({ Item: { jobId: { S: JOB_ID }, status: { S: 'RUNNING' } } })
      .resolves({ Item: { jobId: { S: JOB_ID }, status: { S: 'SUCCEEDED' } } });
    const { d, r } = deps();
    expect(await runLocalStackE2E(d, env)).toBe(JOB_ID);
    expect(r.cdk).toEqual([
      ['bootstrap', '-c', 'env=dev'],
      ['deploy', '-c', 'env=dev', '--require-approval', 'never', '--outputs-file', '/tmp/outputs.json'],
    ]);
    expect(r.seeded).toEqual([{ bucket: 'models-bucket', table: 'models-table' }]);
    const put = s3.commandCalls(PutObjectCommand)[0].args[0].input;
    expect([put.Bucket, put.Key]).toEqual(['in-bucket', 'incoming/localstack-case.nii.gz']);
    expect(decodeNifti(put.Body as Uint8Array, 'x.nii.gz').dims).toEqual([96, 96, 48]);
    const gets = ddb.commandCalls(GetItemCommand).map((c) => c.args[0].input);
    expect(gets).toHaveLength(3);
    expect(gets[0]).toEqual({ TableName: 'jobs-table', Key: { jobId: { S: JOB_ID } } });
    expect(r.clock).toBe(10_000);
    expect(s3.commandCalls(ListObjectsV2Command)[0].args[0].input).toEqual({
      Bucket: 'results-bucket',
      Prefix: `results/${JOB_ID}/`,
    });
  });

  it('exits 1 with the reason of a FAILED job', async () => {
    ddb
      .on(GetItemCommand)
      .resolves({ Item: { status: { S: 'FAILED' }, reason: { S: 'GPU not available' } } });
    const e = await failure(runLocalStackE2E(deps().d, env));
    expect([e.exitCode, e.message]).toEqual([1, `job ${JOB_ID} FAILED: GPU not available`]);
  });

  it('exits 1 when the job does not finish in time', async () => {
    ddb.on(GetItemCommand).resolves({ Item: { status: { S: 'RUNNING' } } });
    const { d, r } = deps();
    const e = await failure(runLocalStackE2E(d, env));
    expect([e.exitCode, e.message]).toEqual([1, `job ${JOB_ID} not finished (RUNNING)`]);
    expect(r.clock).toBe(60_000);
  });

  it('exits 1 when a result file is missing', async () => {
    ddb.on(GetItemCommand).resolves({ Item: { status: { S: 'SUCCEEDED' } } });
    s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: `results/${JOB_ID}/report.json` }] });
    const e = await failure(runLocalStackE2E(deps().d, env));
    expect([e.exitCode, e.message]).toEqual([1, `results of job ${JOB_ID}: report.json`]);
  });

  it('exits 1 when the deployed stack lacks an output', async () => {
    const { ModelsTableName: _, ...partial } = OUTPUTS;
    const e = await failure(runLocalStackE2E(deps({ readJson: () => ({ 'Raunet-dev': partial }) }).d, env));
    expect([e.exitCode, e.message]).toEqual([1, 'stack outputs missing: ModelsTableName']);
  });

  it('reads only outputs the synthesized stack declares', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'raunet-ls-synth-'));
    try {
      const { template } = synthesize(dir);
      const outputs = Object.keys((template as { Outputs?: Record<string, unknown> }).Outputs ?? {});
      expect(outputs).toEqual(expect.arrayContaining([...REQUIRED_OUTPUTS]));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('npm run e2e:localstack (the script itself)', () => {
  const run = (endpoint: string) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', path.join(REPO_ROOT, 'scripts', 'e2e-localstack.ts')],
        { cwd: REPO_ROOT, env: { ...process.env, LOCALSTACK_ENDPOINT: endpoint }, timeout: 120_000 },
        (err, _stdout, stderr) =>
          resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stderr }),
      );
    });

  it('exits 2 naming the missing service, and 2 saying LocalStack is unreachable', async () => {
    // A LocalStack without Batch (its free tier) answering the health check.
    const server = createServer((_req, res) => {
      const { batch: _, ...free } = ALL_SERVICES;
      res.end(JSON.stringify({ services: free }));
    });
    const endpoint = await listenOnLoopback(server);
    const lacking = await run(endpoint);
    await closeServer(server);
    expect(lacking.code).toBe(2);
    expect(lacking.stderr).toContain(`e2e:localstack: LocalStack at ${endpoint} does not offer: batch`);
    // The same port, now closed.
    const gone = await run(endpoint);
    expect(gone.code).toBe(2);
    expect(gone.stderr).toContain(`e2e:localstack: LocalStack is not reachable at ${endpoint}`);
  }, 240_000);
});
