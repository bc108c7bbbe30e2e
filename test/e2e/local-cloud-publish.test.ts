/**
 * A fresh deployment segments after `raunet models publish` (issue 13 item 7): the local cloud starts with
 * an empty models registry, the CLI publishes the bundled demo models for the three stages (bucket and
 * table given as flags), and a dropped scan then ends SUCCEEDED with its results.
 */

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../lib/cli/main.ts';
import { DynamoModelRegistry } from '../../lib/cloud/model-registry.ts';
import { publishModels } from '../../lib/cloud/publish.ts';
import { LocalCloud } from '../../lib/localcloud/cloud.ts';
import { generatePhantom } from '../../lib/phantom/phantom.ts';
import { encodeNifti } from '../../lib/volume/nifti.ts';
import { tableNameOf } from './helpers.ts';

const DEMO = 'models/demo';
let cloud: LocalCloud;
let models: string;
let modelsTable: string;
let jobsTable: string;
const started = Date.now();

async function scan(table: string): Promise<Record<string, unknown>[]> {
  const out = await DynamoDBDocumentClient.from(cloud.ddb).send(new ScanCommand({ TableName: table }));
  return out.Items ?? [];
}

async function keys(bucket: string, prefix = ''): Promise<string[]> {
  const out = await cloud.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (out.Contents ?? []).map((c) => c.Key ?? '');
}

/** `raunet models publish ...` in-process; resolves to the exit code and what it printed. */
async function publish(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
    out += String(s);
    return true;
  });
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => {
    err += String(s);
    return true;
  });
  try {
    const code = await main(['node', 'raunet', 'models', 'publish', ...args]);
    return { code, out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

beforeAll(async () => {
  cloud = await LocalCloud.start();
  models = cloud.nameOf('AWS::S3::Bucket', 'models');
  modelsTable = tableNameOf(cloud, 'models');
  jobsTable = tableNameOf(cloud, 'jobs');
}, 300_000);

afterAll(async () => {
  await cloud?.stop();
  process.stderr.write(`local-cloud publish scenario: ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
});

describe('publishing models to a fresh deployment', () => {
  it('refuses a folder whose manifests are another stage, with one line and exit code 2', async () => {
    const r = await publish('--stage', 'tumor', '--bucket', models, '--table', modelsTable, `${DEMO}/liver`);
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/manifest\.json: is a liver model, not tumor/);
    expect(await keys(models)).toEqual([]);
  });

  it('publishes the demo models for all three stages, then a dropped scan is segmented', async () => {
    expect(await scan(modelsTable)).toEqual([]); // an empty registry: nothing could segment yet
    for (const stage of ['localize', 'liver', 'tumor']) {
      const r = await publish('--stage', stage, '--bucket', models, '--table', modelsTable, DEMO);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toMatch(
        new RegExp(`^${stage}: published 1 fold\\(s\\) as run .*promoted to current\\n$`),
      );
    }
    const current = (await scan(modelsTable)).filter((i) => i.runId === 'CURRENT');
    expect(current.map((c) => c.stage).sort()).toEqual(['liver', 'localize', 'tumor']);
    for (const c of current) {
      const prefix = String(c.models).replace(`s3://${models}/`, '');
      expect(
        (await keys(models, `${prefix}${c.stage}/fold-0/`)).map((k) => k.slice(prefix.length)).sort(),
      ).toEqual(
        ['manifest.json', 'metrics.jsonl', 'model.json', 'model.onnx', 'train-state.json', 'weights.bin'].map(
          (f) => `${c.stage}/fold-0/${f}`,
        ),
      );
    }

    const { ct } = generatePhantom({ seed: 21, dims: [96, 96, 48], tumors: 1 });
    await cloud.dropObject(
      cloud.nameOf('AWS::S3::Bucket', 'input'),
      'incoming/fresh.nii.gz',
      encodeNifti(ct, { gzip: true }),
    );
    await cloud.waitForAll();
    const jobs = await scan(jobsTable);
    expect(jobs).toHaveLength(1);
    expect([jobs[0].status, jobs[0].reason]).toEqual(['SUCCEEDED', undefined]);
    const results = cloud.nameOf('AWS::S3::Bucket', 'results');
    // label map, report, preview and the viewer folder (page, script, manifest, CT, label map, report)
    expect((await keys(results, `results/${jobs[0].jobId}/`)).length).toBe(9);
  }, 600_000);

  it('never overwrites a published run: the same run id again is refused before any upload', async () => {
    const registry = new DynamoModelRegistry(
      DynamoDBDocumentClient.from(new DynamoDBClient({})),
      modelsTable,
    );
    const deps = {
      s3: cloud.s3,
      registry,
      modelsBucket: models,
      now: () => new Date('2026-01-02T03:04:05Z'),
      random: () => 0.5,
    };
    const first = await publishModels(deps, { stage: 'liver', dir: DEMO });
    const stored = await keys(models, `runs/${first.runId}/`);
    await expect(publishModels(deps, { stage: 'liver', dir: DEMO })).rejects.toThrow(/already holds objects/);
    expect(await keys(models, `runs/${first.runId}/`)).toEqual(stored);
    // Same Dice as the current liver ensemble: registered, not promoted over it.
    expect(first.promoted).toBe(false);
  });
});
