/**
 * Training resilience in the local cloud (issue 13 item 6), on the synthesized training workflow with the
 * real Lambdas and Batch entrypoint: a fold job killed mid-run (its host lost) is retried by Batch and
 * resumes from its S3 checkpoint; a failed fold does not discard the others, and the run is promoted or
 * FAILED by the minFolds rule, with every fold's outcome recorded. RAUNET_E2E_TRAINING=0 skips it.
 */
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCheckpointPointer } from '../../lib/cloud/fold-checkpoint.ts';
import { LocalCloud } from '../../lib/localcloud/cloud.ts';
import { seedModels } from '../../lib/localcloud/models.ts';
import type { Vec3 } from '../../lib/volume/volume.ts';
import { putPhantomDataset, tableNameOf } from './helpers.ts';

const TRAINING = process.env.RAUNET_E2E_TRAINING !== '0';
const TINY: Vec3 = [48, 48, 32];
/** The smallest honest training (see local-cloud.test.ts scenario 4): 64x64x32 windows, two steps. */
const SCHEDULE = { stepsPerEpoch: 2, batchSize: 1, perCase: 2, patch: [64, 64, 32] };
const HOST_FAILURE = 'Host EC2 (instance i-0e2e0c0ffee000002) terminated.';
const APP_FAILURE = 'Essential container in task exited';
const RUN_MS = 600_000;

let cloud: LocalCloud;
let models: string;
let modelsTable: string;
const started = Date.now();

async function rows(): Promise<Record<string, unknown>[]> {
  const out = await DynamoDBDocumentClient.from(cloud.ddb).send(new ScanCommand({ TableName: modelsTable }));
  return out.Items ?? [];
}

async function text(key: string): Promise<string> {
  const out = await cloud.s3.send(new GetObjectCommand({ Bucket: models, Key: key }));
  return out.Body!.transformToString();
}

beforeAll(async () => {
  if (!TRAINING) return;
  cloud = await LocalCloud.start();
  models = cloud.nameOf('AWS::S3::Bucket', 'models');
  modelsTable = tableNameOf(cloud, 'models');
  await seedModels({ bucket: models, table: modelsTable });
  await putPhantomDataset(cloud, models, 'tiny3', { cases: 3, seed0: 200, dims: TINY });
}, 300_000);

afterAll(async () => {
  await cloud?.stop();
  process.stderr.write(`local-cloud training scenarios: ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
});

const isFold = (fold: number) => (a: unknown) => (a as { fold?: number }).fold === fold;

describe.skipIf(!TRAINING)('training resilience in the local cloud', () => {
  it(
    'a fold killed mid-run resumes from its checkpoint; one failed fold of three, minFolds 2 -> promoted',
    async () => {
      let checkpointUri = '';
      let killedAt = 0;
      let resumedAfter = 0;
      cloud.faults.set('train-fold', [
        // Fold 1: the application fails (not retried by Batch).
        { statusReason: APP_FAILURE, exitCode: 1, match: isFold(1) },
        // Fold 0: its host is lost once the first checkpoint is in S3.
        {
          statusReason: HOST_FAILURE,
          match: (a) => {
            if (!isFold(0)(a)) return false;
            checkpointUri = (a as { checkpoint: { uri: string } }).checkpoint.uri;
            return true;
          },
          killWhen: async () => {
            const pointer = await readCheckpointPointer(cloud.s3, checkpointUri);
            if (!pointer) return false;
            killedAt = Date.now();
            resumedAfter = pointer.epoch;
            return true;
          },
        },
      ]);
      const exec = cloud.startExecution(
        cloud.stateMachineArn('training'),
        JSON.stringify({
          stage: 'liver',
          dataset: 'tiny3',
          folds: 3,
          minFolds: 2,
          checkpointEveryEpochs: 1,
          sweep: { epochs: [2], width: [0.125] },
          schedule: SCHEDULE,
        }),
        'train-resume',
      );
      await exec.done;
      expect(exec.error).toBeUndefined();
      expect(exec.status).toBe('SUCCEEDED');
      const runId = (exec.output as { plan: { runId: string } }).plan.runId;
      const jobs = cloud.batch.jobs.filter((j) => j.Container.Command[2]?.includes(runId));
      const foldJob = (k: number) =>
        jobs.find(
          (j) => j.Container.Command[0] === 'train-fold' && JSON.parse(j.Container.Command[2]).fold === k,
        );

      // Fold 0: two attempts, the first lost with its host after a checkpoint; the retry resumed.
      const f0 = foldJob(0)!;
      expect(f0.Status).toBe('SUCCEEDED');
      expect(f0.Attempts.map((a) => a.StatusReason)).toEqual([HOST_FAILURE, APP_FAILURE]);
      // Killed once the epoch-1 checkpoint was in S3 (epoch 2 takes seconds, so before its checkpoint).
      expect(resumedAfter).toBe(1);
      const lines = (await text(`runs/${runId}/v0/liver/fold-0/metrics.jsonl`))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { epoch: number; time: string });
      // Every epoch once: those up to the checkpoint come from the lost attempt (before the kill), the
      // rest from the retry, which started at epoch resumedAfter + 1.
      expect(lines.map((l) => l.epoch)).toEqual([1, 2]);
      for (const l of lines) {
        if (l.epoch <= resumedAfter) expect(Date.parse(l.time)).toBeLessThan(killedAt);
        else expect(Date.parse(l.time)).toBeGreaterThan(killedAt);
      }
      expect(JSON.parse(await text(`runs/${runId}/v0/liver/fold-0/train-state.json`)).epochsDone).toBe(2);

      // Fold 1 failed once (an application error is not retried); fold 2 trained.
      expect([foldJob(1)?.Status, foldJob(1)?.Attempts.length]).toEqual(['FAILED', 1]);
      expect(foldJob(2)?.Status).toBe('SUCCEEDED');
      // The ensemble is the two succeeded folds; the run records every fold's outcome.
      const metrics = JSON.parse(await text(`runs/${runId}/metrics.json`));
      expect(metrics.perFold).toHaveLength(2);
      const run = (await rows()).find((r) => r.runId === runId)!;
      const folds = run.folds as Array<{ fold: number; status: string; reason?: string }>;
      expect(folds.map((f) => [f.fold, f.status]).sort()).toEqual([
        [0, 'SUCCEEDED'],
        [1, 'FAILED'],
        [2, 'SUCCEEDED'],
      ]);
      expect(folds.find((f) => f.fold === 1)?.reason).toMatch(/exit code 1/);
      expect(JSON.parse(await text(`runs/${runId}/folds.json`)).minFolds).toBe(2);
      expect(run.valDice).toBe(metrics.valDice);
    },
    RUN_MS,
  );

  it(
    'one failed fold of two with minFolds = all -> FAILED naming the fold, no evaluation, CURRENT kept',
    async () => {
      const before = (await rows()).find((r) => r.stage === 'liver' && r.runId === 'CURRENT');
      cloud.faults.set('train-fold', [{ statusReason: APP_FAILURE, exitCode: 1, match: isFold(1) }]);
      const exec = cloud.startExecution(
        cloud.stateMachineArn('training'),
        JSON.stringify({
          stage: 'liver',
          dataset: 'tiny3',
          folds: 2,
          sweep: { epochs: [1], width: [0.125] },
          schedule: SCHEDULE,
        }),
        'train-min-folds',
      );
      await exec.done;
      expect(exec.status).toBe('FAILED');
      const failed = (await rows()).find((r) => r.execution === 'train-min-folds')!;
      expect(failed).toMatchObject({ status: 'FAILED', error: 'FoldsFailed' });
      expect(String(failed.reason)).toMatch(
        /fewer than minFolds 2 folds succeeded \(v0 1 of 2\); failed: v0 fold 1: /,
      );
      const folds = failed.folds as Array<{ fold: number; status: string }>;
      expect(folds.map((f) => [f.fold, f.status]).sort()).toEqual([
        [0, 'SUCCEEDED'],
        [1, 'FAILED'],
      ]);
      const runId = String(failed.runId);
      expect(
        cloud.batch.jobs
          .filter((j) => j.Container.Command[2]?.includes(runId))
          .map((j) => j.Container.Command[0])
          .sort(),
      ).toEqual(['train-fold', 'train-fold']);
      expect((await rows()).find((r) => r.stage === 'liver' && r.runId === 'CURRENT')).toEqual(before);
    },
    RUN_MS,
  );
});
