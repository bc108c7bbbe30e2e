// Issue 13 item 6: fold checkpoints in S3 and their resume, the fold outcomes and the minFolds rule, on an
// in-memory S3 (aws-sdk-client-mock) and a mocked Batch / DynamoDB.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { BatchClient, DescribeJobsCommand } from '@aws-sdk/client-batch';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';

vi.hoisted(() => {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
});

import { handler as checkFoldsHandler } from '../../functions/check-folds.ts';
import { handler as foldFailed } from '../../functions/fold-failed.ts';
import { handler as plan } from '../../functions/plan.ts';
import { handler as register } from '../../functions/register.ts';
import { handler as runFailed } from '../../functions/run-failed.ts';
import { EXIT, runBatchStage, type TrainingLibrary } from '../../lib/cloud/batch-stages.ts';
import {
  checkpointDue,
  readCheckpointPointer,
  restoreFoldCheckpoint,
  saveFoldCheckpoint,
} from '../../lib/cloud/fold-checkpoint.ts';
import { libraryCodec } from '../../lib/cloud/volume-codec.ts';
import { context, MODELS_BUCKET, setLambdaEnv } from './helpers.ts';

const s3mock = mockClient(S3Client);
const ddb = mockClient(DynamoDBDocumentClient);
const batch = mockClient(BatchClient);
const store = new Map<string, Uint8Array>();
/** PutObject fails for keys matching this (a host lost mid-upload). */
let failPut: RegExp | undefined;
const s3 = new S3Client({ region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
const RUN = '20260301T020000Z-00ab12';
const CKPT = `s3://${MODELS_BUCKET}/runs/${RUN}/checkpoints/v0/liver/fold-1/`;
const text = (b: Uint8Array | undefined) => new TextDecoder().decode(b);
let dirs: string[] = [];

async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'raunet-ckpt-test-'));
  dirs.push(d);
  return d;
}

beforeAll(setLambdaEnv);
beforeEach(() => {
  s3mock.reset();
  ddb.reset();
  batch.reset();
  store.clear();
  failPut = undefined;
  s3mock.on(GetObjectCommand).callsFake((input) => {
    const bytes = store.get(`${input.Bucket}/${input.Key}`);
    if (!bytes) throw Object.assign(new Error('missing'), { name: 'NoSuchKey' });
    return { Body: { transformToByteArray: async () => bytes }, ContentLength: bytes.length };
  });
  s3mock.on(PutObjectCommand).callsFake((input) => {
    if (failPut?.test(input.Key))
      throw Object.assign(new Error('connection reset'), { name: 'NetworkError' });
    const b = input.Body;
    store.set(`${input.Bucket}/${input.Key}`, typeof b === 'string' ? new TextEncoder().encode(b) : b);
    return {};
  });
  s3mock.on(ListObjectsV2Command).callsFake((input) => ({
    Contents: [...store.keys()]
      .filter((k) => k.startsWith(`${input.Bucket}/${input.Prefix}`))
      .map((k) => ({ Key: k.slice(input.Bucket.length + 1) })),
  }));
});
afterEach(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
  dirs = [];
});

/** A fold folder as trainStage leaves it after `epoch` epochs. */
async function foldAt(dir: string, epoch: number): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'train-state.json'), JSON.stringify({ epochsDone: epoch }));
  await writeFile(path.join(dir, 'weights.bin'), new Uint8Array(epoch + 1).fill(epoch));
  await writeFile(path.join(dir, 'metrics.jsonl'), `${'{}\n'.repeat(epoch)}`);
}

describe('fold checkpoints in S3', () => {
  it('alternates two slots, writes the pointer last and restores the latest checkpoint', async () => {
    const src = await tempDir();
    await foldAt(src, 2);
    const p2 = await saveFoldCheckpoint(s3, CKPT, src, 2);
    expect(p2).toMatchObject({
      slot: 'a',
      epoch: 2,
      files: ['metrics.jsonl', 'train-state.json', 'weights.bin'],
    });
    await foldAt(src, 4);
    expect((await saveFoldCheckpoint(s3, CKPT, src, 4)).slot).toBe('b');
    // The pointer is the last object written.
    const puts = s3mock.commandCalls(PutObjectCommand).map((c) => c.args[0].input.Key);
    expect(puts.at(-1)).toBe(`runs/${RUN}/checkpoints/v0/liver/fold-1/latest.json`);

    const dest = path.join(await tempDir(), 'out', 'liver', 'fold-1');
    const restored = await restoreFoldCheckpoint(s3, CKPT, dest);
    expect(restored?.epoch).toBe(4);
    expect(JSON.parse(await readFile(path.join(dest, 'train-state.json'), 'utf8'))).toEqual({
      epochsDone: 4,
    });
    expect([...(await readFile(path.join(dest, 'weights.bin')))]).toEqual([4, 4, 4, 4, 4]);
  });

  it('a checkpoint cut short by a lost host leaves the previous one current', async () => {
    const src = await tempDir();
    await foldAt(src, 2);
    await saveFoldCheckpoint(s3, CKPT, src, 2); // slot a
    await foldAt(src, 4);
    failPut = /slot-b\/weights\.bin$/;
    await expect(saveFoldCheckpoint(s3, CKPT, src, 4)).rejects.toThrow(/connection reset/);
    expect((await readCheckpointPointer(s3, CKPT))?.epoch).toBe(2);
    const dest = await tempDir();
    expect((await restoreFoldCheckpoint(s3, CKPT, dest))?.slot).toBe('a');
    expect(JSON.parse(await readFile(path.join(dest, 'train-state.json'), 'utf8'))).toEqual({
      epochsDone: 2,
    });
  });

  it('restores nothing when no checkpoint was taken', async () => {
    const dest = path.join(await tempDir(), 'fold-0');
    expect(await restoreFoldCheckpoint(s3, CKPT, dest)).toBeNull();
    await expect(readFile(path.join(dest, 'train-state.json'))).rejects.toThrow(/ENOENT/);
  });

  it('is due every N epochs, never with 0', () => {
    expect([1, 2, 3, 4, 5, 6].filter((e) => checkpointDue(e, 3))).toEqual([3, 6]);
    expect([1, 2, 3].filter((e) => checkpointDue(e, 0))).toEqual([]);
  });
});

describe('train-fold with checkpoints', () => {
  const args = (everyEpochs: number) => ({
    runId: RUN,
    stage: 'liver',
    variant: 'v0',
    fold: 1,
    folds: 2,
    manifest: `s3://${MODELS_BUCKET}/runs/${RUN}/manifest.json`,
    hyper: { lr: 0.001, width: 1, epochs: 5 },
    out: `s3://${MODELS_BUCKET}/runs/${RUN}/v0/liver/fold-1/`,
    checkpoint: { uri: CKPT, everyEpochs },
  });

  /** A stand-in trainer: continues after the restored state's epoch, one folder update per epoch. */
  function library(seen: { resume?: boolean; startEpoch?: number }): TrainingLibrary {
    return {
      startBackend: async () => 'wasm',
      evaluateEnsemble: vi.fn(),
      async trainFold(a, _m, outDir, _data, options) {
        const dir = path.join(outDir, a.stage, `fold-${a.fold}`);
        seen.resume = options?.resume;
        let start = 0;
        if (options?.resume)
          start = JSON.parse(await readFile(path.join(dir, 'train-state.json'), 'utf8')).epochsDone;
        seen.startEpoch = start + 1;
        for (let e = start + 1; e <= a.hyper.epochs; e++) {
          await foldAt(dir, e);
          await options?.afterEpoch?.(e, dir);
        }
      },
    };
  }

  beforeEach(() => {
    store.set(`${MODELS_BUCKET}/runs/${RUN}/manifest.json`, new TextEncoder().encode('{"cases":[]}'));
  });

  it('checkpoints every N epochs while a fresh fold trains', async () => {
    const seen: { resume?: boolean } = {};
    const argv = ['train-fold', '--args', JSON.stringify(args(2))];
    const ctx = { s3, codec: libraryCodec, loadEngines: vi.fn(), requireGpu: false, training: library(seen) };
    expect(await runBatchStage(argv, ctx)).toBe(EXIT.ok);
    expect(seen.resume).toBe(false);
    const pointerPuts = s3mock
      .commandCalls(PutObjectCommand)
      .filter((c) => c.args[0].input.Key?.endsWith('/latest.json'))
      .map((c) => JSON.parse(text(c.args[0].input.Body as Uint8Array)).epoch);
    expect(pointerPuts).toEqual([2, 4]);
    expect(text(store.get(`${MODELS_BUCKET}/runs/${RUN}/v0/liver/fold-1/train-state.json`))).toBe(
      '{"epochsDone":5}',
    );
  });

  it('a retried fold job restores the last checkpoint and resumes after its epoch', async () => {
    const src = await tempDir();
    await foldAt(src, 2);
    await saveFoldCheckpoint(s3, CKPT, src, 2);
    const seen: { resume?: boolean; startEpoch?: number } = {};
    const argv = ['train-fold', '--args', JSON.stringify(args(2))];
    const ctx = { s3, codec: libraryCodec, loadEngines: vi.fn(), requireGpu: false, training: library(seen) };
    expect(await runBatchStage(argv, ctx)).toBe(EXIT.ok);
    expect(seen).toEqual({ resume: true, startEpoch: 3 });
    expect((await readCheckpointPointer(s3, CKPT))?.epoch).toBe(4);
  });

  it('uploads the trained fold with manifest.json last (its presence marks a complete model)', async () => {
    const lib = library({});
    const training: TrainingLibrary = {
      ...lib,
      async trainFold(a, m, outDir, data, options) {
        await lib.trainFold(a, m, outDir, data, options);
        await writeFile(path.join(outDir, a.stage, `fold-${a.fold}`, 'manifest.json'), '{}');
        await writeFile(path.join(outDir, a.stage, `fold-${a.fold}`, 'model.json'), '{}');
      },
    };
    const argv = ['train-fold', '--args', JSON.stringify(args(0))];
    expect(
      await runBatchStage(argv, {
        s3,
        codec: libraryCodec,
        loadEngines: vi.fn(),
        requireGpu: false,
        training,
      }),
    ).toBe(EXIT.ok);
    const outKeys = s3mock
      .commandCalls(PutObjectCommand)
      .map((c) => String(c.args[0].input.Key))
      .filter((k) => k.startsWith(`runs/${RUN}/v0/liver/fold-1/`));
    expect(outKeys).toHaveLength(5);
    expect(outKeys.at(-1)).toBe(`runs/${RUN}/v0/liver/fold-1/manifest.json`);
  });

  it('takes no checkpoint with everyEpochs 0 and still resumes from one that exists', async () => {
    const seen: { resume?: boolean } = {};
    const argv = ['train-fold', '--args', JSON.stringify(args(0))];
    const ctx = { s3, codec: libraryCodec, loadEngines: vi.fn(), requireGpu: false, training: library(seen) };
    expect(await runBatchStage(argv, ctx)).toBe(EXIT.ok);
    expect(seen.resume).toBe(false);
    expect([...store.keys()].filter((k) => k.includes('/checkpoints/'))).toEqual([]);
  });
});

const outcome = (fold: number, ok: boolean, variant = 'v0') =>
  ok
    ? { variant, fold, status: 'SUCCEEDED' as const }
    : { variant, fold, status: 'FAILED' as const, reason: `fold ${fold}: exit code 1` };

const evaluate = (variants: string[]) => ({
  runId: RUN,
  stage: 'liver' as const,
  manifest: `s3://${MODELS_BUCKET}/runs/${RUN}/manifest.json`,
  candidates: variants.map((v) => ({ variant: v, models: `s3://${MODELS_BUCKET}/runs/${RUN}/${v}/` })),
  out: `s3://${MODELS_BUCKET}/runs/${RUN}/metrics.json`,
});

describe('fold outcomes and the minFolds rule', () => {
  it('one fold of three failed, minFolds 2: the ensemble of the two others goes on', async () => {
    const outcomes = [outcome(0, true), outcome(1, false), outcome(2, true)];
    const out = await checkFoldsHandler(
      { runId: RUN, stage: 'liver', minFolds: 2, evaluate: evaluate(['v0']), outcomes },
      context,
    );
    expect(out.evaluate.candidates).toEqual([
      { variant: 'v0', models: `s3://${MODELS_BUCKET}/runs/${RUN}/v0/`, folds: [0, 2] },
    ]);
    expect(out).toMatchObject({ succeeded: 2, failed: 1 });
    const record = JSON.parse(text(store.get(`${MODELS_BUCKET}/runs/${RUN}/folds.json`)));
    expect(record).toMatchObject({ runId: RUN, minFolds: 2, outcomes });
  });

  it('one fold of three failed, minFolds 3: FoldsFailed naming the failed fold, outcomes still stored', async () => {
    const outcomes = [outcome(0, true), outcome(1, false), outcome(2, true)];
    await expect(
      checkFoldsHandler(
        { runId: RUN, stage: 'liver', minFolds: 3, evaluate: evaluate(['v0']), outcomes },
        context,
      ),
    ).rejects.toMatchObject({
      name: 'FoldsFailed',
      message: 'fewer than minFolds 3 folds succeeded (v0 2 of 3); failed: v0 fold 1: fold 1: exit code 1',
    });
    expect(store.has(`${MODELS_BUCKET}/runs/${RUN}/folds.json`)).toBe(true);
  });

  it('in a sweep only the variants with enough succeeded folds remain candidates', async () => {
    const outcomes = [outcome(0, true), outcome(1, true), outcome(0, true, 'v1'), outcome(1, false, 'v1')];
    const out = await checkFoldsHandler(
      { runId: RUN, stage: 'liver', minFolds: 2, evaluate: evaluate(['v0', 'v1']), outcomes },
      context,
    );
    expect(out.evaluate.candidates.map((c) => [c.variant, c.folds])).toEqual([['v0', [0, 1]]]);
  });

  it('a failed fold job becomes its outcome with the reason DescribeJobs gives', async () => {
    batch.on(DescribeJobsCommand).resolves({
      jobs: [
        {
          jobId: 'job-7',
          jobName: 'TrainFold',
          jobQueue: 'q',
          jobDefinition: 'd',
          status: 'FAILED',
          startedAt: 1,
          statusReason: 'Essential container in task exited',
          container: { exitCode: 1 },
          attempts: [{}],
        },
      ],
    });
    const out = await foldFailed(
      {
        variant: 'v0',
        fold: 1,
        error: {
          Error: 'States.TaskFailed',
          Cause: JSON.stringify({ JobId: 'job-7', JobName: 'TrainFold' }),
        },
      },
      context,
    );
    expect(out).toMatchObject({ variant: 'v0', fold: 1, status: 'FAILED', batchJobId: 'job-7' });
    expect(out.reason).toMatch(/exit code 1/);
  });

  it('plan refuses a minFolds larger than the run and gives every fold its checkpoint prefix', async () => {
    s3mock.on(ListObjectsV2Command).resolves({
      Contents: [0, 1, 2, 3].flatMap((i) => [
        { Key: `datasets/lits/volume-${i}.nii.gz` },
        { Key: `datasets/lits/segmentation-${i}.nii.gz` },
      ]),
    });
    await expect(plan({ request: { stage: 'liver', folds: 2, minFolds: 3 } }, context)).rejects.toThrow(
      /minFolds 3 is more than the run's 2 folds/,
    );
    const out = await plan({ request: { stage: 'liver', folds: 2, checkpointEveryEpochs: 4 } }, context);
    expect(out.minFolds).toBe(2); // DEFAULT_MIN_FOLDS unset: every fold
    expect(out.items.map((i) => i.args.checkpoint)).toEqual(
      [0, 1].map((k) => ({
        uri: `s3://${MODELS_BUCKET}/runs/${out.runId}/checkpoints/v0/liver/fold-${k}/`,
        everyEpochs: 4,
      })),
    );
  });

  it('the run record lists the folds: registered with the ensemble, or with the failure', async () => {
    const outcomes = [outcome(0, true), outcome(1, false)];
    store.set(
      `${MODELS_BUCKET}/runs/${RUN}/metrics.json`,
      new TextEncoder().encode(
        JSON.stringify({
          runId: RUN,
          stage: 'liver',
          variant: 'v0',
          models: `s3://${MODELS_BUCKET}/runs/${RUN}/v0/`,
          valDice: 0.8,
        }),
      ),
    );
    ddb.on(PutCommand).resolves({});
    await register(
      {
        runId: RUN,
        stage: 'liver',
        metrics: `s3://${MODELS_BUCKET}/runs/${RUN}/metrics.json`,
        folds: outcomes,
      },
      context,
    );
    const runItem = ddb.commandCalls(PutCommand)[0].args[0].input.Item;
    expect(runItem).toMatchObject({ runId: RUN, folds: outcomes });

    ddb.reset();
    ddb.on(PutCommand).resolves({});
    await runFailed(
      {
        execution: { name: 'exec-1', startTime: '2026-03-01T02:00:00Z' },
        state: {
          plan: { runId: RUN, stage: 'liver' },
          foldResults: outcomes,
          error: {
            Error: 'FoldsFailed',
            Cause: JSON.stringify({
              errorType: 'FoldsFailed',
              errorMessage: 'fewer than minFolds 2 folds succeeded',
            }),
          },
        },
      },
      context,
    );
    const failed = ddb.commandCalls(PutCommand)[0].args[0].input.Item;
    expect(failed).toMatchObject({
      status: 'FAILED',
      folds: outcomes,
      reason: 'FoldsFailed: fewer than minFolds 2 folds succeeded',
    });
  });
});
