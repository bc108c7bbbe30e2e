// The segmentation Lambdas end to end through their middy shells, with mocked S3, DynamoDB and Step Functions.
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import {
  BatchGetCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';

vi.hoisted(() => {
  process.env.POWERTOOLS_LOG_LEVEL = 'INFO';
});

import { handler as finalize } from '../../functions/finalize.ts';
import { handler as ingest } from '../../functions/ingest.ts';
import { handler as markFailedHandler } from '../../functions/mark-failed.ts';
import { handler as starter } from '../../functions/starter.ts';
import { handler as windowHandler } from '../../functions/window.ts';
import { jobIdFor } from '../../lib/cloud/identity.ts';
import { logger } from '../../lib/cloud/logger.ts';
import { planFor } from '../../lib/cloud/segmentation.ts';
import { decodeNifti, encodeNifti } from '../../lib/volume/nifti.ts';
import { createVolume, withData } from '../../lib/volume/volume.ts';
import { expectValidReport } from '../report-schema.ts';
import {
  body,
  CT_DIMS,
  CT_SPACING,
  conditionalCheckFailed,
  context,
  ctBytes,
  INPUT_BUCKET,
  JOB_ID,
  makeCt,
  SOURCE,
  setLambdaEnv,
  WORK_BUCKET,
} from './helpers.ts';

/** The shared Catch handler, answering a segmentation job's failure. */
const markFailed = (event: unknown, ctx: typeof context) =>
  markFailedHandler(event, ctx) as Promise<{ status: 'FAILED' | 'SUCCEEDED'; reason: string }>;

const s3 = mockClient(S3Client);
const ddb = mockClient(DynamoDBDocumentClient);
const sfn = mockClient(SFNClient);

beforeAll(setLambdaEnv);
/** Everything the Powertools logger printed (it prints through its own Console instance). */
const logLines: string[] = [];
beforeEach(() => {
  const out = (logger as unknown as { console: Record<string, (...a: unknown[]) => void> }).console;
  for (const method of ['info', 'warn', 'error', 'debug', 'log']) {
    vi.spyOn(out, method).mockImplementation((...a: unknown[]) => {
      logLines.push(a.map(String).join(' '));
    });
  }
  s3.reset();
  ddb.reset();
  sfn.reset();
});
afterEach(() => vi.restoreAllMocks());
afterAll(() => {
  // Across every test of this file: no log line carries the key's patient-like part.
  expect(logLines.length).toBeGreaterThan(5);
  expect(logLines.filter((l) => l.includes('Jane_Doe') || l.includes('scan.nii'))).toEqual([]);
});

const CURRENT = ['localize', 'liver', 'tumor'].map((stage) => ({
  stage,
  runId: 'CURRENT',
  currentRunId: '20260101T000000Z-abcdef',
  currentDice: 0.9,
  models: `s3://models-bucket/runs/20260101T000000Z-abcdef/v0/`,
}));
const MODELS = Object.fromEntries(CURRENT.map((c) => [c.stage, c.models]));
const PLAN = planFor(JOB_ID, WORK_BUCKET, MODELS);

function objectCreated(key: string, version = 'v1', sequencer = '0A1') {
  return {
    version: '0',
    id: 'evt-1',
    source: 'aws.s3',
    'detail-type': 'Object Created',
    detail: {
      bucket: { name: INPUT_BUCKET },
      object: { key, size: 1234, 'version-id': version, etag: 'e1', sequencer },
    },
  };
}

type QueueResult = {
  batchItemFailures: Array<{ itemIdentifier: string }>;
  outcomes: Array<{ jobId: string; started: boolean; attempt?: number; reason?: string }>;
};

/** The starter as Lambda's SQS poller calls it: each EventBridge event is one message body. */
async function fromQueue(...events: unknown[]): Promise<QueueResult> {
  const Records = events.map((e, i) => ({ messageId: `m-${i}`, body: JSON.stringify(e) }));
  return (await starter({ Records }, context)) as QueueResult;
}

/** One event through the queue: its outcome (the test fails when the message was not handled). */
async function startOne(event: unknown) {
  const out = await fromQueue(event);
  expect(out.batchItemFailures).toEqual([]);
  return out.outcomes[0];
}

/** The error object Step Functions' Catch hands to MarkFailed when a Lambda throws `e`. */
function caught(e: unknown) {
  const err = e as Error;
  return {
    Error: err.name,
    Cause: JSON.stringify({ errorType: err.name, errorMessage: err.message, trace: [] }),
  };
}

const exists = () => Object.assign(new Error('exists'), { name: 'ExecutionAlreadyExists' });

describe('starter', () => {
  it('starts one execution named after the object version, with small input', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:exec', startDate: new Date() });
    const out = await startOne(objectCreated('incoming/b/scan.nii.gz'));
    expect(out.started).toBe(true);
    const call = sfn.commandCalls(StartExecutionCommand)[0].args[0].input;
    expect(call.name).toBe(`seg-${out.jobId}`);
    expect(call.name).not.toContain('scan');
    expect(JSON.parse(call.input!)).toEqual({
      jobId: out.jobId,
      attempt: 1,
      source: {
        bucket: INPUT_BUCKET,
        key: 'incoming/b/scan.nii.gz',
        versionId: 'v1',
        size: 1234,
        sequencer: '0A1',
      },
    });
  });

  it('refuses every key outside incoming/ and every non-scan suffix, starting nothing', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:exec', startDate: new Date() });
    for (const key of [
      'work/0123/preprocessed.nii.gz',
      'scan.nii',
      'results/x/labels.nii.gz',
      'incoming/notes.txt',
    ]) {
      const out = await startOne(objectCreated(key));
      expect(out, key).toMatchObject({ started: false, reason: 'not a scan under incoming/' });
    }
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('treats ExecutionAlreadyExists as a duplicate and derives the same name twice', async () => {
    ddb.on(GetCommand).resolves({ Item: { jobId: 'x', status: 'RUNNING', source: { sequencer: '0A1' } } });
    sfn
      .on(StartExecutionCommand)
      .resolvesOnce({ executionArn: 'arn:exec', startDate: new Date() })
      .rejectsOnce(exists());
    const first = await startOne(objectCreated('incoming/scan.nii'));
    const second = await startOne(objectCreated('incoming/scan.nii'));
    expect(second).toEqual({ jobId: first.jobId, started: false, reason: 'duplicate' });
    const names = sfn.commandCalls(StartExecutionCommand).map((c) => c.args[0].input.name);
    expect(names[0]).toBe(names[1]);
    // A new version of the same key is a new job.
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:exec2', startDate: new Date() });
    const third = await startOne(objectCreated('incoming/scan.nii', 'v2'));
    expect(third.jobId).not.toBe(first.jobId);
  });

  it('re-runs a FAILED job when the object is dropped again (new sequencer) as attempt N+1, once', async () => {
    const failed = { status: 'FAILED', attempt: 1, source: { sequencer: '0A1' } };
    ddb.on(GetCommand).resolves({ Item: failed });
    sfn
      .on(StartExecutionCommand)
      .rejectsOnce(exists()) // attempt 1 ran
      .resolvesOnce({ executionArn: 'arn:exec-a2', startDate: new Date() })
      .rejects(exists());
    // The same event again (same sequencer) is a duplicate, not a re-run.
    const again = await startOne(objectCreated('incoming/scan.nii', 'v1', '0A1'));
    expect(again).toMatchObject({ started: false, reason: 'duplicate' });
    sfn.resetHistory();
    sfn
      .on(StartExecutionCommand)
      .rejectsOnce(exists())
      .resolvesOnce({ executionArn: 'arn:exec-a2', startDate: new Date() })
      .rejects(exists());
    const rerun = await startOne(objectCreated('incoming/scan.nii', 'v1', '0B2'));
    expect(rerun).toMatchObject({ started: true, attempt: 2 });
    const calls = sfn.commandCalls(StartExecutionCommand).map((c) => c.args[0].input);
    expect(calls.map((c) => c.name)).toEqual([`seg-${rerun.jobId}`, `seg-${rerun.jobId}-a2`]);
    expect(JSON.parse(calls[1].input!).attempt).toBe(2);
    // A second delivery of the re-drop event finds attempt 2 started: a duplicate.
    expect(await startOne(objectCreated('incoming/scan.nii', 'v1', '0B2'))).toMatchObject({ started: false });
    // A RUNNING or SUCCEEDED job is never re-run by a re-drop.
    for (const status of ['RUNNING', 'SUCCEEDED']) {
      ddb.on(GetCommand).resolves({ Item: { ...failed, status } });
      sfn.on(StartExecutionCommand).rejects(exists());
      expect(await startOne(objectCreated('incoming/scan.nii', 'v1', '0C3'))).toMatchObject({
        started: false,
        reason: 'duplicate',
      });
    }
  });

  it('decodes URL-encoded keys (spaces, +, %, parentheses, UTF-8) to the key S3 stores', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:exec', startDate: new Date() });
    // "incoming/ct scan (2)+contrast 100%é.nii.gz" as S3 encodes it in its events (form encoding).
    const encoded = 'incoming/ct+scan+%282%29%2Bcontrast+100%25%C3%A9.nii.gz';
    const out = await startOne(objectCreated(encoded));
    expect(out.started).toBe(true);
    const input = JSON.parse(sfn.commandCalls(StartExecutionCommand)[0].args[0].input.input!);
    expect(input.source.key).toBe('incoming/ct scan (2)+contrast 100%\u00e9.nii.gz');
    // The job id is that of the stored object, whichever way the key was spelled in the event.
    expect(out.jobId).toBe(
      jobIdFor({
        bucket: INPUT_BUCKET,
        key: 'incoming/ct scan (2)+contrast 100%\u00e9.nii.gz',
        versionId: 'v1',
      }),
    );
    // A plain key is unchanged.
    await startOne(objectCreated('incoming/b_c-d.1.nii'));
    expect(JSON.parse(sfn.commandCalls(StartExecutionCommand)[1].args[0].input.input!).source.key).toBe(
      'incoming/b_c-d.1.nii',
    );
  });

  it('returns a malformed message to the queue (then its DLQ), naming the field; the rest of the batch runs', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:exec', startDate: new Date() });
    const bad = objectCreated('incoming/scan.nii');
    delete (bad.detail.object as { size?: number }).size;
    const out = await fromQueue(objectCreated('incoming/bad%zz.nii'), bad, objectCreated('incoming/ok.nii'));
    expect(out.batchItemFailures).toEqual([{ itemIdentifier: 'm-0' }, { itemIdentifier: 'm-1' }]);
    expect(out.outcomes).toHaveLength(1);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(1);
    const text = logLines.join('\n');
    expect(text).toMatch(/detail\.object\.key: not a URL-encoded object key/);
    expect(text).toMatch(/detail\.object\.size/);
    // A body that is not an SQS event at all is refused as a whole.
    await expect(starter({ Records: [] }, context)).rejects.toThrow(/malformed SQS event: Records/);
  });

  it('returns a throttled StartExecution to the queue instead of losing it', async () => {
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    sfn.on(StartExecutionCommand).rejects(throttled);
    const out = await fromQueue(objectCreated('incoming/scan.nii'));
    expect(out.batchItemFailures).toEqual([{ itemIdentifier: 'm-0' }]);
  });
});

describe('ingest', () => {
  it('creates the job with a conditional write, validates the scan and plans the S3 locations', async () => {
    ddb.on(PutCommand).resolves({});
    ddb.on(BatchGetCommand).resolves({ Responses: { 'models-table': CURRENT } });
    s3.on(GetObjectCommand).resolves(body(ctBytes()));
    const out = await ingest({ jobId: JOB_ID, source: SOURCE }, context);
    expect(out).toEqual({ status: 'CREATED', dims: CT_DIMS, spacing: expect.any(Array), plan: PLAN });
    const put = ddb.commandCalls(PutCommand)[0].args[0].input;
    expect(put.ConditionExpression).toBe('attribute_not_exists(jobId)');
    expect(put.Item).toMatchObject({ jobId: JOB_ID, status: 'RUNNING', source: SOURCE });
    expect(s3.commandCalls(GetObjectCommand)[0].args[0].input).toMatchObject({
      Bucket: INPUT_BUCKET,
      Key: SOURCE.key,
      VersionId: 'v1',
    });
  });

  it('stops a duplicate event (another execution owns the job) without any read of the scan', async () => {
    ddb.on(PutCommand).rejects(conditionalCheckFailed());
    ddb
      .on(GetCommand)
      .resolves({ Item: { jobId: JOB_ID, status: 'RUNNING', execution: 'seg-other', attempt: 1 } });
    const out = await ingest({ jobId: JOB_ID, source: SOURCE, execution: `seg-${JOB_ID}` }, context);
    expect(out).toEqual({ status: 'DUPLICATE' });
    expect(s3.commandCalls(GetObjectCommand)).toHaveLength(0);
    expect(ddb.commandCalls(PutCommand)).toHaveLength(1);
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
  });

  it("continues when Lambda retries it after its record write (the job is this execution's)", async () => {
    ddb.on(PutCommand).rejects(conditionalCheckFailed());
    const execution = `seg-${JOB_ID}`;
    ddb.on(GetCommand).resolves({ Item: { jobId: JOB_ID, status: 'RUNNING', execution, attempt: 1 } });
    ddb.on(BatchGetCommand).resolves({ Responses: { 'models-table': CURRENT } });
    s3.on(GetObjectCommand).resolves(body(ctBytes()));
    const out = await ingest({ jobId: JOB_ID, source: SOURCE, attempt: 1, execution }, context);
    expect(out).toMatchObject({ status: 'CREATED', plan: PLAN });
    // A finished job (same execution name) is not reopened by a late retry.
    ddb.on(GetCommand).resolves({ Item: { jobId: JOB_ID, status: 'SUCCEEDED', execution, attempt: 1 } });
    expect(await ingest({ jobId: JOB_ID, source: SOURCE, attempt: 1, execution }, context)).toEqual({
      status: 'DUPLICATE',
    });
  });

  it('reopens a FAILED job for a re-run with a higher attempt (conditional update), else a duplicate', async () => {
    ddb.on(PutCommand).rejects(conditionalCheckFailed());
    ddb
      .on(GetCommand)
      .resolves({ Item: { jobId: JOB_ID, status: 'FAILED', execution: `seg-${JOB_ID}`, attempt: 1 } });
    ddb.on(UpdateCommand).resolves({});
    ddb.on(BatchGetCommand).resolves({ Responses: { 'models-table': CURRENT } });
    s3.on(GetObjectCommand).resolves(body(ctBytes()));
    const execution = `seg-${JOB_ID}-a2`;
    const out = await ingest({ jobId: JOB_ID, source: SOURCE, attempt: 2, execution }, context);
    expect(out).toMatchObject({ status: 'CREATED' });
    const update = ddb.commandCalls(UpdateCommand)[0].args[0].input;
    expect(update.ConditionExpression).toBe(
      '#status = :failed AND (attribute_not_exists(attempt) OR attempt < :attempt)',
    );
    expect(update.ExpressionAttributeValues).toMatchObject({ ':attempt': 2, ':execution': execution });
    // The conditional update lost (another re-run got there first): a duplicate, nothing read.
    s3.resetHistory();
    ddb.on(UpdateCommand).rejects(conditionalCheckFailed());
    expect(await ingest({ jobId: JOB_ID, source: SOURCE, attempt: 2, execution }, context)).toEqual({
      status: 'DUPLICATE',
    });
    expect(s3.commandCalls(GetObjectCommand)).toHaveLength(0);
    // The same attempt number again is a duplicate without even trying.
    ddb.resetHistory();
    expect(await ingest({ jobId: JOB_ID, source: SOURCE, attempt: 1, execution: 'seg-x' }, context)).toEqual({
      status: 'DUPLICATE',
    });
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
  });

  it('fails a corrupt scan with a reason naming the file and the problem', async () => {
    ddb.on(PutCommand).resolves({});
    ddb.on(UpdateCommand).resolves({});
    s3.on(GetObjectCommand).resolves(body(new TextEncoder().encode('this is not a NIfTI file at all')));
    const err = await ingest({ jobId: JOB_ID, source: SOURCE }, context).catch((e) => e);
    expect(err.name).toBe('InputError');
    expect(err.message).toContain('ct scan.nii.gz');
    // The workflow's Catch hands the error to MarkFailed: the job becomes FAILED with that message.
    const marked = await markFailed({ jobId: JOB_ID, error: caught(err) }, context);
    expect(marked.status).toBe('FAILED');
    expect(marked.reason).toBe(err.message);
    const update = ddb.commandCalls(UpdateCommand)[0].args[0].input;
    expect(update.ExpressionAttributeValues).toMatchObject({ ':failed': 'FAILED', ':reason': err.message });
    expect(update.ConditionExpression).toContain('<> :succeeded');
  });

  it('fails a scan that is not CT (a label map) with the input checks of `raunet segment`', async () => {
    ddb.on(PutCommand).resolves({});
    const ct = makeCt();
    const labels = withData(
      ct,
      Uint8Array.from(ct.data, (v) => (v > 100 ? 1 : 0)),
      'uint8',
    );
    s3.on(GetObjectCommand).resolves(body(encodeNifti(labels, { gzip: true })));
    const err = await ingest({ jobId: JOB_ID, source: SOURCE }, context).catch((e) => e);
    expect(err.name).toBe('InputError');
    expect(err.code).toBe('NOT_CT');
    expect(err.message).toMatch(/^ct scan\.nii\.gz: looks like a label map, not a CT/);
  });

  it('fails a missing object with NOT_FOUND', async () => {
    ddb.on(PutCommand).resolves({});
    s3.on(GetObjectCommand).rejects(Object.assign(new Error('gone'), { name: 'NoSuchKey' }));
    await expect(ingest({ jobId: JOB_ID, source: SOURCE }, context)).rejects.toMatchObject({
      name: 'InputError',
      code: 'NOT_FOUND',
      message: expect.stringContaining('ct scan.nii.gz: object not found'),
    });
  });

  it('fails when a stage has no promoted model yet', async () => {
    ddb.on(PutCommand).resolves({});
    ddb.on(BatchGetCommand).resolves({ Responses: { 'models-table': CURRENT.slice(0, 1) } });
    s3.on(GetObjectCommand).resolves(body(ctBytes()));
    await expect(ingest({ jobId: JOB_ID, source: SOURCE }, context)).rejects.toThrow(
      /no promoted model for stage liver, tumor/,
    );
  });

  it('rejects a malformed event before touching the table', async () => {
    await expect(ingest({ jobId: 'nope', source: SOURCE }, context)).rejects.toThrow(
      /malformed ingest input: jobId/,
    );
    expect(ddb.calls()).toHaveLength(0);
  });

  it('logs the job id but never the object key or its patient-like parts', async () => {
    ddb.on(PutCommand).resolves({});
    ddb.on(BatchGetCommand).resolves({ Responses: { 'models-table': CURRENT } });
    s3.on(GetObjectCommand).resolves(body(ctBytes()));
    await ingest({ jobId: JOB_ID, source: SOURCE }, context);
    const text = logLines.join('\n');
    expect(text).toContain(JOB_ID);
    expect(text).not.toContain('Jane_Doe');
    expect(text).not.toContain('ct scan');
  });
});

describe('window', () => {
  it('writes the HU-windowed, normalised volume to the planned location', async () => {
    ddb.on(UpdateCommand).resolves({});
    s3.on(GetObjectCommand).resolves(body(ctBytes()));
    s3.on(PutObjectCommand).resolves({});
    const out = await windowHandler({ jobId: JOB_ID, source: SOURCE, plan: PLAN }, context);
    expect(out).toEqual({ preprocessed: PLAN.preprocessed, dims: CT_DIMS, ms: expect.any(Number) });
    expect(out.ms).toBeGreaterThanOrEqual(0);
    const put = s3.commandCalls(PutObjectCommand)[0].args[0].input;
    expect(`s3://${put.Bucket}/${put.Key}`).toBe(PLAN.preprocessed);
    const vol = decodeNifti(put.Body as Uint8Array, 'preprocessed.nii.gz');
    expect(vol.dims).toEqual(CT_DIMS);
    // The scan spans the whole window [-100, 200] HU: normalised value = (clip(HU) + 100) / 300.
    const [nx, ny] = CT_DIMS;
    const at = (i: number, j: number, k: number) => vol.data[i + nx * (j + ny * k)];
    expect(at(0, 0, 0)).toBeCloseTo(0, 5); // air -1000 HU
    expect(at(5, 10, 4)).toBeCloseTo(100 / 300, 4); // 0 HU
    expect(at(20, 10, 4)).toBeCloseTo(250 / 300, 4); // 150 HU
    expect(at(30, 10, 4)).toBeCloseTo(1, 5); // 250 HU, clipped
  });

  it('refuses to work on a job that is no longer RUNNING (conditional write conflict)', async () => {
    ddb.on(UpdateCommand).rejects(conditionalCheckFailed());
    await expect(windowHandler({ jobId: JOB_ID, source: SOURCE, plan: PLAN }, context)).rejects.toThrow(
      /is not RUNNING/,
    );
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0);
  });
});

describe('finalize', () => {
  function masks() {
    const ct = makeCt();
    const [nx, ny] = CT_DIMS;
    const liver = new Uint8Array(ct.data.length);
    const tumor = new Uint8Array(ct.data.length);
    // Liver: a 10x10x4 block (400 voxels); tumors: two separate 2x2x2 blocks inside it (16 voxels).
    for (let k = 3; k < 7; k++)
      for (let j = 10; j < 20; j++) for (let i = 10; i < 20; i++) liver[i + nx * (j + ny * k)] = 1;
    for (const [i0, j0] of [
      [11, 11],
      [16, 16],
    ]) {
      for (let k = 4; k < 6; k++)
        for (let j = j0; j < j0 + 2; j++) for (let i = i0; i < i0 + 2; i++) tumor[i + nx * (j + ny * k)] = 1;
    }
    return {
      liver: encodeNifti(withData(ct, liver, 'uint8'), { gzip: true }),
      tumor: encodeNifti(withData(ct, tumor, 'uint8'), { gzip: true }),
    };
  }

  const json = (v: unknown) => body(new TextEncoder().encode(JSON.stringify(v)));
  const info = (stage: string, patch: number[], backend = 'onnx-cuda') => ({
    engine: { kind: 'onnx', backend },
    models: [0, 1].map((fold) => ({ id: `${stage}/fold-${fold}`, arch: `arch-${stage}`, fold })),
    patch,
  });
  /** The stages' small JSON outputs: the liver box and what each stage ran with. */
  function stageFiles() {
    s3.on(GetObjectCommand, { Key: `work/${JOB_ID}/localize/box.json` }).resolves(
      json({ box: { start: [8, 8, 1], end: [22, 22, 9] }, dims: CT_DIMS }),
    );
    s3.on(GetObjectCommand, { Key: `work/${JOB_ID}/localize/stage.json` }).resolves(
      json(info('localize', [64, 64])),
    );
    s3.on(GetObjectCommand, { Key: `work/${JOB_ID}/liver/stage.json` }).resolves(
      json(info('liver', [64, 64, 32])),
    );
    s3.on(GetObjectCommand, { Key: `work/${JOB_ID}/tumor/stage.json` }).resolves(
      json(info('tumor', [32, 32, 32])),
    );
  }
  /** The scan and every Batch stage output finalize reads. */
  function stageOutputs() {
    const m = masks();
    s3.on(GetObjectCommand, { Key: SOURCE.key }).resolves(body(ctBytes()));
    s3.on(GetObjectCommand, { Key: `work/${JOB_ID}/liver/liver.nii.gz` }).resolves(body(m.liver));
    s3.on(GetObjectCommand, { Key: `work/${JOB_ID}/tumor/tumor.nii.gz` }).resolves(body(m.tumor));
    stageFiles();
  }
  // What the workflow passes: the window step's time and the Batch jobs' runs (epoch ms).
  const TIMES = {
    window: { ms: 1500 },
    batch: {
      localize: { startedAt: 1_000_000, stoppedAt: 1_030_000 },
      liver: { startedAt: 1_040_000, stoppedAt: 1_100_500 },
      tumor: { startedAt: 1_110_000, stoppedAt: 1_135_000 },
    },
  };
  const INPUT = { jobId: JOB_ID, source: SOURCE, plan: PLAN, ...TIMES };

  it('writes label map, report and preview and marks the job SUCCEEDED with summary numbers', async () => {
    stageOutputs();
    s3.on(PutObjectCommand).resolves({});
    ddb.on(UpdateCommand).resolves({});
    const out = await finalize(INPUT, context);
    const voxelMl = (0.8 * 0.8 * 2.5) / 1000;
    expect(out.summary).toEqual({
      dims: CT_DIMS,
      spacing: [expect.closeTo(0.8, 5), expect.closeTo(0.8, 5), expect.closeTo(2.5, 5)],
      liverVoxels: 400,
      tumorVoxels: 16,
      liverVolumeMl: Math.round(400 * voxelMl * 1000) / 1000,
      tumorVolumeMl: Math.round(16 * voxelMl * 1000) / 1000,
      tumorCount: 2,
    });
    const puts = Object.fromEntries(
      s3.commandCalls(PutObjectCommand).map((c) => [c.args[0].input.Key, c.args[0].input]),
    );
    expect(Object.keys(puts).sort()).toEqual(
      [
        ...['labels.nii.gz', 'preview.png', 'report.json'],
        // the viewer folder (test/viewer/cloud-results.test.ts); its data folder is not named after the
        // case ("ct scan"): keys never carry names from the dropped key
        ...['ct.nii.gz', 'report.json', 'seg.nii.gz'].map((f) => `viewer/data/case/${f}`),
        ...['viewer/index.html', 'viewer/manifest.json', 'viewer/viewer.js'],
      ].map((f) => `results/${JOB_ID}/${f}`),
    );
    const labels = decodeNifti(puts[`results/${JOB_ID}/labels.nii.gz`].Body as Uint8Array, 'labels.nii.gz');
    const ct = makeCt();
    expect(labels.dims).toEqual(ct.dims);
    for (let i = 0; i < 16; i++) expect(labels.affine[i]).toBeCloseTo(ct.affine[i], 5);
    const counts = [0, 0, 0];
    for (const v of labels.data) counts[v]++;
    expect(counts).toEqual([ct.data.length - 400, 384, 16]);
    const png = puts[`results/${JOB_ID}/preview.png`].Body as Uint8Array;
    expect([...png.slice(1, 4)]).toEqual([0x50, 0x4e, 0x47]); // "PNG"
    const update = ddb.commandCalls(UpdateCommand)[0].args[0].input;
    expect(update.ConditionExpression).toContain('#status = :running');
    expect(update.ExpressionAttributeValues).toMatchObject({ ':succeeded': 'SUCCEEDED' });

    // The report is the CLI's (`buildReport`): every field of `raunet segment`'s report, plus the job's.
    const report = JSON.parse(
      new TextDecoder().decode(puts[`results/${JOB_ID}/report.json`].Body as Uint8Array),
    );
    expect(Object.keys(report).sort()).toEqual(
      [
        ...['schemaVersion', 'labels', 'input', 'liver', 'tumors', 'tumorBurden', 'structures'],
        ...['localization', 'timings'],
        ...['engine', 'models', 'options', 'createdAt', 'jobId', 'source', 'summary', 'files'],
        ...['flags', 'demoModels'],
      ].sort(),
    );
    expectValidReport(report);
    expect(report.input).toMatchObject({ name: 'ct scan', dims: CT_DIMS, orientation: expect.any(String) });
    expect(report.input.voxelVolumeMm3).toBeCloseTo(0.8 * 0.8 * 2.5, 6);
    // Hand-derived from the masks: 400 liver voxels (16 of them tumor, two 2x2x2 blocks).
    expect(report.liver.voxels).toBe(400);
    expect(report.structures.parenchyma.voxels).toBe(384);
    expect(report.tumors.count).toBe(2);
    expect(report.tumors.items.map((t: { voxels: number }) => t.voxels)).toEqual([8, 8]);
    expect(report.tumorBurden).toBeCloseTo(16 / 400, 9);
    // The first tumor block spans x, y in [11, 13), z in [4, 6): centroid (11.5, 11.5, 4.5) or the other's.
    expect(report.tumors.items.map((t: { centroidVoxel: number[] }) => t.centroidVoxel).sort()).toEqual([
      [11.5, 11.5, 4.5],
      [16.5, 16.5, 4.5],
    ]);
    expect(report.localization.voxels).toEqual({ start: [8, 8, 1], end: [22, 22, 9] });
    // Step times: the window Lambda's 1.5 s and each Batch job's stoppedAt - startedAt.
    expect(report.timings).toEqual({
      preprocessMs: 1500,
      localizeMs: 30_000,
      liverMs: 60_500,
      tumorMs: 25_000,
      totalMs: 1500 + 30_000 + 60_500 + 25_000,
    });
    expect(report.engine).toEqual({ kind: 'onnx', backend: 'onnx-cuda' });
    expect(report.models.tumor.map((mi: { id: string }) => mi.id)).toEqual(['tumor/fold-0', 'tumor/fold-1']);
    expect(report.options.patches).toEqual({ localize: [64, 64], liver: [64, 64, 32], tumor: [32, 32, 32] });
    expect(report.options.thresholds).toEqual({ localize: 0.5, liver: 0.5, tumor: 0.5 });
    // 10 slices (< a 32-slice patch) and a 0.64 mL liver: flagged as the CLI flags them.
    expect(report.flags.map((f: { code: string }) => f.code)).toEqual([
      'few-slices',
      'liver-volume-implausible',
    ]);
    expect(report.demoModels).toBe(false);
    expect(report.jobId).toBe(JOB_ID);
    expect(report.summary).toEqual(out.summary);
  });

  it('fails a malformed stage info file with its name, before writing anything', async () => {
    stageOutputs();
    s3.on(GetObjectCommand, { Key: `work/${JOB_ID}/liver/stage.json` }).resolves(json({ engine: {} }));
    await expect(finalize(INPUT, context)).rejects.toThrow(/malformed stage\.json: engine\.kind/);
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0);
  });

  it('rejects an input without the step times, naming the field', async () => {
    await expect(finalize({ jobId: JOB_ID, source: SOURCE, plan: PLAN }, context)).rejects.toThrow(
      /malformed finalize input: window/,
    );
  });

  it('does not overwrite a job that is already final (conditional write conflict)', async () => {
    stageOutputs();
    s3.on(PutObjectCommand).resolves({});
    ddb.on(UpdateCommand).rejects(conditionalCheckFailed());
    await expect(finalize(INPUT, context)).rejects.toThrow(/is not RUNNING/);
  });

  it('puts the masks of a scan stored LAS back on its own grid (the stages ran on its RAS+ grid)', async () => {
    stageOutputs();
    // The same scan stored with x reversed (LAS): voxel i holds what RAS voxel 39 - i holds.
    const ras = makeCt();
    const [nx, ny] = CT_DIMS;
    const las = new Int16Array(ras.data.length);
    for (let n = 0; n < las.length; n++) {
      const i = n % nx;
      las[n - i + (nx - 1 - i)] = ras.data[n];
    }
    const affine = [...ras.affine];
    affine[0] = -ras.affine[0];
    affine[3] = ras.affine[3] + (nx - 1) * ras.affine[0];
    const scan = createVolume(las, CT_DIMS, CT_SPACING, affine);
    s3.on(GetObjectCommand, { Key: SOURCE.key }).resolves(body(encodeNifti(scan, { gzip: true })));
    s3.on(PutObjectCommand).resolves({});
    ddb.on(UpdateCommand).resolves({});
    await finalize(INPUT, context);
    const puts = Object.fromEntries(
      s3.commandCalls(PutObjectCommand).map((c) => [c.args[0].input.Key, c.args[0].input]),
    );
    const labels = decodeNifti(puts[`results/${JOB_ID}/labels.nii.gz`].Body as Uint8Array, 'labels.nii.gz');
    for (let i = 0; i < 16; i++) expect(labels.affine[i]).toBeCloseTo(affine[i], 5);
    const at = (i: number, j: number, k: number) => labels.data[i + nx * (j + ny * k)];
    // RAS liver x 10..19 is LAS x 20..29; the RAS tumor voxel (11, 11, 4) is LAS (28, 11, 4).
    expect([at(29, 10, 3), at(20, 19, 6), at(28, 11, 4), at(10, 10, 3), at(19, 12, 3)]).toEqual([
      1, 1, 2, 0, 0,
    ]);
    const report = JSON.parse(
      new TextDecoder().decode(puts[`results/${JOB_ID}/report.json`].Body as Uint8Array),
    );
    // Stage 1's box x 8..21 on the RAS grid is x 18..31 on the stored one.
    expect(report.localization.voxels).toEqual({ start: [18, 8, 1], end: [32, 22, 9] });
    expect(report.input.orientation).toBe('LAS');
    expect(report.liver.voxels).toBe(400);
  });

  it('fails when a stage output is missing', async () => {
    s3.on(GetObjectCommand, { Key: SOURCE.key }).resolves(body(ctBytes()));
    s3.on(GetObjectCommand).rejects(Object.assign(new Error('404'), { name: 'NoSuchKey' }));
    s3.on(GetObjectCommand, { Key: SOURCE.key }).resolves(body(ctBytes()));
    await expect(finalize(INPUT, context)).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0);
  });
});

describe('mark-failed', () => {
  it('turns a Batch failure into a reason with status reason, exit code and log stream', async () => {
    ddb.on(UpdateCommand).resolves({});
    const cause = {
      JobName: 'SegmentLiver',
      StatusReason: 'Essential container in task exited',
      Container: { ExitCode: 2, LogStreamName: 'segment-liver/default/abc' },
    };
    const out = await markFailed(
      { jobId: JOB_ID, error: { Error: 'States.TaskFailed', Cause: JSON.stringify(cause) } },
      context,
    );
    expect(out.reason).toBe(
      'Batch job SegmentLiver failed: Essential container in task exited; exit code 2 (bad input); log stream segment-liver/default/abc',
    );
  });

  it('serves only segmentation jobs: a training run failure is refused as a malformed event', async () => {
    const runFailure = {
      execution: { name: 'train-liver', startTime: '2026-03-01T02:00:00Z' },
      state: { error: { Error: 'E' } },
    };
    await expect(markFailed(runFailure, context)).rejects.toThrow(/mark-failed input/);
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
  });

  it('fails a job whose execution timed out or was stopped, only while that execution owns it', async () => {
    ddb.on(UpdateCommand).resolves({});
    const ended = (status: string, name = `seg-${JOB_ID}-a2`) => ({
      version: '0',
      source: 'aws.states',
      'detail-type': 'Step Functions Execution Status Change',
      detail: { name, status, error: null, cause: null, executionArn: 'arn:x', stateMachineArn: 'arn:sm' },
    });
    const out = (await markFailedHandler(ended('TIMED_OUT'), context)) as { status: string; reason: string };
    expect(out).toEqual({ status: 'FAILED', reason: 'segmentation workflow timed out' });
    const update = ddb.commandCalls(UpdateCommand)[0].args[0].input;
    expect(update.Key).toEqual({ jobId: JOB_ID });
    expect(update.ConditionExpression).toBe('#status = :running AND execution = :execution');
    expect(update.ExpressionAttributeValues).toMatchObject({ ':execution': `seg-${JOB_ID}-a2` });
    // Already marked by the Catch, finished, or another attempt's: unchanged.
    ddb.on(UpdateCommand).rejects(conditionalCheckFailed());
    expect(await markFailedHandler(ended('FAILED'), context)).toEqual({ status: 'UNCHANGED' });
    // Another state machine's execution name is ignored without a write.
    ddb.resetHistory();
    expect(await markFailedHandler(ended('ABORTED', 'train-e2e'), context)).toEqual({ status: 'UNCHANGED' });
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
    await expect(markFailedHandler({ ...ended('RUNNING') }, context)).rejects.toThrow(
      /malformed execution status event: detail\.status/,
    );
  });

  it('keeps a SUCCEEDED job as it is', async () => {
    ddb.on(UpdateCommand).rejects(conditionalCheckFailed());
    const out = await markFailed({ jobId: JOB_ID, error: { Error: 'States.Timeout' } }, context);
    expect(out).toEqual({ status: 'SUCCEEDED', reason: 'States.Timeout' });
  });
});
