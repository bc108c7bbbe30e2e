/**
 * Acceptance of the bundled demo brain model (`models/demo-brain/`): on the held-out brain phantoms
 * (seeds disjoint from the training ones) the whole-tumour Dice is >= 0.80 per subject; the manifest says
 * what it is; and `raunet segment --task brats` runs it on subject folders written to disk, writing the
 * label map on the subject's grid, the report and the preview, and refusing a broken subject with exit 2.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BRAIN_DEMO,
  heldOutBrainSeed,
  heldOutBrainSubject,
  runBrainDemo,
  trainingBrainSeed,
} from '../../lib/brats/demo.ts';
import type { BratsModel } from '../../lib/brats/segment.ts';
import { loadBratsModels } from '../../lib/brats/segment-files.ts';
import { subjectTarget } from '../../lib/brats/targets.ts';
import { BUNDLED_DEMO_BRAIN_MODELS, CLI_LAUNCHER } from '../../lib/cli/paths.ts';
import { initBackend } from '../../lib/model/backend.ts';
import { brainPhantomId, writeBrainPhantomSet } from '../../lib/phantom/brain-set.ts';
import { readNifti } from '../../lib/volume/nifti.ts';

describe('brain demo phantoms', () => {
  it('hold out seeds that no training phantom has', () => {
    const train = new Set(Array.from({ length: 1000 }, (_, k) => trainingBrainSeed(k)));
    for (let k = 0; k < 100; k++) expect(train.has(heldOutBrainSeed(k))).toBe(false);
  });
});

describe('bundled demo brain model', () => {
  let out: string;
  let models: BratsModel[];
  beforeAll(async () => {
    await initBackend('cpu');
    out = await mkdtemp(join(tmpdir(), 'raunet-demo-brain-'));
    models = await loadBratsModels(BUNDLED_DEMO_BRAIN_MODELS);
  });
  afterAll(async () => {
    for (const m of models ?? []) await m.engine.dispose();
    await rm(out, { recursive: true, force: true });
  });

  it('is a reduced brain RA-UNet trained on the demo phantoms, run by ONNX, not for clinical use', async () => {
    const m = JSON.parse(
      await readFile(join(BUNDLED_DEMO_BRAIN_MODELS, 'brats', 'fold-0', 'manifest.json'), 'utf8'),
    );
    expect(m).toMatchObject({ arch: 'raunet2-brain', stage: 'brats', width: BRAIN_DEMO.width });
    expect(m.inputShape).toEqual([...[...BRAIN_DEMO.patch].reverse(), 4]);
    expect(m.note).toBe(BRAIN_DEMO.note);
    expect(models.map((x) => x.engine.kind)).toEqual(['onnx']);
  });

  it('reaches whole-tumour Dice >= 0.80 on every held-out phantom', async () => {
    const result = await runBrainDemo({ models, out: join(out, 'demo') });
    expect(result.cases).toHaveLength(BRAIN_DEMO.testSubjects);
    for (const c of result.cases) {
      expect(c.dice, c.subject).toBeGreaterThanOrEqual(0.8);
      // the written label map is the one scored: its Dice against the truth, counted here
      const seg = await readNifti(join(out, 'demo', `${c.subject}_seg.nii.gz`));
      const truth = await readNifti(join(out, 'demo', `${c.subject}_truth.nii.gz`));
      let inter = 0;
      let sum = 0;
      for (let i = 0; i < seg.data.length; i++) {
        const p = seg.data[i]! > 0 ? 1 : 0;
        const t = truth.data[i]! > 0 ? 1 : 0;
        inter += p * t;
        sum += p + t;
      }
      expect((2 * inter) / sum).toBeCloseTo(c.dice, 10);
      const report = JSON.parse(await readFile(join(out, 'demo', `${c.subject}_report.json`), 'utf8'));
      expect(report.demoModels).toBe(true);
      // 27 mm^3 voxels: mL = voxels x 27 / 1000
      expect(report.tumour.volumeMl).toBeCloseTo((report.tumour.voxels * 27) / 1000, 9);
    }
  }, 300_000);

  it('segments subject folders from the CLI and refuses a broken subject with exit 2', async () => {
    const data = join(out, 'subjects');
    await writeBrainPhantomSet(data, 2, BRAIN_DEMO.testSeed, {
      dims: BRAIN_DEMO.dims,
      spacing: BRAIN_DEMO.spacing,
      skullStripped: true,
    });
    const ok = join(data, brainPhantomId(0));
    const broken = join(data, brainPhantomId(1));
    await unlink(join(broken, `${brainPhantomId(1)}_t1ce.nii.gz`));
    const results = join(out, 'cli');
    const run = spawnSync(
      process.execPath,
      [CLI_LAUNCHER, 'segment', '--task', 'brats', ok, broken, '--out', results, '--quiet'],
      { encoding: 'utf8', timeout: 240_000 },
    );
    expect(run.status).toBe(2);
    const failures = run.stderr.split('\n').filter((l) => l.includes('FAILED'));
    expect(failures).toHaveLength(1);
    expect(failures[0]).toContain(broken);
    expect(failures[0]).toContain('missing modality t1ce');
    const id = brainPhantomId(0);
    for (const f of ['seg.nii.gz', 'report.json', 'preview.png'])
      expect(existsSync(join(results, `${id}_${f}`)), f).toBe(true);
    expect(existsSync(join(results, `${brainPhantomId(1)}_seg.nii.gz`))).toBe(false);
    const seg = await readNifti(join(results, `${id}_seg.nii.gz`));
    const flair = await readNifti(join(ok, `${id}_flair.nii.gz`));
    expect(seg.dims).toEqual(flair.dims);
    for (const [i, v] of seg.affine.entries()) expect(v).toBeCloseTo(flair.affine[i]!, 5);
    // the subject written to disk is held-out phantom 0: its whole tumour is found (Dice >= 0.8)
    const truth = subjectTarget(heldOutBrainSubject(0), 'whole');
    let inter = 0;
    let sum = 0;
    for (let i = 0; i < truth.length; i++) {
      inter += truth[i]! * (seg.data[i]! > 0 ? 1 : 0);
      sum += truth[i]! + (seg.data[i]! > 0 ? 1 : 0);
    }
    expect((2 * inter) / sum).toBeGreaterThanOrEqual(0.8);
    // an existing output is never overwritten without --overwrite
    const again = spawnSync(
      process.execPath,
      [CLI_LAUNCHER, 'segment', '--task', 'brats', ok, '--out', results, '--quiet'],
      { encoding: 'utf8', timeout: 240_000 },
    );
    expect(again.status).toBe(2);
    expect(again.stderr).toMatch(/exists/);
  }, 600_000);
});
