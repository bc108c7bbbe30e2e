/**
 * Stopping the local cloud in the middle of a run: the running Batch containers and whatever they started
 * are killed, their jobs end FAILED as terminated, the execution is aborted, and nothing is left running.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { STOPPED_REASON } from '../../lib/localcloud/batch.ts';
import { LocalCloud } from '../../lib/localcloud/cloud.ts';

const FIXTURE = path.resolve(import.meta.dirname, 'fixtures', 'slow-container.mjs');
const pidDir = mkdtempSync(path.join(tmpdir(), 'raunet-stop-'));
let cloud: LocalCloud | undefined;

/** True while `pid` is a live process (a zombie awaiting its reaper counts as gone). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return existsSync(`/proc/${pid}`);
  }
}

async function until(what: string, ok: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

afterAll(async () => {
  await cloud?.stop();
  rmSync(pidDir, { recursive: true, force: true });
});

describe('LocalCloud.stop()', () => {
  it('kills running Batch containers and their children, fails their jobs, aborts the execution', async () => {
    cloud = await LocalCloud.start({ container: [process.execPath, FIXTURE, pidDir] });
    const models = cloud.nameOf('AWS::S3::Bucket', 'models');
    // Two cases are enough for the plan step (it only pairs keys): two fold jobs start in parallel.
    for (const k of [0, 1]) {
      for (const f of [`volume-${k}.nii.gz`, `segmentation-${k}.nii.gz`]) {
        await cloud.s3.send(new PutObjectCommand({ Bucket: models, Key: `datasets/stop/${f}`, Body: 'x' }));
      }
    }
    const exec = cloud.startExecution(
      cloud.stateMachineArn('training'),
      JSON.stringify({ stage: 'liver', dataset: 'stop', folds: 2 }),
      'stop-me',
    );
    await until('both fold containers', () => readdirSync(pidDir).length === 2, 90_000);
    const pids = readdirSync(pidDir).map(
      (f) =>
        JSON.parse(readFileSync(path.join(pidDir, f), 'utf8')) as {
          pid: number;
          helper: number;
          command: string[];
        },
    );
    expect(pids.map((p) => p.command[0])).toEqual(['train-fold', 'train-fold']);
    const all = pids.flatMap((p) => [p.pid, p.helper]);
    expect(all.every(alive)).toBe(true);
    expect(cloud.batch.runningContainers.map((c) => c.pid).sort()).toEqual(pids.map((p) => p.pid).sort());

    await cloud.stop();

    expect(all.filter(alive)).toEqual([]);
    expect(cloud.batch.runningContainers).toEqual([]);
    expect(exec.status).toBe('FAILED');
    const jobs = cloud.batch.jobs.filter((j) => j.Container.Command[0] === 'train-fold');
    expect(jobs).toHaveLength(2);
    for (const j of jobs) {
      expect(j.Status).toBe('FAILED');
      // Terminated, not retried by the job definition's retry strategy.
      expect(j.Attempts.map((a) => a.StatusReason)).toEqual([STOPPED_REASON]);
    }
    // Stopping twice is harmless.
    await cloud.stop();
  }, 240_000);
});

describe('LocalCloud.start()', () => {
  it('leaves nothing behind when it fails', async () => {
    // Its own temp root, to see what a failed start leaves there.
    const root = mkdtempSync(path.join(tmpdir(), 'raunet-start-'));
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = root;
    try {
      await expect(LocalCloud.start({ env: 'nowhere' })).rejects.toThrow(/env: must be one of/);
      expect(readdirSync(root)).toEqual([]);
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
      rmSync(root, { recursive: true, force: true });
    }
  });
});
