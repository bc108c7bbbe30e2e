// The training Lambdas through their middy shells, with mocked S3 and DynamoDB.
import { createHash } from 'node:crypto';
import { BatchClient, DescribeJobsCommand } from '@aws-sdk/client-batch';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';

vi.hoisted(() => {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
});

import { handler as plan } from '../../functions/plan.ts';
import { handler as register } from '../../functions/register.ts';
import { handler as runFailed } from '../../functions/run-failed.ts';
import { body, conditionalCheckFailed, context, MODELS_BUCKET, setLambdaEnv } from './helpers.ts';

const s3 = mockClient(S3Client);
const ddb = mockClient(DynamoDBDocumentClient);
const batch = mockClient(BatchClient);
beforeAll(setLambdaEnv);
beforeEach(() => {
  s3.reset();
  ddb.reset();
  batch.reset();
});

const datasetKeys = (n: number) =>
  Array.from({ length: n }, (_, i) => [
    `datasets/lits/volume-${i}.nii.gz`,
    `datasets/lits/segmentation-${i}.nii.gz`,
  ]).flat();

describe('plan', () => {
  it('writes a manifest and plans one train-fold job per fold with disjoint validation sets', async () => {
    s3.on(ListObjectsV2Command).resolves({
      Contents: [...datasetKeys(7), { Key: 'datasets/lits/README' } as never].map((k) =>
        typeof k === 'string' ? { Key: k } : k,
      ),
    });
    s3.on(PutObjectCommand).resolves({});
    const out = await plan({ request: { stage: 'liver' } }, context);
    expect(out.stage).toBe('liver');
    expect(out.items).toHaveLength(3); // DEFAULT_FOLDS=3 in the test env
    const manifestPut = s3.commandCalls(PutObjectCommand)[0].args[0].input;
    expect(`s3://${manifestPut.Bucket}/${manifestPut.Key}`).toBe(out.items[0].args.manifest);
    const manifest = JSON.parse(new TextDecoder().decode(manifestPut.Body as Uint8Array));
    expect(manifest.cases).toHaveLength(7);
    const validation = manifest.folds.flatMap((f: { validation: string[] }) => f.validation).sort();
    expect(validation).toEqual(['0', '1', '2', '3', '4', '5', '6']);
    for (const f of manifest.folds)
      expect(f.train.filter((id: string) => f.validation.includes(id))).toEqual([]);
    expect(out.items.map((i) => i.args.out)).toEqual(
      [0, 1, 2].map((k) => `s3://${MODELS_BUCKET}/runs/${out.runId}/v0/liver/fold-${k}/`),
    );
    expect(out.evaluate.candidates).toEqual([
      { variant: 'v0', models: `s3://${MODELS_BUCKET}/runs/${out.runId}/v0/` },
    ]);
    // The plan lives in the execution state: keep it small.
    expect(JSON.stringify(out).length).toBeLessThan(8 * 1024);
  });

  it('expands a sweep into variants x folds', async () => {
    s3.on(ListObjectsV2Command).resolves({ Contents: datasetKeys(4).map((Key) => ({ Key })) });
    s3.on(PutObjectCommand).resolves({});
    const out = await plan(
      { request: { stage: 'tumor', folds: 2, sweep: { lr: [1e-3, 1e-4], width: [0.5] } } },
      context,
    );
    expect(out.items).toHaveLength(4);
    expect(out.items.map((i) => `${i.args.variant}/${i.args.fold}/${i.args.hyper.lr}`)).toEqual([
      'v0/0/0.001',
      'v0/1/0.001',
      'v1/0/0.0001',
      'v1/1/0.0001',
    ]);
  });

  it('passes the request schedule (mirroring and recipe included) to every fold job', async () => {
    s3.on(ListObjectsV2Command).resolves({ Contents: datasetKeys(4).map((Key) => ({ Key })) });
    s3.on(PutObjectCommand).resolves({});
    const schedule = { stepsPerEpoch: 5, patch: [64, 64, 32], mirror: true, recipe: 'fast', microBatch: 1 };
    const out = await plan({ request: { stage: 'liver', folds: 2, schedule } }, context);
    expect(out.items.map((i) => i.args.schedule)).toEqual([schedule, schedule]);
    await expect(plan({ request: { stage: 'liver', schedule: { mirror: 'yes' } } }, context)).rejects.toThrow(
      /mirror/,
    );
    await expect(
      plan({ request: { stage: 'liver', schedule: { recipe: 'slow' } } }, context),
    ).rejects.toThrow(/recipe/);
  });

  it('fails clearly on an empty dataset, a too-large sweep and a bad request', async () => {
    s3.on(ListObjectsV2Command).resolves({ Contents: [] });
    await expect(plan({ request: { stage: 'liver' } }, context)).rejects.toThrow(
      /dataset "lits" has no volume-K/,
    );
    s3.on(ListObjectsV2Command).resolves({ Contents: datasetKeys(10).map((Key) => ({ Key })) });
    const sweep = { lr: [1, 0.1, 0.01, 0.001], width: [0.25, 0.5, 1, 2], epochs: [1] };
    await expect(plan({ request: { stage: 'liver', folds: 5, sweep } }, context)).rejects.toThrow(
      /16 variants x 5 folds, more than 40/,
    );
    await expect(plan({ request: { stage: 'pancreas' } }, context)).rejects.toThrow(
      /malformed training request: request\.stage/,
    );
  });
});

describe('register', () => {
  const RUN = '20260301T020000Z-00ab12';
  const metrics = {
    runId: RUN,
    stage: 'liver',
    variant: 'v0',
    models: `s3://${MODELS_BUCKET}/runs/${RUN}/v0/`,
    valDice: 0.953,
  };
  const input = { runId: RUN, stage: 'liver', metrics: `s3://${MODELS_BUCKET}/runs/${RUN}/metrics.json` };
  const json = (v: unknown) => body(new TextEncoder().encode(JSON.stringify(v)));

  it('registers the run and promotes it with a conditional write', async () => {
    s3.on(GetObjectCommand).resolves(json(metrics));
    ddb.on(PutCommand).resolves({});
    const out = await register(input, context);
    expect(out).toEqual({ runId: RUN, stage: 'liver', valDice: 0.953, promoted: true });
    const [runPut, currentPut] = ddb.commandCalls(PutCommand).map((c) => c.args[0].input);
    expect(runPut.Item).toMatchObject({ stage: 'liver', runId: RUN, valDice: 0.953 });
    expect(currentPut.Item).toMatchObject({
      stage: 'liver',
      runId: 'CURRENT',
      currentRunId: RUN,
      currentDice: 0.953,
    });
    expect(currentPut.ConditionExpression).toBe('attribute_not_exists(runId) OR currentDice < :dice');
    expect(currentPut.ExpressionAttributeValues).toEqual({ ':dice': 0.953 });
  });

  it('does not promote when the current ensemble is at least as good (condition fails)', async () => {
    s3.on(GetObjectCommand).resolves(json(metrics));
    ddb.on(PutCommand).resolvesOnce({}).rejectsOnce(conditionalCheckFailed());
    const out = await register(input, context);
    expect(out.promoted).toBe(false);
  });

  it('rejects metrics of another run and missing metrics', async () => {
    s3.on(GetObjectCommand).resolves(json({ ...metrics, runId: '20260301T020000Z-ffffff' }));
    await expect(register(input, context)).rejects.toThrow(/metrics are for run 20260301T020000Z-ffffff/);
    s3.on(GetObjectCommand).rejects(Object.assign(new Error('404'), { name: 'NoSuchKey' }));
    await expect(register(input, context)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
  });
});

describe('run-failed (the Catch target of the training workflow)', () => {
  const RUN = '20260301T020000Z-00ab12';
  const JOB = 'a1b2c3d4-0000-4000-8000-123456789abc';
  const EXECUTION = { name: 'train-liver-weekly', startTime: '2026-03-01T02:00:00.123Z' };
  type RunOut = { runId: string; stage: string; recorded: boolean; reason: string };
  const call = (state: Record<string, unknown>) =>
    runFailed({ execution: EXECUTION, state }, context) as Promise<RunOut>;
  /** A failed fold job's Cause as Step Functions writes it for a `.sync` task (PascalCase DescribeJobs). */
  const batchCause = JSON.stringify({
    JobName: 'TrainFold',
    JobId: JOB,
    Status: 'FAILED',
    StatusReason: 'Essential container in task exited',
    Container: { ExitCode: 1, LogStreamName: 'train-fold/default/abc' },
    Attempts: [{}],
  });
  const foldFailure = {
    stage: 'liver',
    plan: { runId: RUN, stage: 'liver', items: [] },
    error: { Error: 'States.TaskFailed', Cause: batchCause },
  };
  const described = {
    jobId: JOB,
    jobName: 'TrainFold',
    jobQueue: 'q',
    jobDefinition: 'd',
    startedAt: 1,
    status: 'FAILED' as const,
    statusReason: 'Essential container in task exited',
    container: {
      exitCode: 137,
      reason: 'OutOfMemoryError: Container killed due to memory usage',
      logStreamName: 'train-fold/default/def',
    },
    attempts: [{}, {}],
  };
  const puts = () => ddb.commandCalls(PutCommand).map((c) => c.args[0].input);

  it("records the run FAILED with the failed job's final record from DescribeJobs", async () => {
    batch.on(DescribeJobsCommand).resolves({ jobs: [described] });
    ddb.on(PutCommand).resolves({});
    const out = await call(foldFailure);
    expect(batch.commandCalls(DescribeJobsCommand)[0].args[0].input).toEqual({ jobs: [JOB] });
    const reason =
      'Batch job TrainFold failed: Essential container in task exited; exit code 137; ' +
      'OutOfMemoryError: Container killed due to memory usage; log stream train-fold/default/def';
    expect(out).toEqual({ runId: RUN, stage: 'liver', recorded: true, reason });
    const [put] = puts();
    expect(put.TableName).toBe('models-table');
    expect(put.ConditionExpression).toBe('attribute_not_exists(runId)');
    expect(put.Item).toMatchObject({
      stage: 'liver',
      runId: RUN,
      status: 'FAILED',
      reason,
      error: 'States.TaskFailed',
      execution: EXECUTION.name,
      batchJob: { jobId: JOB, jobName: 'TrainFold', status: 'FAILED', exitCode: 137, attempts: 2 },
    });
    expect(put.Item?.valDice).toBeUndefined(); // a failed run never enters the byDice index
  });

  it('falls back to the Cause when Batch no longer knows the job', async () => {
    batch.on(DescribeJobsCommand).resolves({ jobs: [] });
    ddb.on(PutCommand).resolves({});
    const out = await call(foldFailure);
    expect(out.recorded).toBe(true);
    expect(out.reason).toBe(
      'Batch job TrainFold failed: Essential container in task exited; exit code 1 (application error); ' +
        `log stream train-fold/default/abc (Batch no longer knows job ${JOB})`,
    );
    expect(puts()[0].Item?.batchJob).toEqual({ jobId: JOB });
  });

  it('still records the failure when DescribeJobs fails', async () => {
    batch
      .on(DescribeJobsCommand)
      .rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    ddb.on(PutCommand).resolves({});
    const out = await call(foldFailure);
    expect(out.recorded).toBe(true);
    expect(out.reason).toBe(
      'Batch job TrainFold failed: Essential container in task exited; exit code 1 (application error); ' +
        'log stream train-fold/default/abc',
    );
    expect(puts()).toHaveLength(1);
  });

  it('finds the job in a Cause cut short (no longer valid JSON)', async () => {
    batch.on(DescribeJobsCommand).resolves({ jobs: [described] });
    ddb.on(PutCommand).resolves({});
    const cut = batchCause.slice(0, batchCause.indexOf(JOB) + JOB.length + 5);
    const out = await call({ ...foldFailure, error: { Error: 'States.TaskFailed', Cause: cut } });
    expect(batch.commandCalls(DescribeJobsCommand)[0].args[0].input.jobs).toEqual([JOB]);
    expect(out.reason).toContain('exit code 137');
  });

  it('gives a run that failed in Plan an id from the execution, and its requested stage', async () => {
    ddb.on(PutCommand).resolves({});
    const error = {
      Error: 'InputError',
      Cause: JSON.stringify({
        errorType: 'InputError',
        errorMessage: 'dataset "lits" has no volume-K / segmentation-K pairs',
      }),
    };
    const out = await call({ stage: 'tumor', error });
    // 2026-03-01T02:00:00Z, then the first 6 hex digits of SHA-256 of the execution name.
    const hash = createHash('sha256').update(EXECUTION.name).digest('hex').slice(0, 6);
    expect(out).toEqual({
      runId: `20260301T020000Z-${hash}`,
      stage: 'tumor',
      recorded: true,
      reason: 'dataset "lits" has no volume-K / segmentation-K pairs',
    });
    expect(batch.calls()).toHaveLength(0);
    // A request without a valid stage is still recorded, under "unknown"; the same execution, the same id.
    const bad = await call({ stage: 'pancreas', error });
    expect(bad).toMatchObject({ stage: 'unknown', runId: out.runId });
  });

  it('never overwrites a stored item: a registered run keeps its record, CURRENT is never written', async () => {
    batch.on(DescribeJobsCommand).resolves({ jobs: [described] });
    ddb.on(PutCommand).rejects(conditionalCheckFailed());
    const out = await call({ ...foldFailure, error: { Error: 'Lambda.Unknown', Cause: 'timeout' } });
    expect(out.recorded).toBe(false);
    expect(puts()).toHaveLength(1);
    expect(
      puts().every(
        (p) => p.Item?.runId !== 'CURRENT' && p.ConditionExpression === 'attribute_not_exists(runId)',
      ),
    ).toBe(true);
  });

  it('rejects a malformed event naming the field', async () => {
    await expect(
      runFailed({ execution: { name: '', startTime: 'x' }, state: { error: { Error: 'E' } } }, context),
    ).rejects.toThrow(/malformed run-failed input: execution\.name/);
    await expect(
      call({ plan: { runId: 'not-a-run', stage: 'liver' }, error: { Error: 'E' } }),
    ).rejects.toThrow(/state\.plan\.runId/);
    expect(ddb.calls()).toHaveLength(0);
  });
});
