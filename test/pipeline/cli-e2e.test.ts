/**
 * `raunet segment` end to end through the CLI entry point, with real (tiny, random-weight) RA-UNets
 * saved and exported to ONNX in the project's model folder layout: checks the wiring (model discovery,
 * fold subsets, ONNX engines with the manifests' input shapes, outputs, exit codes), not accuracy.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../lib/cli/main.ts';
import { saveOnnx } from '../../lib/inference/save-onnx.ts';
import { type ArchName, buildRAUNet } from '../../lib/model/archs.ts';
import { saveModel } from '../../lib/model/storage.ts';
import { generatePhantom } from '../../lib/phantom/phantom.ts';
import { readNifti, writeNifti } from '../../lib/volume/nifti.ts';
import { expectValidReport } from '../report-schema.ts';

let dir: string;

async function store(
  arch: ArchName,
  inputShape: number[],
  stage: 'localize' | 'liver' | 'tumor',
  fold: number,
) {
  // Seeded: the same random networks every run (stage 1 must find some "liver" or the case fails).
  const model = buildRAUNet(arch, { width: 0.125, inputShape, seed: 100 + fold });
  const dest = join(dir, 'models', stage, `fold-${fold}`);
  await saveModel(model, dest, {
    arch,
    width: 0.125,
    inputShape,
    stage,
    fold,
    createdAt: '2026-01-01T00:00:00Z',
  });
  await saveOnnx(model, dest);
  model.dispose();
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'raunet-e2e-'));
  await store('raunet1', [32, 32, 1], 'localize', 0);
  for (const fold of [0, 1]) await store('raunet2', [32, 32, 32, 1], 'liver', fold);
  await store('raunet2', [32, 32, 32, 1], 'tumor', 0);
  const { ct } = generatePhantom({ seed: 21, dims: [48, 48, 20], spacing: [8, 8, 12], tumors: 1 });
  await writeNifti(join(dir, 'case-1.nii.gz'), ct);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** `raunet segment <case-1> --models <models> --out <out> --quiet ...extra` */
const run = (out: string, ...extra: string[]) =>
  main(['node', 'raunet', 'segment', join(dir, 'case-1.nii.gz'), '--out', out, '--quiet', ...extra]);
const models = () => join(dir, 'models');

describe('raunet segment (CLI, ONNX models on disk)', () => {
  it('segments with a fold subset and writes outputs on the input grid', async () => {
    const out = join(dir, 'out');
    const code = await run(out, '--models', models(), '--folds', '1');
    expect(code).toBe(0);
    const input = await readNifti(join(dir, 'case-1.nii.gz'));
    const seg = await readNifti(join(out, 'case-1_seg.nii.gz'));
    expect(seg.dims).toEqual(input.dims);
    for (const [i, v] of seg.affine.entries()) expect(v).toBeCloseTo(input.affine[i], 5);
    expect(seg.data.every((v) => v <= 2)).toBe(true);
    const report = JSON.parse(await readFile(join(out, 'case-1_report.json'), 'utf8'));
    expectValidReport(report);
    expect(report.engine.kind).toBe('onnx');
    expect(report.models.liver.map((m: { id: string }) => m.id)).toEqual(['liver/fold-1']);
    expect(report.models.localize[0]).toMatchObject({
      id: 'localize/fold-0',
      arch: 'raunet1',
      inputShape: [32, 32, 1],
    });
    expect(report.options.patches).toEqual({ localize: [32, 32], liver: [32, 32, 32], tumor: [32, 32, 32] });

    // outputs are not replaced without --overwrite: the case fails, and since that is the user's to fix
    // (bad input or arguments, not a crash) the exit code is 2
    expect(await run(out, '--models', models())).toBe(2);
  });

  it('refuses a fold the ensembles do not have, and a model folder without stages', async () => {
    const out = join(dir, 'out2');
    expect(await run(out, '--models', models(), '--folds', '4')).toBe(2);
    expect(await run(out, '--models', dir)).toBe(2);
  });
});
