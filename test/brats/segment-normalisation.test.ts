/**
 * The normalisation a brain model was trained with, recorded in its manifest (`trainedOn.normalisation`)
 * and used by `segment --task brats`: manifests without it are minmax, an explicit `--normalisation` that
 * disagrees is refused with one line (exit 2) before anything is written, folds that disagree are refused.
 */
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';

const seen = vi.hoisted(() => ({ modes: [] as Array<string | undefined> }));
vi.mock('../../lib/brats/segment-input.ts', async (original) => {
  const real = await original<typeof import('../../lib/brats/segment-input.ts')>();
  return {
    ...real,
    // records the mode each subject is prepared with, then prepares it as the real code does
    prepareBratsInput: (...a: Parameters<typeof real.prepareBratsInput>) => {
      seen.modes.push(a[1]);
      return real.prepareBratsInput(...a);
    },
  };
});

import { BRAIN_DEMO } from '../../lib/brats/demo.ts';
import { resolveBratsNormalisation } from '../../lib/brats/segment-input.ts';
import { BUNDLED_DEMO_BRAIN_MODELS } from '../../lib/cli/paths.ts';
import { initBackend } from '../../lib/model/backend.ts';
import { parseManifest } from '../../lib/model/storage.ts';
import { brainPhantomId, writeBrainPhantomSet } from '../../lib/phantom/brain-set.ts';
import { runCli } from '../cli.ts';

describe('resolveBratsNormalisation', () => {
  const model = (id: string, normalisation?: 'minmax' | 'zscore') => ({
    id,
    manifest: { trainedOn: normalisation ? { normalisation } : {} },
  });

  it("takes the manifests' normalisation, minmax when they predate it", () => {
    expect(resolveBratsNormalisation([model('brats/fold-0')])).toBe('minmax');
    expect(resolveBratsNormalisation([{ id: 'f', manifest: {} }])).toBe('minmax');
    expect(resolveBratsNormalisation([model('f0', 'zscore'), model('f1', 'zscore')])).toBe('zscore');
    expect(resolveBratsNormalisation([model('f0', 'zscore')], 'zscore')).toBe('zscore');
    expect(resolveBratsNormalisation([model('f0')], 'minmax')).toBe('minmax');
  });

  it('refuses a requested normalisation that disagrees, and folds that disagree', () => {
    expect(() => resolveBratsNormalisation([model('f0', 'zscore')], 'minmax')).toThrow(
      /--normalisation minmax disagrees with the models, trained with zscore/,
    );
    expect(() => resolveBratsNormalisation([model('f0')], 'zscore')).toThrow(/trained with minmax/);
    expect(() => resolveBratsNormalisation([model('f0'), model('f1', 'zscore')])).toThrow(
      /f0 was trained with minmax normalisation, f1 with zscore/,
    );
  });

  it('the manifest schema keeps the field and refuses other values', () => {
    const base = { arch: 'raunet2-brain', width: 1, inputShape: [64, 64, 64, 4], createdAt: 'now' };
    expect(parseManifest({ ...base, trainedOn: { normalisation: 'zscore' } }).trainedOn?.normalisation).toBe(
      'zscore',
    );
    expect(() => parseManifest({ ...base, trainedOn: { normalisation: 'robust' } })).toThrow(/normalisation/);
  });
});

describe('segment --task brats with the recorded normalisation', () => {
  let dir: string;
  let subject: string;
  let zscoreModels: string;

  beforeAll(async () => {
    await initBackend('cpu');
    dir = await mkdtemp(join(tmpdir(), 'raunet-brats-norm-'));
    await writeBrainPhantomSet(join(dir, 'data'), 1, BRAIN_DEMO.testSeed, {
      dims: BRAIN_DEMO.dims,
      spacing: BRAIN_DEMO.spacing,
      skullStripped: true,
    });
    subject = join(dir, 'data', brainPhantomId(0));
    // the bundled demo model (its manifest predates the field) relabelled as trained on z-scores
    zscoreModels = join(dir, 'zscore-models');
    await cp(BUNDLED_DEMO_BRAIN_MODELS, zscoreModels, { recursive: true });
    const manifestPath = join(zscoreModels, 'brats', 'fold-0', 'manifest.json');
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
    manifest.trainedOn.normalisation = 'zscore';
    await writeFile(manifestPath, JSON.stringify(manifest));
  }, 60_000);
  afterAll(() => rm(dir, { recursive: true, force: true }));
  beforeEach(() => {
    seen.modes = [];
  });

  it('refuses a --normalisation the models were not trained with: one line, exit 2, nothing written', async () => {
    const out = join(dir, 'out-refused');
    const r = await runCli([
      'segment',
      '--task',
      'brats',
      subject,
      '--models',
      zscoreModels,
      '--out',
      out,
      '--normalisation',
      'minmax',
      '--quiet',
    ]);
    expect(r.code).toBe(2);
    const lines = r.err.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/--normalisation minmax disagrees with the models, trained with zscore/);
    expect(seen.modes).toEqual([]);
    expect(await readdir(out).catch(() => [])).toEqual([]);
  });

  it("segments with the manifest's zscore by default, and minmax for a manifest without the field", async () => {
    const zOut = join(dir, 'out-zscore');
    const z = await runCli([
      'segment',
      '--task',
      'brats',
      subject,
      '--models',
      zscoreModels,
      '--out',
      zOut,
      '--quiet',
    ]);
    expect(z.code).toBe(0);
    expect(seen.modes).toEqual(['zscore']);
    seen.modes = [];
    const mOut = join(dir, 'out-minmax');
    const m = await runCli([
      'segment',
      '--task',
      'brats',
      subject,
      '--models',
      BUNDLED_DEMO_BRAIN_MODELS,
      '--out',
      mOut,
      '--quiet',
    ]);
    expect(m.code).toBe(0);
    expect(seen.modes).toEqual(['minmax']);
    expect((await readdir(mOut)).sort()).toEqual(
      ['_preview.png', '_report.json', '_seg.nii.gz'].map((s) => `${brainPhantomId(0)}${s}`),
    );
  }, 120_000);
});
