/**
 * Re-running a failed scan as docs/aws.md promises ("Re-running a failed scan"), with events as S3 and
 * EventBridge produce them in the local cloud: every PutObject becomes an Object Created event with its
 * own sequencer, and EventBridge may deliver an event twice.
 *
 * The story is the first deploy's: a scan dropped before any model was promoted FAILS ("no promoted
 * model"); after the models are published, a second PUT of the same bytes to the same key re-runs the same
 * job as attempt 2 (`seg-<jobId>-a2`), which SUCCEEDS into the same results folder. Duplicate deliveries
 * of either event, and a re-drop of the SUCCEEDED job, start nothing; different bytes under the same key
 * (an unversioned bucket: a new ETag) are a new job. Every check reads the emulated DynamoDB and S3.
 */
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { executionNameFor } from '../../lib/cloud/identity.ts';
import { LocalCloud } from '../../lib/localcloud/cloud.ts';
import { seedModels } from '../../lib/localcloud/models.ts';
import { generatePhantom } from '../../lib/phantom/phantom.ts';
import { encodeNifti } from '../../lib/volume/nifti.ts';
import { tableNameOf } from './helpers.ts';

/** Generous for a loaded 2-core machine (one segmentation takes ~15 s on an idle one). */
const START_MS = 300_000;
const SEGMENTATION_MS = 300_000;
const KEY = 'incoming/redo.nii.gz';

let cloud: LocalCloud;
let input: string;
let results: string;
let models: string;
let jobsTable: string;
let modelsTable: string;

async function jobs(): Promise<Record<string, unknown>[]> {
  const doc = DynamoDBDocumentClient.from(cloud.ddb);
  return (await doc.send(new ScanCommand({ TableName: jobsTable }))).Items ?? [];
}

/** What one liver job writes under results/<jobId>/ (a NIfTI drop: no labels.dcm). */
const RESULT_FILES = [
  'labels.nii.gz',
  'preview.png',
  'report.json',
  ...['ct.nii.gz', 'report.json', 'seg.nii.gz'].map((f) => `viewer/data/case/${f}`),
  ...['index.html', 'manifest.json', 'viewer.js'].map((f) => `viewer/${f}`),
];

async function keys(bucket: string, prefix = ''): Promise<string[]> {
  const out = await cloud.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (out.Contents ?? []).map((c) => c.Key ?? '').sort();
}

const segmentations = () =>
  [...cloud.executions.values()].filter((e) => e.stateMachine === cloud.stateMachineArn('segmentation'));
const sequencerOf = (event: Record<string, unknown>) =>
  (event.detail as { object: { sequencer: string } }).object.sequencer;

/** PUT `body` under `key` and wait until everything it started has finished; the object's event. */
async function put(key: string, body: Uint8Array): Promise<Record<string, unknown>> {
  const event = await cloud.dropObject(input, key, body);
  if (!event) throw new Error('the input bucket sent no event');
  await cloud.waitForAll();
  return event;
}

beforeAll(async () => {
  cloud = await LocalCloud.start();
  input = cloud.nameOf('AWS::S3::Bucket', 'input');
  results = cloud.nameOf('AWS::S3::Bucket', 'results');
  models = cloud.nameOf('AWS::S3::Bucket', 'models');
  jobsTable = tableNameOf(cloud, 'jobs');
  modelsTable = tableNameOf(cloud, 'models');
}, START_MS);

afterAll(async () => {
  await cloud?.stop();
});

describe('re-dropping a scan', () => {
  const scan = encodeNifti(generatePhantom({ seed: 21, dims: [96, 96, 48], tumors: 1 }).ct, { gzip: true });
  let firstEvent: Record<string, unknown>;
  let secondEvent: Record<string, unknown>;
  let jobId: string;

  it('a scan dropped before any model is promoted FAILS, naming the cause', async () => {
    firstEvent = await put(KEY, scan);
    expect(segmentations()).toHaveLength(1);
    const [job] = await jobs();
    jobId = String(job.jobId);
    expect(job).toMatchObject({ status: 'FAILED', attempt: 1, execution: executionNameFor(jobId) });
    expect(String(job.reason)).toMatch(/no promoted model for stage/);
    expect(await keys(results)).toEqual([]);
  });

  it('the same event delivered again starts nothing and changes no record', async () => {
    const before = await jobs();
    await cloud.deliverEvent(firstEvent);
    await cloud.waitForAll();
    expect(segmentations()).toHaveLength(1);
    expect(await jobs()).toEqual(before);
    expect(cloud.queues.messages('StartDeadLetters')).toEqual([]);
  });

  it(
    'after publishing models, a second PUT of the same file re-runs the job as attempt 2, which SUCCEEDS',
    async () => {
      await seedModels({ bucket: models, table: modelsTable });
      secondEvent = await put(KEY, scan);
      // S3 reports the second PUT as its own event: same key and ETag, a later sequencer.
      expect(sequencerOf(secondEvent)).not.toBe(sequencerOf(firstEvent));
      expect(segmentations().map((e) => [e.name, e.status])).toEqual([
        [executionNameFor(jobId), 'FAILED'],
        [executionNameFor(jobId, 2), 'SUCCEEDED'],
      ]);
      const all = await jobs();
      expect(all).toHaveLength(1);
      expect(all[0]).toMatchObject({
        jobId,
        status: 'SUCCEEDED',
        attempt: 2,
        execution: executionNameFor(jobId, 2),
        source: { key: KEY, sequencer: sequencerOf(secondEvent) },
      });
      expect(all[0].reason).toBeUndefined();
      expect(await keys(results)).toEqual(RESULT_FILES.map((f) => `results/${jobId}/${f}`));
    },
    SEGMENTATION_MS,
  );

  it('duplicate deliveries of either event and a re-drop of the SUCCEEDED job start nothing', async () => {
    const before = await jobs();
    const resultsBefore = await keys(results);
    const executions = segmentations().length;
    await cloud.deliverEvent(secondEvent);
    await cloud.deliverEvent(firstEvent);
    await cloud.waitForAll();
    await put(KEY, scan); // a third PUT of the same bytes: the job SUCCEEDED, nothing to re-run
    expect(segmentations()).toHaveLength(executions);
    expect(await jobs()).toEqual(before);
    expect(await keys(results)).toEqual(resultsBefore);
    expect(cloud.queues.messages('StartDeadLetters')).toEqual([]);
  });

  it('other bytes under the same key are a new job (unversioned bucket: a new ETag)', async () => {
    const garbage = new TextEncoder().encode('not a NIfTI file');
    await put(KEY, garbage);
    const all = await jobs();
    expect(all).toHaveLength(2);
    const other = all.find((j) => j.jobId !== jobId)!;
    expect(other).toMatchObject({ status: 'FAILED', attempt: 1, source: { key: KEY } });
    expect(String(other.reason)).toMatch(/redo\.nii\.gz: /);
    // the first job and its results are untouched
    expect(all.find((j) => j.jobId === jobId)).toMatchObject({ status: 'SUCCEEDED', attempt: 2 });
    expect(await keys(results, `results/${jobId}/`)).toHaveLength(RESULT_FILES.length);
  });
});
