/**
 * The deployed system as a whole, without an AWS account: the synthesized CDK app's buckets, tables and
 * state machines on local emulators (s3rver, dynalite, aws-local-stepfunctions), real Lambda handlers
 * in-process, the real Batch entrypoint as child processes. Every assertion reads the emulated S3/DynamoDB.
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { zipSync } from 'fflate';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { executionNameFor } from '../../lib/cloud/identity.ts';
import { LocalCloud } from '../../lib/localcloud/cloud.ts';
import { seedModels } from '../../lib/localcloud/models.ts';
import { handlerFiles } from '../../lib/localcloud/template.ts';
import { generatePhantom } from '../../lib/phantom/phantom.ts';
import { decodeDicomSeg, segToLabelMap } from '../../lib/volume/dicom-seg.ts';
import { decodeNifti, encodeNifti } from '../../lib/volume/nifti.ts';
import { decodeVolumeBytes } from '../../lib/volume/read.ts';
import type { Vec3 } from '../../lib/volume/volume.ts';
import { dcmSlice } from '../datasets/dcmjs-slices.ts';
import { expectValidReport } from '../report-schema.ts';
import { putPhantomDataset, tableNameOf } from './helpers.ts';

const DIMS: Vec3 = [96, 96, 48];
/**
 * Scenario 4 trains for real, so it passes a small schedule (steps per epoch, batch size, samples per
 * case, patch) in the training request, which reaches every `train-fold` job. RAUNET_E2E_TRAINING=0 skips it.
 */
const TRAINING = process.env.RAUNET_E2E_TRAINING !== '0';
/**
 * Scenario 4: tiny phantoms and the smallest honest training, one epoch of two steps on 64x64x32 windows
 * (32-sided ones would leave a one-voxel bottleneck, where batch norm degenerates). Two steps learn
 * little: unseeded, a fold's validation Dice ranged 0.003-0.26 over eight local runs, and a CI run failed
 * on 0 for both folds (no promotion over the seed's 0). Training is seeded (sampling and weights), so this
 * run is the same every time: validation Dice 0.25 and 0.27 on the wasm backend.
 */
const TINY: Vec3 = [48, 48, 32];
const SCHEDULE = { stepsPerEpoch: 2, batchSize: 1, perCase: 2, patch: [64, 64, 32] };
const TRAINING_MS = 600_000;
const HOST_FAILURE = 'Host EC2 (instance i-0e2e0c0ffee000001) terminated.';
/**
 * Bounds for a loaded 2-core CI machine (a segmentation takes ~15 s on an idle one): generous, but a hung
 * step fails the test instead of the whole run, and `afterAll` still stops the cloud.
 */
const START_MS = 300_000;
const SEGMENTATION_MS = 300_000;
const BURST_MS = 600_000;

let cloud: LocalCloud;
let input: string;
let results: string;
let models: string;
let jobsTable: string;
let modelsTable: string;
const started = Date.now();

const tableName = (hint: string) => tableNameOf(cloud, hint);

async function keys(bucket: string, prefix = ''): Promise<string[]> {
  const out = await cloud.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (out.Contents ?? []).map((c) => c.Key ?? '');
}

async function bytes(bucket: string, key: string): Promise<Uint8Array> {
  const out = await cloud.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return out.Body!.transformToByteArray();
}

async function items(table: string): Promise<Record<string, unknown>[]> {
  const out = await DynamoDBDocumentClient.from(cloud.ddb).send(new ScanCommand({ TableName: table }));
  return out.Items ?? [];
}

function phantomBytes(seed: number): { bytes: Uint8Array; ct: ReturnType<typeof generatePhantom>['ct'] } {
  const { ct } = generatePhantom({ seed, dims: DIMS, tumors: 1 });
  return { ct, bytes: encodeNifti(ct, { gzip: true }) };
}

/** Drop a scan; resolve to its job id once every execution it started has finished. */
async function drop(
  key: string,
  body: Uint8Array,
): Promise<{ jobId: string; event: Record<string, unknown> }> {
  const before = cloud.executions.size;
  const event = await cloud.dropObject(input, key, body);
  if (!event) throw new Error('the input bucket sent no event');
  expect(cloud.executions.size).toBe(before + 1);
  await cloud.waitForAll();
  const exec = [...cloud.executions.values()][before];
  const jobId = (JSON.parse(exec.input) as { jobId: string }).jobId;
  return { jobId, event };
}

beforeAll(async () => {
  cloud = await LocalCloud.start();
  input = cloud.nameOf('AWS::S3::Bucket', 'input');
  results = cloud.nameOf('AWS::S3::Bucket', 'results');
  models = cloud.nameOf('AWS::S3::Bucket', 'models');
  jobsTable = tableName('jobs');
  modelsTable = tableName('models');
  await seedModels({ bucket: models, table: modelsTable });
}, START_MS);

afterAll(async () => {
  // Kills any Batch container still running (a failed or timed-out scenario) and closes the emulators.
  await cloud?.stop();
  // The whole local-cloud run (synth, emulators, models, scenarios) — issue 8 asks for < 10 minutes.
  process.stderr.write(`local-cloud run: ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
});

describe('local cloud from the synthesized template', () => {
  it('maps every Lambda the workflows use to its handler in functions/', () => {
    const files = handlerFiles(cloud.app, cloud.names);
    expect(
      Object.values(files)
        .map((f) => f.replace(/^.*\//, ''))
        .sort(),
    ).toEqual([
      'check-folds.ts',
      'finalize.ts',
      'fold-failed.ts',
      'ingest.ts',
      'mark-failed.ts',
      'plan.ts',
      'register.ts',
      'run-failed.ts',
      'starter.ts',
      'window.ts',
    ]);
    // A function the table does not know fails loudly.
    expect(() => handlerFiles({ ...cloud.app, handlers: {} }, cloud.names)).toThrow(/no handler file/);
  });

  it('created the template buckets and tables, models in the agreed layout', async () => {
    const k = await keys(models, 'runs/e2e-seed/');
    for (const stage of ['localize', 'liver', 'tumor']) {
      for (const f of ['model.json', 'weights.bin', 'manifest.json', 'model.onnx']) {
        expect(k).toContain(`runs/e2e-seed/${stage}/fold-0/${f}`);
      }
    }
    const current = (await items(modelsTable)).filter((i) => i.runId === 'CURRENT');
    expect(current.map((i) => i.stage).sort()).toEqual(['liver', 'localize', 'tumor']);
  });
});

describe('segmentation workflow', () => {
  let first: { jobId: string; event: Record<string, unknown> };
  let ct: ReturnType<typeof phantomBytes>['ct'];

  it(
    '1. a phantom CT dropped into the input bucket -> SUCCEEDED with label map, report, preview',
    async () => {
      const p = phantomBytes(11);
      ct = p.ct;
      first = await drop('incoming/case-1.nii.gz', p.bytes);
      const job = (await items(jobsTable)).find((i) => i.jobId === first.jobId);
      expect(job?.status).toBe('SUCCEEDED');
      const prefix = `results/${first.jobId}/`;
      expect((await keys(results, prefix)).sort()).toEqual(
        [
          ...['labels.nii.gz', 'preview.png', 'report.json'],
          // the viewer folder (`raunet view --static` of the case; test/viewer/cloud-results.test.ts)
          ...['ct.nii.gz', 'report.json', 'seg.nii.gz'].map((f) => `viewer/data/case/${f}`),
          ...['viewer/index.html', 'viewer/manifest.json', 'viewer/viewer.js'],
        ].map((f) => prefix + f),
      );
      const labels = decodeNifti(await bytes(results, `${prefix}labels.nii.gz`), 'labels.nii.gz');
      expect(labels.dims).toEqual(ct.dims);
      for (let i = 0; i < 3; i++) expect(labels.spacing[i]).toBeCloseTo(ct.spacing[i], 5);
      for (let i = 0; i < 16; i++) expect(labels.affine[i]).toBeCloseTo(ct.affine[i], 4);
      expect(labels.data.every((v) => v <= 2)).toBe(true);
      const png = await bytes(results, `${prefix}preview.png`);
      expect([...png.subarray(1, 4)]).toEqual([0x50, 0x4e, 0x47]);
      const report = JSON.parse(new TextDecoder().decode(await bytes(results, `${prefix}report.json`)));
      expectValidReport(report);
      expect(report.jobId).toBe(first.jobId);
      expect(report.summary.dims).toEqual(DIMS);
      // Three Batch jobs ran, each once.
      const batch = cloud.batch.jobs.slice(-3);
      expect(batch.map((j) => [j.Container.Command[0], j.Status, j.Attempts.length])).toEqual([
        ['localize', 'SUCCEEDED', 1],
        ['segment-liver', 'SUCCEEDED', 1],
        ['segment-tumor', 'SUCCEEDED', 1],
      ]);
    },
    SEGMENTATION_MS,
  );

  it('1b. one drop starts exactly one execution: what the workflow writes triggers nothing', async () => {
    // Scenario 1 wrote preprocessed.nii.gz, three stage outputs, stage.json files and its results.
    const work = cloud.nameOf('AWS::S3::Bucket', 'work');
    expect((await keys(work, `work/${first.jobId}/`)).length).toBeGreaterThanOrEqual(8);
    expect(await keys(input, 'work/')).toEqual([]);
    const segmentations = () =>
      [...cloud.executions.values()].filter((e) => e.stateMachine === cloud.stateMachineArn('segmentation'));
    expect(segmentations().map((e) => e.name)).toEqual([executionNameFor(first.jobId)]);
    // S3 reported one object event for the drop; the work and results buckets send none.
    const objectEvents = cloud.events.filter((e) => e['detail-type'] === 'Object Created');
    expect(objectEvents.map((e) => (e.detail as { bucket: { name: string } }).bucket.name)).toEqual([input]);
    // Objects written into the input bucket outside incoming/ (or without a scan suffix) are reported by
    // S3 but match no rule: nothing reaches the queue, nothing starts.
    const before = cloud.events.length;
    const scan = phantomBytes(12).bytes;
    for (const key of [
      `work/${first.jobId}/preprocessed.nii.gz`,
      'results/x/labels.nii.gz',
      'incoming/notes.txt',
    ]) {
      await cloud.dropObject(input, key, scan);
    }
    await cloud.waitForAll();
    expect(cloud.events.length).toBe(before + 3);
    expect(segmentations()).toHaveLength(1);
    expect(cloud.queues.batches.reduce((a, b) => a + b, 0)).toBe(1);
  });

  it('2. a corrupt file -> FAILED with a reason naming the problem, nothing else written', async () => {
    const resultsBefore = await keys(results);
    const garbage = new TextEncoder().encode('this is not a NIfTI file at all');
    const { jobId } = await drop('incoming/broken.nii', garbage);
    const job = (await items(jobsTable)).find((i) => i.jobId === jobId);
    expect(job?.status).toBe('FAILED');
    expect(String(job?.reason)).toMatch(/broken\.nii/);
    expect(String(job?.reason).length).toBeGreaterThan('broken.nii'.length + 5);
    const exec = [...cloud.executions.values()].at(-1)!;
    expect(exec.status).toBe('FAILED');
    expect(exec.error?.name).toBe('SegmentationFailed');
    expect(await keys(results)).toEqual(resultsBefore);
    expect(await keys(input, `work/${jobId}/`)).toEqual([]);
  });

  it('3. the same object event delivered twice -> one job', async () => {
    const executions = cloud.executions.size;
    const jobsBefore = await items(jobsTable);
    const resultsBefore = await keys(results);
    // EventBridge delivers at least once: the starter sees the event again (through the queue).
    await cloud.deliverEvent(first.event);
    await cloud.waitForAll();
    expect(cloud.executions.size).toBe(executions);
    expect(cloud.queues.messages('StartDeadLetters')).toEqual([]);
    // Even an execution under another name (a bypassed starter) stops at the conditional write.
    const exec = cloud.startExecution(
      cloud.stateMachineArn('segmentation'),
      [...cloud.executions.values()].find((e) => e.name === executionNameFor(first.jobId))!.input,
      'manual-replay',
    );
    await exec.done;
    expect(exec.status).toBe('SUCCEEDED');
    expect((exec.output as { ingest: { status: string } }).ingest.status).toBe('DUPLICATE');
    expect(await items(jobsTable)).toEqual(jobsBefore);
    expect(await keys(results)).toEqual(resultsBefore);
  });

  it(
    '5. a Batch attempt lost to a host failure is retried by Batch and the job succeeds',
    async () => {
      cloud.faults.set('segment-liver', [{ statusReason: HOST_FAILURE }]);
      const { jobId } = await drop('incoming/case-5.nii.gz', phantomBytes(15).bytes);
      const job = (await items(jobsTable)).find((i) => i.jobId === jobId);
      expect(job?.status).toBe('SUCCEEDED');
      const liver = cloud.batch.jobs.filter((j) => j.Container.Command[0] === 'segment-liver').at(-1)!;
      expect(liver.Status).toBe('SUCCEEDED');
      expect(liver.Attempts.map((a) => a.StatusReason)).toEqual([
        HOST_FAILURE,
        'Essential container in task exited',
      ]);
      expect(await keys(results, `results/${jobId}/`)).toHaveLength(9); // 3 files + the viewer folder's 6
    },
    SEGMENTATION_MS,
  );

  it(
    '5b. a zipped DICOM series -> the label map also as a DICOM SEG referencing the series, listed in the job',
    async () => {
      // the phantom as an axial DICOM series (dcmjs): pixel (c, r) of slice k is RAS voxel
      // (nx-1-c, ny-1-r, k), so the scan read back is the phantom stored LAS
      const { ct } = generatePhantom({ seed: 16, dims: DIMS, tumors: 1 });
      const [nx, ny, nz] = ct.dims;
      const [sx, sy, sz] = ct.spacing;
      const files: Record<string, Uint8Array> = {};
      const sops: string[] = [];
      for (let k = 0; k < nz; k++) {
        const pixels = new Int16Array(nx * ny);
        for (let r = 0; r < ny; r++) {
          for (let c = 0; c < nx; c++) pixels[r * nx + c] = ct.data[nx - 1 - c + nx * (ny - 1 - r + ny * k)];
        }
        sops.push(`2.25.77.${k + 1}`);
        files[`series/IM${k}`] = dcmSlice({
          seriesUid: '2.25.77',
          sopUid: sops[k],
          ipp: [0, 0, k * sz],
          rows: ny,
          cols: nx,
          pixelSpacing: [sy, sx],
          pixels,
        });
      }
      const zip = zipSync(files);
      const { jobId } = await drop('incoming/case-dicom.zip', zip);
      const job = (await items(jobsTable)).find((i) => i.jobId === jobId);
      expect(job?.status, String(job?.reason)).toBe('SUCCEEDED');
      const prefix = `results/${jobId}/`;
      expect((await keys(results, prefix)).sort()).toEqual(
        [
          'labels.dcm',
          'labels.nii.gz',
          'preview.png',
          'report.json',
          'viewer/data/case/ct.nii.gz',
          'viewer/data/case/report.json',
          'viewer/data/case/seg.nii.gz',
          'viewer/index.html',
          'viewer/manifest.json',
          'viewer/viewer.js',
        ].map((f) => prefix + f),
      );
      expect((job?.results as Record<string, string> | undefined)?.dicomSeg).toBe(
        `s3://${results}/${prefix}labels.dcm`,
      );
      // the SEG references the dropped series and puts back exactly the NIfTI label map
      const segBytes = await bytes(results, `${prefix}labels.dcm`);
      const seg = decodeDicomSeg(segBytes, 'labels.dcm');
      expect(seg.studyInstanceUid).toBe('2.25.1001'); // the fake slices' study and frame of reference
      expect(seg.frameOfReferenceUid).toBe('2.25.1002');
      expect(seg.referencedSeries).toEqual([{ seriesInstanceUid: '2.25.77', sopInstanceUids: sops }]);
      const scan = await decodeVolumeBytes('case-dicom.zip', zip);
      const labels = decodeNifti(await bytes(results, `${prefix}labels.nii.gz`), 'labels.nii.gz');
      for (let i = 0; i < 16; i++) expect(labels.affine[i]).toBeCloseTo(scan.affine[i], 4); // NIfTI: float32
      expect(labels.data.some((v) => v > 0)).toBe(true);
      expect([...segToLabelMap(seg, scan).data]).toEqual([...labels.data]);
    },
    SEGMENTATION_MS,
  );
});

describe('bursts', () => {
  it(
    '50 drops within a second, duplicates and throttling -> 50 jobs, each FAILED with its reason, none lost',
    async () => {
      const t0 = Date.now();
      const executions = cloud.executions.size;
      const jobsBefore = new Set((await items(jobsTable)).map((i) => i.jobId));
      // Fast-failing scans (not NIfTI): the system under load is the subject, not the networks.
      const garbage = new TextEncoder().encode('not a NIfTI file');
      const names = Array.from({ length: 50 }, (_, i) => `incoming/burst/scan-${i}.nii`);
      cloud.throttleStarts(15);
      await Promise.all(
        names.map((key) => cloud.s3.send(new PutObjectCommand({ Bucket: input, Key: key, Body: garbage }))),
      );
      // All 50 PutObject calls were in flight together (s3rver answers them within about a second when idle).
      process.stderr.write(`burst: 50 objects written in ${Date.now() - t0} ms\n`);
      // EventBridge delivers some events twice.
      const burstEvents = cloud.events.filter((e) =>
        String((e.detail as { object?: { key?: string } }).object?.key).startsWith('incoming/burst/'),
      );
      for (const e of burstEvents.slice(0, 10)) await cloud.deliverEvent(e);
      await cloud.waitForAll();
      expect(cloud.throttledStarts).toBe(15);
      const started = [...cloud.executions.values()].slice(executions);
      expect(started).toHaveLength(50);
      expect(new Set(started.map((e) => e.name)).size).toBe(50);
      const jobs = (await items(jobsTable)).filter((i) => !jobsBefore.has(i.jobId as string));
      expect(jobs).toHaveLength(50);
      for (const job of jobs) {
        expect(job.status).toBe('FAILED');
        expect(String(job.reason)).toMatch(/scan-\d+\.nii: /);
      }
      expect(new Set(jobs.map((j) => (j.source as { key: string }).key))).toEqual(new Set(names));
      // The queue bounded the starters' concurrency, and nothing ended in the dead-letter queue.
      expect(
        cloud.queues.peakConcurrency.get(
          cloud.names.idsOfType('AWS::SQS::Queue').find((id) => id.includes('StartQueue'))!,
        ),
      ).toBeLessThanOrEqual(5);
      expect(cloud.queues.messages('StartDeadLetters')).toEqual([]);
    },
    // ~1 s per job of in-process Lambdas and emulators: 54 s alone on a busy 2-core machine, over 300 s
    // while a cdk synth ran next to it.
    BURST_MS,
  );
});

describe('training workflow', () => {
  it('6. a run on a dataset that does not exist -> FAILED, recorded with its reason, CURRENT untouched', async () => {
    const before = (await items(modelsTable)).filter((i) => i.stage === 'liver');
    const exec = cloud.startExecution(
      cloud.stateMachineArn('training'),
      JSON.stringify({ stage: 'liver', dataset: 'no-such-dataset', folds: 2 }),
      'train-missing',
    );
    await exec.done;
    expect(exec.status).toBe('FAILED');
    const after = (await items(modelsTable)).filter((i) => i.stage === 'liver');
    const failed = after.filter((i) => !before.some((b) => b.runId === i.runId));
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ status: 'FAILED', execution: 'train-missing', error: 'InputError' });
    expect(String(failed[0]!.reason)).toMatch(/dataset "no-such-dataset" has no volume-K/);
    const current = (rows: Record<string, unknown>[]) => rows.find((i) => i.runId === 'CURRENT');
    expect(current(after)).toEqual(current(before));
    // No Batch job ran for it.
    expect(
      cloud.batch.jobs.filter((j) => j.Container.Command.join(' ').includes(String(failed[0]!.runId))),
    ).toEqual([]);
  });

  it.skipIf(!TRAINING)(
    '4. a 2-fold sweep on tiny phantoms -> fold models, an ensemble, runs in the table, promoted',
    async () => {
      await putPhantomDataset(cloud, models, 'tiny', { cases: 4, seed0: 100, dims: TINY });
      const exec = cloud.startExecution(
        cloud.stateMachineArn('training'),
        JSON.stringify({
          stage: 'liver',
          dataset: 'tiny',
          folds: 2,
          sweep: { epochs: [1], width: [0.125] },
          schedule: SCHEDULE,
        }),
        'train-e2e',
      );
      // Fail fast (not after hours of full-size training) when the fold jobs do not get the schedule.
      const deadline = Date.now() + 120_000;
      let fold: string[] | undefined;
      while (!fold && exec.status === 'RUNNING' && Date.now() < deadline) {
        fold = cloud.batch.runningContainers.find((c) => c.command[0] === 'train-fold')?.command;
        if (!fold) await new Promise((r) => setTimeout(r, 100));
      }
      if (fold) {
        const args = JSON.parse(fold[2]) as { schedule?: unknown };
        expect(args.schedule, 'the training workflow must pass the request schedule to train-fold').toEqual(
          SCHEDULE,
        );
      }
      await exec.done;
      expect(exec.error).toBeUndefined();
      expect(exec.status).toBe('SUCCEEDED');
      const out = exec.output as {
        plan: { runId: string };
        registered: { promoted: boolean; valDice: number };
      };
      const runId = out.plan.runId;
      // Two fold jobs and the ensemble evaluation ran once each.
      const ran = cloud.batch.jobs.filter((j) => j.Container.Command[2]?.includes(runId));
      expect(ran.map((j) => [j.Container.Command[0], j.Status]).sort()).toEqual([
        ['evaluate-ensemble', 'SUCCEEDED'],
        ['train-fold', 'SUCCEEDED'],
        ['train-fold', 'SUCCEEDED'],
      ]);
      // Fold models in the agreed layout, each trained on its own split of the four cases.
      const root = `runs/${runId}/v0/liver/`;
      const runKeys = await keys(models, `runs/${runId}/`);
      const trainedOn: string[][] = [];
      for (const k of [0, 1]) {
        for (const f of ['model.json', 'weights.bin', 'manifest.json', 'model.onnx', 'train-state.json']) {
          expect(runKeys).toContain(`${root}fold-${k}/${f}`);
        }
        const manifest = JSON.parse(
          new TextDecoder().decode(await bytes(models, `${root}fold-${k}/manifest.json`)),
        );
        expect([manifest.stage, manifest.fold, manifest.folds, manifest.width]).toEqual([
          'liver',
          k,
          2,
          0.125,
        ]);
        expect(manifest.inputShape).toEqual([...[...SCHEDULE.patch].reverse(), 1]);
        trainedOn.push(manifest.trainedOn.caseIds);
      }
      expect(trainedOn.flat().sort()).toEqual(['0', '1', '2', '3']);
      // The curves with the models: each fold's (uploaded by its job) and the run's, both folds side by
      // side (drawn by evaluate-ensemble; lib/training/curves.ts lays out 640 x 400 panels under a title).
      for (const k of [0, 1]) {
        for (const f of ['metrics.jsonl', 'curves.png']) expect(runKeys).toContain(`${root}fold-${k}/${f}`);
      }
      const runCurves = PNG.sync.read(Buffer.from(await bytes(models, `${root}curves.png`)));
      expect([runCurves.width, runCurves.height]).toEqual([2 * 640, 32 + 400]);
      // The ensemble's metrics: the mean of the folds' validation Dice.
      const metrics = JSON.parse(new TextDecoder().decode(await bytes(models, `runs/${runId}/metrics.json`)));
      expect(metrics.models).toBe(`s3://${models}/runs/${runId}/v0/`);
      expect(metrics.perFold).toHaveLength(2);
      expect(metrics.valDice).toBeCloseTo((metrics.perFold[0] + metrics.perFold[1]) / 2, 10);
      // The run in the models table, promoted over the seed (which has no validation Dice: 0).
      const rows = (await items(modelsTable)).filter((i) => i.stage === 'liver');
      expect(rows.find((i) => i.runId === runId)?.valDice).toBe(metrics.valDice);
      expect(metrics.valDice).toBeGreaterThan(0);
      expect(out.registered.promoted).toBe(true);
      const current = rows.find((i) => i.runId === 'CURRENT');
      expect([current?.currentRunId, current?.models]).toEqual([runId, metrics.models]);
    },
    TRAINING_MS,
  );
});
