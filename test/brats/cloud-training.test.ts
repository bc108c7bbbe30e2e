/**
 * The training workflow's brain task: the plan Lambda finds the subjects of `datasets/<name>/` in the BraTS
 * subject layout or MSD Task01's (with mocked S3), the train-fold Batch stage downloads them with their
 * folders so that the brain dataset reader (`openBratsTrainingSet`) finds the same subjects, and the
 * training library trains the brats stage with `trainBrats` (the same trainer) and the request's
 * normalisation.
 */
import { readdir } from 'node:fs/promises';
import * as path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';

vi.hoisted(() => {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
});

const trainer = vi.hoisted(() => ({
  trainBrats: vi.fn(async (_options: Record<string, unknown>) => []),
  trainStage: vi.fn(async (_options: Record<string, unknown>) => []),
}));
vi.mock('../../lib/brats/train.ts', async (original) => ({
  ...(await original<typeof import('../../lib/brats/train.ts')>()),
  trainBrats: trainer.trainBrats,
}));
vi.mock('../../lib/training/train-stage.ts', async (original) => ({
  ...(await original<typeof import('../../lib/training/train-stage.ts')>()),
  trainStage: trainer.trainStage,
}));

import { handler as plan } from '../../functions/plan.ts';
import { openBratsTrainingSet } from '../../lib/brats/train.ts';
import { type BatchContext, EXIT, runBatchStage } from '../../lib/cloud/batch-stages.ts';
import { parseEvent, trainFoldArgs } from '../../lib/cloud/events.ts';
import { trainingLibrary } from '../../lib/cloud/training-library.ts';
import { libraryCodec } from '../../lib/cloud/volume-codec.ts';
import { backS3WithStore, context, MODELS_BUCKET, setLambdaEnv } from '../functions/helpers.ts';
import { type Cfn, resourcesOf, synthEnv } from '../infra/synth.ts';

const s3 = mockClient(S3Client);
const store = new Map<string, Uint8Array>();
const text = (v: unknown) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));

beforeAll(setLambdaEnv);
beforeEach(() => {
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  s3.reset();
  store.clear();
  trainer.trainBrats.mockClear();
  trainer.trainStage.mockClear();
  backS3WithStore(s3, store);
});
afterEach(() => vi.restoreAllMocks());

const put = (key: string) => store.set(`${MODELS_BUCKET}/${key}`, text(key));
const SEQUENCES = ['t1', 't1ce', 't2', 'flair', 'seg'];

/** BraTS 2018 style: HGG/ and LGG/ folders of `<id>/<id>_<seq>.nii.gz`. */
function bratsFolders(dataset: string, ids: string[]) {
  for (const [i, id] of ids.entries()) {
    for (const seq of SEQUENCES)
      put(`datasets/${dataset}/${i % 2 ? 'LGG' : 'HGG'}/${id}/${id}_${seq}.nii.gz`);
  }
}

function manifestOf(uri: string) {
  const bytes = store.get(uri.slice('s3://'.length));
  return JSON.parse(new TextDecoder().decode(bytes));
}

describe('plan: the brats stage', () => {
  it('finds BraTS subject folders (nested HGG/LGG) under datasets/brats/ and keeps their paths', async () => {
    const ids = ['Brats18_X_10_1', 'Brats18_X_2_1', 'Brats18_X_3_1', 'Brats18_X_4_1'];
    bratsFolders('brats', ids);
    put('datasets/brats/README.txt');
    put('datasets/lits/volume-0.nii.gz'); // another dataset: not listed
    const out = await plan({ request: { stage: 'brats', folds: 2 } }, context);
    expect(out.stage).toBe('brats');
    expect(out.items).toHaveLength(2);
    expect(out.items.map((i) => i.args.out)).toEqual(
      [0, 1].map((k) => `s3://${MODELS_BUCKET}/runs/${out.runId}/v0/brats/fold-${k}/`),
    );
    const m = manifestOf(out.items[0].args.manifest);
    expect(m).toMatchObject({
      task: 'brats',
      layout: 'brats',
      dataset: 'brats',
      root: `s3://${MODELS_BUCKET}/datasets/brats/`,
    });
    // natural order: 2 < 3 < 4 < 10
    expect(m.cases.map((c: { id: string }) => c.id)).toEqual([ids[1], ids[2], ids[3], ids[0]]);
    expect(m.cases[0].files).toEqual(
      ['flair', 'seg', 't1', 't1ce', 't2'].map(
        (s) => `s3://${MODELS_BUCKET}/datasets/brats/LGG/${ids[1]}/${ids[1]}_${s}.nii.gz`,
      ),
    );
    const validation = m.folds.flatMap((f: { validation: string[] }) => f.validation).sort();
    expect(validation).toEqual([...ids].sort());
  });

  it('reads MSD Task01 (dataset.json naming the four sequences, imagesTr + labelsTr)', async () => {
    store.set(
      `${MODELS_BUCKET}/datasets/task01/dataset.json`,
      text({
        modality: { 0: 'FLAIR', 1: 'T1w', 2: 't1gd', 3: 'T2w' },
        // MSD's own paths; BRATS_003 (present) is not listed, so not a subject (as the reader does)
        training: ['BRATS_010', 'BRATS_001', 'BRATS_002'].map((n) => ({
          image: `./imagesTr/${n}.nii.gz`,
          label: `./labelsTr/${n}.nii.gz`,
        })),
      }),
    );
    for (const n of ['BRATS_001', 'BRATS_002', 'BRATS_003', 'BRATS_010']) {
      put(`datasets/task01/imagesTr/${n}.nii.gz`);
      put(`datasets/task01/labelsTr/${n}.nii.gz`);
    }
    put('datasets/task01/imagesTr/._BRATS_001.nii.gz'); // macOS resource fork: ignored
    put('datasets/task01/imagesTs/BRATS_500.nii.gz'); // test image without labels: not a training subject
    const out = await plan({ request: { stage: 'brats', dataset: 'task01', folds: 3 } }, context);
    const m = manifestOf(out.items[0].args.manifest);
    const root = `s3://${MODELS_BUCKET}/datasets/task01/`;
    expect(m).toMatchObject({ task: 'brats', layout: 'msd-brats', root, shared: [`${root}dataset.json`] });
    expect(m.cases).toEqual(
      ['BRATS_001', 'BRATS_002', 'BRATS_010'].map((id) => ({
        id,
        files: [`${root}imagesTr/${id}.nii.gz`, `${root}labelsTr/${id}.nii.gz`],
      })),
    );
  });

  it('refuses an incomplete subject, an empty dataset and a normalisation for a liver stage', async () => {
    bratsFolders('brats', ['A_1', 'A_2']);
    store.delete(`${MODELS_BUCKET}/datasets/brats/LGG/A_2/A_2_seg.nii.gz`);
    await expect(plan({ request: { stage: 'brats' } }, context)).rejects.toThrow(
      /subject A_2 \(LGG\/A_2\/\) has no seg file/,
    );
    await expect(plan({ request: { stage: 'brats', dataset: 'none' } }, context)).rejects.toThrow(
      /dataset "none" has no BraTS subject folders or MSD Task01/,
    );
    store.set(
      `${MODELS_BUCKET}/datasets/msd/dataset.json`,
      text({ modality: { 0: 'FLAIR', 1: 'T1w', 2: 't1gd', 3: 'T2w' } }),
    );
    put('datasets/msd/imagesTr/BRATS_001.nii.gz');
    await expect(plan({ request: { stage: 'brats', dataset: 'msd' } }, context)).rejects.toThrow(
      /imagesTr\/BRATS_001.nii.gz has no labelsTr\/BRATS_001.nii.gz/,
    );
    store.set(
      `${MODELS_BUCKET}/datasets/msd/dataset.json`,
      text({
        modality: { 0: 'FLAIR', 1: 'T1w', 2: 't1gd', 3: 'T2w' },
        training: [{ image: './imagesTr/BRATS_002.nii.gz', label: './labelsTr/BRATS_002.nii.gz' }],
      }),
    );
    await expect(plan({ request: { stage: 'brats', dataset: 'msd' } }, context)).rejects.toThrow(
      /imagesTr\/BRATS_002.nii.gz \(listed in dataset.json\) is missing/,
    );
    await expect(
      plan({ request: { stage: 'liver', schedule: { normalisation: 'zscore' } } }, context),
    ).rejects.toThrow(/normalisation is for the brats stage only/);
  });
});

describe('train-fold: the brats stage', () => {
  const ctx = (training: BatchContext['training']): BatchContext => ({
    s3: new S3Client({ region: 'eu-west-1' }),
    codec: libraryCodec,
    loadEngines: async () => [],
    training,
    requireGpu: false,
  });

  it('downloads the subjects with their folders: the brain dataset reader finds the planned subjects', async () => {
    const ids = ['B_1', 'B_2', 'B_3'];
    bratsFolders('brats', ids);
    const planned = await plan({ request: { stage: 'brats', folds: 3 } }, context);
    const args = planned.items[1].args;
    let seen: string[] = [];
    let tree: string[] = [];
    const training = {
      startBackend: vi.fn(async () => 'wasm'),
      evaluateEnsemble: vi.fn(),
      trainFold: vi.fn(async (_a: unknown, _m: unknown, outDir: string, dataDir?: string) => {
        tree = (await readdir(dataDir!, { recursive: true })).map((p) => p.split(path.sep).join('/')).sort();
        seen = (await openBratsTrainingSet(dataDir!)).subjects.map((s) => s.id);
        const { mkdir, writeFile } = await import('node:fs/promises');
        await mkdir(`${outDir}/brats/fold-1`, { recursive: true });
        await writeFile(`${outDir}/brats/fold-1/manifest.json`, '{}');
      }),
    };
    expect(await runBatchStage(['train-fold', '--args', JSON.stringify(args)], ctx(training))).toBe(EXIT.ok);
    expect(seen).toEqual(ids);
    expect(tree).toContain('LGG/B_2/B_2_flair.nii.gz');
    expect(tree).toContain('HGG/B_3/B_3_seg.nii.gz');
    expect(tree.filter((p) => p.endsWith('.nii.gz'))).toHaveLength(ids.length * SEQUENCES.length);
    expect(store.has(`${MODELS_BUCKET}/runs/${planned.runId}/v0/brats/fold-1/manifest.json`)).toBe(true);
  });

  it('downloads MSD Task01 with its dataset.json: the reader finds the planned subjects', async () => {
    const names = ['BRATS_001', 'BRATS_002', 'BRATS_003'];
    store.set(
      `${MODELS_BUCKET}/datasets/task01/dataset.json`,
      text({
        modality: { 0: 'FLAIR', 1: 'T1w', 2: 't1gd', 3: 'T2w' },
        training: names.map((n) => ({ image: `./imagesTr/${n}.nii.gz`, label: `./labelsTr/${n}.nii.gz` })),
      }),
    );
    for (const n of names) {
      put(`datasets/task01/imagesTr/${n}.nii.gz`);
      put(`datasets/task01/labelsTr/${n}.nii.gz`);
    }
    const planned = await plan({ request: { stage: 'brats', dataset: 'task01', folds: 3 } }, context);
    let seen: { layout: string; ids: string[] } | undefined;
    const training = {
      startBackend: vi.fn(async () => 'wasm'),
      evaluateEnsemble: vi.fn(),
      trainFold: vi.fn(async (_a: unknown, _m: unknown, outDir: string, dataDir?: string) => {
        const ds = await openBratsTrainingSet(dataDir!);
        seen = { layout: ds.layout, ids: ds.subjects.map((s) => s.id) };
        const { mkdir } = await import('node:fs/promises');
        await mkdir(`${outDir}/brats/fold-0`, { recursive: true });
      }),
    };
    const argv = ['train-fold', '--args', JSON.stringify(planned.items[0].args)];
    expect(await runBatchStage(argv, ctx(training))).toBe(EXIT.ok);
    expect(seen).toEqual({ layout: 'msd-brats', ids: names });
  });

  it('refuses a manifest file outside the dataset root (exit 2, nothing trained)', async () => {
    bratsFolders('brats', ['C_1', 'C_2']);
    const planned = await plan({ request: { stage: 'brats', folds: 2 } }, context);
    const uri = planned.items[0].args.manifest;
    const m = manifestOf(uri);
    m.cases[0].files[0] = `s3://${MODELS_BUCKET}/datasets/other/x.nii.gz`;
    store.set(uri.slice(5), text(m));
    const training = {
      startBackend: vi.fn(async () => 'wasm'),
      evaluateEnsemble: vi.fn(),
      trainFold: vi.fn(),
    };
    const argv = ['train-fold', '--args', JSON.stringify(planned.items[0].args)];
    expect(await runBatchStage(argv, ctx(training))).toBe(EXIT.badInput);
    expect(training.trainFold).not.toHaveBeenCalled();
  });
});

describe('training library: the brats stage', () => {
  const args = (stage: string, schedule?: object) =>
    parseEvent(
      trainFoldArgs,
      {
        runId: '20260301T020000Z-00ab12',
        stage,
        variant: 'v0',
        fold: 1,
        folds: 3,
        manifest: 's3://bucket/runs/m.json',
        hyper: { lr: 0.002, width: 0.5, epochs: 4 },
        out: 's3://bucket/runs/out/',
        ...(schedule ? { schedule } : {}),
      },
      'args',
    );

  it('trains brats with trainBrats and the normalisation, the liver stages with trainStage', async () => {
    await trainingLibrary.trainFold(
      args('brats', { normalisation: 'zscore', perCase: 8 }),
      { seed: 5 },
      '/o',
      '/d',
    );
    expect(trainer.trainStage).not.toHaveBeenCalled();
    expect(trainer.trainBrats).toHaveBeenCalledOnce();
    expect(trainer.trainBrats.mock.calls[0]![0]).toMatchObject({
      data: '/d',
      out: '/o',
      fold: 1,
      folds: 3,
      epochs: 4,
      width: 0.5,
      initialLr: 0.002,
      perCase: 8,
      seed: 5,
      normalisation: 'zscore',
    });
    await trainingLibrary.trainFold(args('tumor', { perCase: 8 }), {}, '/o', '/d');
    expect(trainer.trainStage).toHaveBeenCalledOnce();
    const liver = trainer.trainStage.mock.calls[0]![0];
    expect(liver).toMatchObject({ stage: 'tumor', perCase: 8, seed: 1 });
    expect('normalisation' in liver).toBe(false);
  });
});

describe('synthesized training workflow: the brats stage by config', () => {
  it('schedules a brats execution and gives the plan Lambda the brain dataset', async () => {
    const synth = await synthEnv('dev', {
      config: {
        training: {
          schedule: 'rate(7 days)',
          scheduledStages: ['liver', 'brats'],
          bratsDataset: 'brats2018',
        },
      },
    });
    try {
      const inputs = resourcesOf(synth.json, 'AWS::Scheduler::Schedule').map(([, r]: [string, Cfn]) =>
        JSON.parse(r.Properties.Target.Input),
      );
      expect(inputs).toContainEqual({ stage: 'brats', trigger: 'schedule' });
      expect(inputs).toContainEqual({ stage: 'liver', trigger: 'schedule' });
      const withDataset = resourcesOf(synth.json, 'AWS::Lambda::Function')
        .map(([, r]: [string, Cfn]) => r.Properties.Environment?.Variables ?? {})
        .filter((v: Record<string, unknown>) => 'DEFAULT_DATASET' in v);
      expect(withDataset.length).toBeGreaterThan(0);
      for (const v of withDataset) expect(v.DEFAULT_BRATS_DATASET).toBe('brats2018');
      // the plan Lambda may read an MSD dataset.json (and no other dataset object)
      const statements = resourcesOf(synth.json, 'AWS::IAM::Policy').flatMap(([, p]: [string, Cfn]) =>
        p.Properties.PolicyDocument.Statement.map((st: Cfn) => JSON.stringify(st)),
      );
      expect(
        statements.some((st) => st.includes('s3:GetObject') && st.includes('datasets/*/dataset.json')),
      ).toBe(true);
    } finally {
      synth.cleanup();
    }
  }, 120_000);
});
