/**
 * The brain-tumour Batch stage (`segment-brats`) end to end on an in-memory S3: a held-out brain phantom
 * dropped as a zip of its subject folder, the bundled demo brain model as the promoted ensemble, the real
 * runner (`runBratsJob`); the results land under the job's results prefix and the label map finds the
 * tumour. A broken subject exits 2 and writes nothing.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';

vi.hoisted(() => {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
});

import { deflateRawSync } from 'node:zlib';
import { BRAIN_DEMO, heldOutBrainSubject } from '../../lib/brats/demo.ts';
import { subjectTarget } from '../../lib/brats/targets.ts';
import { BUNDLED_DEMO_BRAIN_MODELS } from '../../lib/cli/paths.ts';
import { type BatchContext, EXIT, runBatchStage } from '../../lib/cloud/batch-stages.ts';
import { runBratsJob } from '../../lib/cloud/brats-batch.ts';
import { libraryCodec } from '../../lib/cloud/volume-codec.ts';
import { initBackend } from '../../lib/model/backend.ts';
import { brainPhantomId, writeBrainPhantomSet } from '../../lib/phantom/brain-set.ts';
import { decodeNifti } from '../../lib/volume/nifti.ts';
import { backS3WithStore } from '../functions/helpers.ts';
import { zipArchive } from '../robustness/inputs.ts';

const s3 = mockClient(S3Client);
const store = new Map<string, Uint8Array>();
const JOB = '0123456789abcdef0123456789abcdef';
const OUT = `s3://results-bucket/results/${JOB}/`;
const MODELS = 's3://models-bucket/runs/r1/v0/';
let dir: string;
let subjectZip: Uint8Array;
let brokenZip: Uint8Array;

beforeAll(async () => {
  await initBackend('cpu');
  dir = await mkdtemp(join(tmpdir(), 'raunet-brats-batch-'));
  // held-out phantom 0 of the demo, written as BraTS files
  await writeBrainPhantomSet(dir, 1, BRAIN_DEMO.testSeed, {
    dims: BRAIN_DEMO.dims,
    spacing: BRAIN_DEMO.spacing,
    skullStripped: true,
  });
  const id = brainPhantomId(0);
  const names = (await readdir(join(dir, id))).sort();
  const entries = await Promise.all(
    names.map(async (n) => {
      const data = new Uint8Array(await readFile(join(dir, id, n)));
      return {
        name: `${id}/${n}`,
        deflated: new Uint8Array(deflateRawSync(data)),
        declaredSize: data.length,
      };
    }),
  );
  subjectZip = zipArchive(entries);
  brokenZip = zipArchive(entries.filter((e) => !e.name.endsWith('_flair.nii.gz')));
}, 60_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  s3.reset();
  store.clear();
  backS3WithStore(s3, store);
  const fold = join(BUNDLED_DEMO_BRAIN_MODELS, 'brats', 'fold-0');
  for (const f of await readdir(fold))
    store.set(`models-bucket/runs/r1/v0/brats/fold-0/${f}`, new Uint8Array(await readFile(join(fold, f))));
});

const ctx = (): BatchContext => ({
  s3: new S3Client({ region: 'eu-west-1' }),
  codec: libraryCodec,
  loadEngines: async () => [],
  brats: runBratsJob,
  requireGpu: false,
});

const args = (key: string) =>
  JSON.stringify({ jobId: JOB, subject: `s3://input-bucket/${key}`, models: MODELS, out: OUT });

describe('segment-brats Batch stage', () => {
  it('unzips the subject, segments it with the promoted ensemble and writes the results', async () => {
    store.set('input-bucket/incoming/brats/s0.zip', subjectZip);
    const code = await runBatchStage(['segment-brats', '--args', args('incoming/brats/s0.zip')], ctx());
    expect(code).toBe(EXIT.ok);
    const prefix = `results-bucket/results/${JOB}/`;
    const labels = decodeNifti(store.get(`${prefix}labels.nii.gz`)!, 'labels.nii.gz');
    const report = JSON.parse(new TextDecoder().decode(store.get(`${prefix}report.json`)!));
    expect(store.has(`${prefix}preview.png`)).toBe(true);
    expect(labels.dims).toEqual(BRAIN_DEMO.dims);
    expect(report.task).toBe('brats');
    expect(report.tumour.voxels).toBe(Array.from(labels.data).filter((v) => v > 0).length);
    // the label map finds the held-out phantom's whole tumour (Dice >= 0.8, counted here)
    const truth = subjectTarget(heldOutBrainSubject(0), 'whole');
    let inter = 0;
    let sum = 0;
    for (let i = 0; i < truth.length; i++) {
      const p = labels.data[i]! > 0 ? 1 : 0;
      inter += p * truth[i]!;
      sum += p + truth[i]!;
    }
    expect((2 * inter) / sum).toBeGreaterThanOrEqual(0.8);
  }, 120_000);

  it('exits 2 on a subject without FLAIR and writes no result', async () => {
    store.set('input-bucket/incoming/brats/s1.zip', brokenZip);
    const code = await runBatchStage(['segment-brats', '--args', args('incoming/brats/s1.zip')], ctx());
    expect(code).toBe(EXIT.badInput);
    expect([...store.keys()].some((k) => k.startsWith('results-bucket/'))).toBe(false);
  }, 60_000);
});
