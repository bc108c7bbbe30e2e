/**
 * The brain-tumour path of the segmentation workflow: the starter routes `incoming/brats/*.zip` to the
 * brats task, ingest plans the one Batch job, finalize records its report, and the synthesized template
 * holds the rule pattern, the `segment-brats` job definition on the inference image and the state
 * machine's brats branch.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { bratsSummaryOf, finalizeBratsJob, ingestBrats } from '../../lib/cloud/brats-jobs.ts';
import { ensembleMetrics, registerInput } from '../../lib/cloud/events.ts';
import type { JobRecord, JobStore } from '../../lib/cloud/job-store.ts';
import { isIncomingScan, segmentationTaskOf } from '../../lib/cloud/layout.ts';
import type { ModelRegistry } from '../../lib/cloud/model-registry.ts';
import { checkModelFolder } from '../../lib/cloud/publish.ts';
import { NoModelError, type SegmentationDeps } from '../../lib/cloud/segmentation.ts';
import { startSegmentation } from '../../lib/cloud/starter.ts';
import { libraryCodec } from '../../lib/cloud/volume-codec.ts';
import { body } from '../functions/helpers.ts';
import { type Cfn, definitionOf, resourcesOf, type Synth, synthEnv } from '../infra/synth.ts';

const sfn = mockClient(SFNClient);
const s3 = mockClient(S3Client);

function objectCreated(key: string) {
  return {
    source: 'aws.s3' as const,
    'detail-type': 'Object Created' as const,
    detail: {
      bucket: { name: 'raunet-input-test' },
      object: { key, size: 4321, 'version-id': 'v1', etag: 'e1', sequencer: '0A1' },
    },
  };
}

/** A job store that keeps records in memory (the conditional writes as DynamoDB does them). */
function memoryJobs() {
  const records = new Map<string, JobRecord>();
  const store: Pick<JobStore, 'create' | 'get' | 'succeed'> = {
    async create(job) {
      if (records.has(job.jobId)) return 'exists';
      records.set(job.jobId, { ...job });
      return 'created';
    },
    async get(id) {
      return records.get(id);
    },
    async succeed(id, summary, results, at) {
      const r = records.get(id)!;
      records.set(id, { ...r, status: 'SUCCEEDED', summary, results, updatedAt: at });
    },
  };
  return { records, store: store as JobStore };
}

function deps(current: Record<string, { models: string }>) {
  const jobs = memoryJobs();
  const models = { current: async () => current } as unknown as ModelRegistry;
  const d: SegmentationDeps = {
    s3: new S3Client({ region: 'eu-west-1' }),
    jobs: jobs.store,
    models,
    codec: libraryCodec,
    resultsBucket: 'raunet-results-test',
    workBucket: 'raunet-work-test',
    now: () => new Date('2026-12-04T19:00:00Z'),
    // the liver finalize's viewer folder; a brain job does not write one
    viewerScript: async () => {
      throw new Error('a brain job has no viewer folder');
    },
  };
  return { d, jobs };
}

const JOB = '0123456789abcdef0123456789abcdef';
const source = (key: string) => ({ bucket: 'raunet-input-test', key, versionId: 'v1', size: 4321 });

beforeEach(() => {
  sfn.reset();
  s3.reset();
});

describe('layout and starter', () => {
  it('reads the task from the key: zips under incoming/brats/ are brain subjects, nothing else there', () => {
    expect(segmentationTaskOf('incoming/brats/BraTS19_001.zip')).toBe('brats');
    expect(segmentationTaskOf('incoming/scan.nii.gz')).toBe('liver');
    expect(segmentationTaskOf('incoming/bratsy/scan.zip')).toBe('liver');
    expect(isIncomingScan('incoming/brats/BraTS19_001.zip')).toBe(true);
    expect(isIncomingScan('incoming/brats/BraTS19_001_flair.nii.gz')).toBe(false);
    expect(isIncomingScan('incoming/ct/scan.nii.gz')).toBe(true);
  });

  it('starts a brain subject with task brats, a CT without a task', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:exec', startDate: new Date() });
    const starter = {
      sfn: new SFNClient({ region: 'eu-west-1' }),
      stateMachineArn: 'arn:sm',
      jobs: { get: async () => undefined },
    };
    const brain = await startSegmentation(starter, objectCreated('incoming/brats/BraTS19_001.zip'));
    const ct = await startSegmentation(starter, objectCreated('incoming/scan.nii.gz'));
    const ignored = await startSegmentation(starter, objectCreated('incoming/brats/BraTS19_001_t1.nii.gz'));
    expect([brain.started, ct.started, ignored.started]).toEqual([true, true, false]);
    const inputs = sfn.commandCalls(StartExecutionCommand).map((c) => JSON.parse(c.args[0].input.input!));
    expect(inputs).toHaveLength(2);
    expect(inputs[0].task).toBe('brats');
    expect(inputs[0].source.key).toBe('incoming/brats/BraTS19_001.zip');
    expect(inputs[1].task).toBeUndefined();
  });
});

describe('ingest and finalize of a brain job', () => {
  it('claims the job and plans the segment-brats job with the promoted brats ensemble', async () => {
    const { d, jobs } = deps({ brats: { models: 's3://raunet-models-test/runs/r1/models/' } });
    const key = 'incoming/brats/BraTS19_001.zip';
    const out = await ingestBrats(d, { jobId: JOB, source: source(key), task: 'brats' });
    expect(out).toEqual({
      status: 'CREATED',
      task: 'brats',
      plan: {
        brats: {
          jobId: JOB,
          subject: `s3://raunet-input-test/${key}`,
          models: 's3://raunet-models-test/runs/r1/models/',
          out: `s3://raunet-results-test/results/${JOB}/`,
        },
      },
    });
    expect(jobs.records.get(JOB)?.status).toBe('RUNNING');
    // the same object in another execution: a duplicate, nothing planned
    const again = await ingestBrats(d, {
      jobId: JOB,
      source: source(key),
      task: 'brats',
      execution: 'other',
    });
    expect(again).toEqual({ status: 'DUPLICATE' });
  });

  it('refuses a drop that is not a zip, and fails without a promoted brats model', async () => {
    const { d } = deps({});
    await expect(
      ingestBrats(d, { jobId: JOB, source: source('incoming/brats/BraTS19_001.zip'), task: 'brats' }),
    ).rejects.toBeInstanceOf(NoModelError);
    const { d: d2 } = deps({ brats: { models: 's3://m/x/' } });
    await expect(
      ingestBrats(d2, { jobId: JOB, source: source('incoming/brats/BraTS19_001.tar'), task: 'brats' }),
    ).rejects.toThrow(/BraTS19_001.tar: a brain-tumour subject is dropped as a .zip/);
  });

  it("marks the job SUCCEEDED with the report's whole tumour", async () => {
    const { d, jobs } = deps({ brats: { models: 's3://m/x/' } });
    await ingestBrats(d, { jobId: JOB, source: source('incoming/brats/s.zip'), task: 'brats' });
    const report = {
      dims: [240, 240, 155],
      spacing: [1, 1, 1],
      tumour: { voxels: 81234, volumeMl: 81.234, components: 2 },
    };
    s3.onAnyCommand().resolves(body(new TextEncoder().encode(JSON.stringify(report))));
    const out = `s3://raunet-results-test/results/${JOB}/`;
    const r = await finalizeBratsJob(d, {
      jobId: JOB,
      source: source('incoming/brats/s.zip'),
      task: 'brats',
      plan: {
        brats: {
          jobId: JOB,
          subject: 's3://raunet-input-test/incoming/brats/s.zip',
          models: 's3://m/x/',
          out,
        },
      },
      batch: { brats: { startedAt: 1, stoppedAt: 2 } },
    });
    expect(r.summary).toEqual({
      task: 'brats',
      dims: [240, 240, 155],
      spacing: [1, 1, 1],
      wholeTumourVoxels: 81234,
      wholeTumourVolumeMl: 81.234,
      components: 2,
    });
    expect(r.results.labels).toBe(`${out}labels.nii.gz`);
    expect(jobs.records.get(JOB)?.status).toBe('SUCCEEDED');
    expect(bratsSummaryOf(report).wholeTumourVolumeMl).toBe(81.234);
  });
});

describe('publishing a brats ensemble (raunet models publish --stage brats)', () => {
  it('accepts the bundled brain model as brats and refuses it as another stage', async () => {
    const folds = await checkModelFolder('models/demo-brain', 'brats');
    expect(folds.map((f) => [f.fold, f.manifest.stage, f.manifest.arch])).toEqual([
      [0, 'brats', 'raunet2-brain'],
    ]);
    await expect(checkModelFolder('models/demo-brain/brats', 'tumor')).rejects.toThrow(
      /is a brats model, not tumor/,
    );
    await expect(checkModelFolder('models/demo/tumor', 'brats')).rejects.toThrow(
      /is a tumor model, not brats/,
    );
  });

  it('registers brats runs (the models table and the metrics schema take the stage)', () => {
    const runId = '20261204T190000Z-abcdef';
    expect(
      registerInput.safeParse({ runId, stage: 'brats', metrics: 's3://models-bucket/runs/x.json' }).success,
    ).toBe(true);
    const metrics = {
      runId,
      stage: 'brats',
      variant: 'published',
      models: 's3://models-bucket/runs/',
      valDice: 0.9,
    };
    expect(ensembleMetrics.safeParse(metrics).success).toBe(true);
    expect(ensembleMetrics.safeParse({ ...metrics, stage: 'brain' }).success).toBe(false);
  });
});

describe('synthesized template (dev)', () => {
  let synth: Synth;
  beforeAll(async () => {
    synth = await synthEnv('dev');
  }, 300_000);
  afterAll(() => synth?.cleanup());

  it('matches brain subject zips in the rule and runs them in a segment-brats job on the inference image', () => {
    const rules = resourcesOf(synth.json, 'AWS::Events::Rule').map(([, r]) => r as Cfn);
    const created = rules.find((r) => r.Properties.EventPattern?.['detail-type']?.[0] === 'Object Created');
    const keys = JSON.stringify(created.Properties.EventPattern.detail.object.key);
    expect(keys).toContain('incoming/brats/*.zip');
    const defs = resourcesOf(synth.json, 'AWS::Batch::JobDefinition').map(([, r]) => r as Cfn);
    const command = (d: Cfn) => d.Properties.ContainerProperties.Command;
    const brats = defs.find((d) => command(d)[0] === 'segment-brats');
    const tumor = defs.find((d) => command(d)[0] === 'segment-tumor');
    expect(brats).toBeDefined();
    expect(command(brats)).toEqual(['segment-brats', '--args', 'Ref::args']);
    // the same image as the liver inference stages
    expect(JSON.stringify(brats.Properties.ContainerProperties.Image)).toBe(
      JSON.stringify(tumor.Properties.ContainerProperties.Image),
    );
  });

  it('branches the state machine on the task: SegmentBrats then FinalizeBrats', () => {
    const [[, sm]] = resourcesOf(synth.json, 'AWS::StepFunctions::StateMachine').filter(([, r]) =>
      JSON.stringify(r.Properties.DefinitionString).includes('SegmentBrats'),
    );
    const def = definitionOf(sm);
    const choice = def.States['NewJob?'];
    const bratsRule = choice.Choices.find((c: Cfn) => JSON.stringify(c).includes('"brats"'));
    expect(bratsRule.Next).toBe('SegmentBrats');
    expect(def.States.SegmentBrats.Next).toBe('FinalizeBrats');
    expect(JSON.stringify(def.States.FinalizeBrats.Parameters)).toContain('"task":"brats"');
    expect(def.States.SegmentBrats.Catch[0].Next).toBe('MarkFailed');
  });
});
