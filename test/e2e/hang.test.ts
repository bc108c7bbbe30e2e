/**
 * Bounded jobs: a Batch stage that never finishes ends at its job definition's timeout and the job is FAILED
 * with the reason; an execution stopped from outside (no Catch runs) still leaves its job FAILED with a
 * reason, through the EventBridge rule on execution status changes. The stand-in container never exits;
 * the job definitions' timeouts are scaled down (30 minutes -> 1 second).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TIMEOUT_REASON } from '../../lib/localcloud/batch.ts';
import { LocalCloud } from '../../lib/localcloud/cloud.ts';
import { generatePhantom } from '../../lib/phantom/phantom.ts';
import { encodeNifti } from '../../lib/volume/nifti.ts';
import { promoteStandInModels } from './helpers.ts';

const FIXTURE = path.resolve(import.meta.dirname, 'fixtures', 'slow-container.mjs');
const pidDir = mkdtempSync(path.join(tmpdir(), 'raunet-hang-'));
let cloud: LocalCloud;
let input: string;
let jobsTable: string;

async function jobs(): Promise<Record<string, unknown>[]> {
  const doc = DynamoDBDocumentClient.from(cloud.ddb);
  return (await doc.send(new ScanCommand({ TableName: jobsTable }))).Items ?? [];
}

const scan = () =>
  encodeNifti(generatePhantom({ seed: 3, dims: [48, 48, 16], tumors: 0 }).ct, { gzip: true });

beforeAll(async () => {
  // dev: inference attempts time out after 30 minutes; scaled so that 30 minutes are one second.
  cloud = await LocalCloud.start({ container: [process.execPath, FIXTURE, pidDir], timeScale: 1 / 1800 });
  input = cloud.nameOf('AWS::S3::Bucket', 'input');
  jobsTable = cloud.names.physicalName(
    cloud.names.idsOfType('AWS::DynamoDB::GlobalTable').find((id) => id.includes('Jobs'))!,
  );
  const modelsTable = cloud.names.physicalName(
    cloud.names.idsOfType('AWS::DynamoDB::GlobalTable').find((id) => id.includes('Models'))!,
  );
  await promoteStandInModels(cloud.ddb, modelsTable);
}, 120_000);

afterAll(async () => {
  await cloud?.stop();
  rmSync(pidDir, { recursive: true, force: true });
});

describe('a stage that never finishes', () => {
  it('ends at the job timeout: the job is FAILED with the reason, not retried, the execution failed', async () => {
    await cloud.dropObject(input, 'incoming/hang.nii.gz', scan());
    await cloud.waitForAll();
    const [job] = await jobs();
    expect(job.status).toBe('FAILED');
    expect(String(job.reason)).toContain(`Batch job Localize failed: ${TIMEOUT_REASON}`);
    const localize = cloud.batch.jobs.filter((j) => j.Container.Command[0] === 'localize');
    expect(localize.map((j) => j.Attempts.length)).toEqual([1]);
    const exec = [...cloud.executions.values()][0];
    expect(exec.status).toBe('FAILED');
    // The status-change event of the failed execution reached mark-failed, which left the Catch's reason.
    const ended = cloud.events.filter((e) => e['detail-type'] === 'Step Functions Execution Status Change');
    expect(ended.map((e) => (e.detail as { status: string }).status)).toEqual(['FAILED']);
    expect((await jobs())[0].reason).toBe(job.reason);
  }, 120_000);

  it('an execution stopped from outside leaves its job FAILED with a reason (EventBridge rule)', async () => {
    await cloud.dropObject(input, 'incoming/stop-me.nii.gz', scan());
    const exec = [...cloud.executions.values()].at(-1)!;
    const deadline = Date.now() + 60_000;
    while (cloud.batch.runningContainers.length === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    exec.abort();
    await cloud.waitForAll();
    expect(exec.aborted).toBe(true);
    const job = (await jobs()).find((j) => (j.source as { key: string }).key === 'incoming/stop-me.nii.gz')!;
    expect(job.status).toBe('FAILED');
    expect(job.reason).toMatch(/^segmentation workflow was stopped/);
  }, 120_000);
});
