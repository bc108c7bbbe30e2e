/**
 * The training workflow's brain task in the local cloud (synthesized state machine, real Lambdas, the Batch
 * entrypoint as child processes): brain phantoms in BraTS subject folders under `datasets/brain3/`, a
 * two-fold run of the `brats` stage with z-score normalisation, registered and promoted as the liver
 * stages are. The smallest honest training (32^3 patches, two steps of one sample). RAUNET_E2E_TRAINING=0
 * skips it.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalCloud } from '../../lib/localcloud/cloud.ts';
import { brainPhantomId, writeBrainPhantomSet } from '../../lib/phantom/brain-set.ts';
import { tableNameOf } from '../e2e/helpers.ts';

const TRAINING = process.env.RAUNET_E2E_TRAINING !== '0';
const SUBJECTS = 3;
let cloud: LocalCloud;
let models: string;
let dir: string;
const started = Date.now();

beforeAll(async () => {
  if (!TRAINING) return;
  cloud = await LocalCloud.start();
  models = cloud.nameOf('AWS::S3::Bucket', 'models');
  dir = await mkdtemp(join(tmpdir(), 'raunet-brats-lc-'));
  await writeBrainPhantomSet(dir, SUBJECTS, 31, {
    dims: [32, 32, 32],
    spacing: [6, 6, 6],
    skullStripped: true,
  });
  for (let k = 0; k < SUBJECTS; k++) {
    const id = brainPhantomId(k);
    for (const name of await readdir(join(dir, id))) {
      await cloud.s3.send(
        new PutObjectCommand({
          Bucket: models,
          // BraTS 2018 style: the subjects one level down (HGG/)
          Key: `datasets/brain3/HGG/${id}/${name}`,
          Body: await readFile(join(dir, id, name)),
        }),
      );
    }
  }
}, 300_000);

afterAll(async () => {
  await cloud?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
  process.stderr.write(`local-cloud brats training: ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
});

describe.skipIf(!TRAINING)('brain-task training in the local cloud', () => {
  it('trains two folds of brats subject folders, records zscore in the manifests, registers and promotes', async () => {
    const exec = cloud.startExecution(
      cloud.stateMachineArn('training'),
      JSON.stringify({
        stage: 'brats',
        dataset: 'brain3',
        folds: 2,
        sweep: { epochs: [1], width: [0.0625] },
        schedule: {
          stepsPerEpoch: 2,
          batchSize: 1,
          perCase: 2,
          patch: [32, 32, 32],
          normalisation: 'zscore',
        },
      }),
      'train-brats',
    );
    await exec.done;
    expect(exec.error).toBeUndefined();
    expect(exec.status).toBe('SUCCEEDED');
    const runId = (exec.output as { plan: { runId: string } }).plan.runId;
    const text = async (key: string) =>
      (await cloud.s3.send(new GetObjectCommand({ Bucket: models, Key: key }))).Body!.transformToString();
    const ids = Array.from({ length: SUBJECTS }, (_, k) => brainPhantomId(k));
    for (const fold of [0, 1]) {
      const manifest = JSON.parse(await text(`runs/${runId}/v0/brats/fold-${fold}/manifest.json`));
      expect(manifest).toMatchObject({ stage: 'brats', arch: 'raunet2-brain', fold, folds: 2 });
      expect(manifest.trainedOn.normalisation).toBe('zscore');
      // every subject is in this fold's training or validation set
      expect([...manifest.trainedOn.caseIds, ...manifest.trainedOn.validationCaseIds].sort()).toEqual(ids);
    }
    const table = tableNameOf(cloud, 'models');
    const items =
      (await DynamoDBDocumentClient.from(cloud.ddb).send(new ScanCommand({ TableName: table }))).Items ?? [];
    const run = items.find((r) => r.runId === runId);
    expect(run).toMatchObject({ stage: 'brats', variant: 'v0', models: `s3://${models}/runs/${runId}/v0/` });
    const current = items.find((r) => r.stage === 'brats' && r.runId === 'CURRENT');
    // the first brats ensemble is promoted: the segmentation workflow's brain job uses it
    expect(current).toMatchObject({ currentRunId: runId, models: run?.models, currentDice: run?.valDice });
  }, 300_000);
});
