import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'fflate';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseFolds, parseStageValues, runSegment } from '../../lib/cli/commands/segment.ts';
import { expandInputs } from '../../lib/pipeline/inputs.ts';
import { readNifti, writeNifti } from '../../lib/volume/nifti.ts';
import { parseNiftiHeader } from '../../lib/volume/nifti-header.ts';
import { captureStream } from '../cli.ts';
import { expectValidReport } from '../report-schema.ts';
import { pointwiseEngine } from './engines.ts';
import { obliqueAffine, scene, sceneModels } from './scene.ts';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'raunet-seg-'));
  const { ct } = scene(obliqueAffine(20));
  await writeNifti(join(dir, 'in', 'case-a.nii.gz'), ct).catch(async () => {
    const { mkdir } = await import('node:fs/promises');
    await mkdir(join(dir, 'in'), { recursive: true });
    await writeNifti(join(dir, 'in', 'case-a.nii.gz'), ct);
  });
  await writeFile(join(dir, 'in', 'broken.nii.gz'), new Uint8Array([0x1f, 0x8b, 8, 0, 1, 2, 3]));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('option parsing', () => {
  it('parses per-stage values and fold lists', () => {
    expect(parseStageValues('0.4', false)).toEqual({ localize: 0.4, liver: 0.4, tumor: 0.4 });
    expect(parseStageValues('liver=0.6,tumor=0.3', false)).toEqual({ liver: 0.6, tumor: 0.3 });
    expect(parseStageValues('localize=16', true)).toEqual({ localize: 16 });
    expect(() => parseStageValues('lung=0.5', false)).toThrow(/unknown stage/);
    expect(() => parseStageValues('1.5', true)).toThrow(/positive integer/);
    expect(parseFolds('0,2')).toEqual([0, 2]);
    expect(() => parseFolds('a')).toThrow(/fold/);
  });
});

describe('expandInputs', () => {
  it('turns files, DICOM folders and folders of NIfTI files into cases', async () => {
    const dcm = join(dir, 'dicom', 'series-7');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(dcm, { recursive: true });
    await writeFile(join(dcm, 'IM0001'), 'x');
    const { cases, problems } = await expandInputs([
      join(dir, 'in'),
      join(dir, 'dicom'),
      dcm,
      join(dir, 'nope'),
    ]);
    expect(cases.map((c) => [c.name, c.kind])).toEqual([
      ['broken', 'nifti'],
      ['case-a', 'nifti'],
      ['series-7', 'dicom'],
      ['series-7', 'dicom'],
    ]);
    expect(problems).toEqual([{ path: join(dir, 'nope'), reason: 'no such file or folder' }]);
  });
});

describe('runSegment', () => {
  it('writes label map, report and preview per case, reports failures and continues', async () => {
    const out = join(dir, 'out');
    const { out: lines, stream } = captureStream();
    const outcomes = await runSegment(
      [join(dir, 'in')],
      { models: 'unused', out, saveProbabilities: true },
      { loadModels: async () => sceneModels(), stream },
    );
    expect(outcomes.map((o) => [o.name, o.ok])).toEqual([
      ['broken', false],
      ['case-a', true],
    ]);
    expect(outcomes[0].reason).toMatch(/broken\.nii\.gz/);
    const input = await readNifti(join(dir, 'in', 'case-a.nii.gz'));
    const seg = await readNifti(join(out, 'case-a_seg.nii.gz'));
    expect(seg.dims).toEqual(input.dims);
    for (const [i, v] of seg.affine.entries()) expect(v).toBeCloseTo(input.affine[i], 4);
    expect(seg.dtype).toBe('uint8');
    const { truth } = scene(obliqueAffine(20));
    expect(Array.from(seg.data)).toEqual(Array.from(truth.data));
    const report = JSON.parse(await readFile(join(out, 'case-a_report.json'), 'utf8'));
    expectValidReport(report);
    expect(report.tumors.count).toBe(2);
    expect(report.input.path).toBe(join(dir, 'in', 'case-a.nii.gz'));
    const png = PNG.sync.read(await readFile(join(out, 'case-a_preview.png')));
    expect(png.width).toBeGreaterThan(100);
    expect((await stat(join(out, 'case-a_prob_liver.nii.gz'))).size).toBeGreaterThan(0);
    expect(lines.some((l) => /case-a: liver .* mL, 2 tumor/.test(l))).toBe(true);
    expect(lines.some((l) => l.startsWith('case-a liver: done in'))).toBe(true);

    // A second run does not overwrite, unless asked to.
    const again = await runSegment(
      [join(dir, 'in', 'case-a.nii.gz')],
      { models: 'x', out, quiet: true },
      {
        loadModels: async () => sceneModels(),
      },
    );
    expect(again[0].ok).toBe(false);
    expect(again[0].reason).toMatch(/--overwrite/);
    const forced = await runSegment(
      [join(dir, 'in', 'case-a.nii.gz')],
      { models: 'x', out, quiet: true, overwrite: true },
      { loadModels: async () => sceneModels() },
    );
    expect(forced[0].ok).toBe(true);
  });
});

describe('a scan without liver', () => {
  it('is a failed case with its reason, and nothing is written for it', async () => {
    const out = join(dir, 'no-liver');
    const { out: lines, stream } = captureStream();
    const models = sceneModels();
    models.localize[0]!.engine = pointwiseEngine(() => 0);
    const outcomes = await runSegment(
      [join(dir, 'in', 'case-a.nii.gz')],
      { models: 'x', out },
      { loadModels: async () => models, stream },
    );
    expect(outcomes[0]).toMatchObject({ name: 'case-a', ok: false });
    expect(outcomes[0]!.reason).toMatch(/case-a\.nii\.gz: no liver found in the scan/);
    expect(lines.some((l) => /case-a\.nii\.gz: FAILED: .*no liver found/.test(l))).toBe(true);
    for (const f of ['case-a_seg.nii.gz', 'case-a_report.json', 'case-a_preview.png'])
      expect(existsSync(join(out, f)), f).toBe(false);
  });
});

describe('--tta and how the models were trained', () => {
  it('warns, naming them, when --tta meets models not trained with mirroring', async () => {
    const run = async (tta: boolean, mirror: boolean) => {
      const { out: lines, stream } = captureStream();
      const models = sceneModels();
      for (const stage of ['localize', 'liver', 'tumor'] as const)
        for (const m of models[stage]) m.manifest.trainedOn = { mirror };
      const outcomes = await runSegment(
        [join(dir, 'in', 'case-a.nii.gz')],
        { models: 'x', out: join(dir, `tta-${tta}-${mirror}`), tta },
        { loadModels: async () => models, stream },
      );
      expect(outcomes[0].ok).toBe(true);
      // (the scene's tiny liver also draws result-plausibility warnings: not what this test is about)
      return lines.filter((l) => l.startsWith('warning: --tta'));
    };
    const warned = await run(true, false);
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatch(
      /--tta .*localize\/fold-0, liver\/fold-0, liver\/fold-1, tumor\/fold-0 were not trained/,
    );
    expect(await run(true, true)).toEqual([]);
    expect(await run(false, false)).toEqual([]);
  });
});

describe('a real scan', () => {
  const rel = resolve(import.meta.dirname, '../../../shared/data/ct/example_ct.nii.gz');
  const file = existsSync(rel) ? rel : '/work/shared/data/ct/example_ct.nii.gz';

  it('writes a label map whose header geometry equals the input (example_ct, 3 mm, int32)', async () => {
    const out = join(dir, 'real');
    // large windows keep this quick: the soft-tissue threshold makes a large VOI on a real scan
    const models = sceneModels();
    models.liver.length = 1;
    models.liver[0].manifest = { inputShape: [32, 64, 64, 1] };
    models.tumor[0].manifest = { inputShape: [32, 64, 64, 1] };
    const outcomes = await runSegment(
      [file],
      { models: 'x', out, quiet: true },
      { loadModels: async () => models },
    );
    expect(outcomes[0]).toMatchObject({ name: 'example_ct', ok: true });
    const input = await readNifti(file);
    const seg = await readNifti(join(out, 'example_ct_seg.nii.gz'));
    expect(seg.dims).toEqual([122, 101, 112]);
    expect(seg.dims).toEqual(input.dims);
    for (const [i, v] of seg.affine.entries()) expect(v).toBeCloseTo(input.affine[i], 5);
    for (const [i, v] of seg.spacing.entries()) expect(v).toBeCloseTo(input.spacing[i], 5);
    expect(seg.dtype).toBe('uint8');
    // the raw headers agree on pixdim and on the sform rows
    const header = async (f: string) => parseNiftiHeader(gunzipSync(new Uint8Array(await readFile(f))), f);
    const hi = await header(file);
    const hs = await header(join(out, 'example_ct_seg.nii.gz'));
    for (let d = 1; d <= 3; d++) expect(hs.pixdim[d]).toBeCloseTo(hi.pixdim[d], 5);
    if (hi.sformCode > 0) for (const [i, v] of hs.srow.entries()) expect(v).toBeCloseTo(hi.srow[i], 4);
  });
});
