// The training Lambdas through their middy shells, with mocked S3 and DynamoDB.
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';

vi.hoisted(() => {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
});

import { handler as plan } from '../../functions/plan.ts';
import { handler as register } from '../../functions/register.ts';
import { body, conditionalCheckFailed, context, MODELS_BUCKET, setLambdaEnv } from './helpers.ts';

const s3 = mockClient(S3Client);
const ddb = mockClient(DynamoDBDocumentClient);
beforeAll(setLambdaEnv);
beforeEach(() => {
  s3.reset();
  ddb.reset();
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
