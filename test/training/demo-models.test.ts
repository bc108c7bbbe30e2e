/**
 * Acceptance of the bundled demo models (`models/demo/`): on the held-out phantoms they meet the demo's
 * targets, their manifests say what they are, and they segment a real scan onto its own grid.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSegment } from '../../lib/cli/commands/segment.ts';
import { BUNDLED_DEMO_MODELS } from '../../lib/cli/paths.ts';
import { boxRecall } from '../../lib/metrics/box.ts';
import { initBackend } from '../../lib/model/backend.ts';
import { STAGES } from '../../lib/model/storage.ts';
import { disposeModels, loadModels } from '../../lib/pipeline/models.ts';
import type { LoadedModels } from '../../lib/pipeline/segment.ts';
import { DEMO, runDemo } from '../../lib/training/demo.ts';
import { readNifti } from '../../lib/volume/nifti.ts';
import { expectValidReport } from '../report-schema.ts';

describe('bundled demo models', () => {
  let out: string;
  let models: LoadedModels;
  beforeAll(async () => {
    await initBackend('cpu');
    out = await mkdtemp(join(tmpdir(), 'raunet-demo-models-'));
    models = await loadModels(BUNDLED_DEMO_MODELS);
  });
  afterAll(async () => {
    if (models) await disposeModels(models);
    await rm(out, { recursive: true, force: true });
  });

  it('are reduced RA-UNets trained on the demo phantoms, and say they are not for clinical scans', async () => {
    for (const stage of STAGES) {
      const m = JSON.parse(
        await readFile(join(BUNDLED_DEMO_MODELS, stage, 'fold-0', 'manifest.json'), 'utf8'),
      );
      expect(m.stage).toBe(stage);
      expect(m.width).toBe(DEMO.stages[stage].width);
      expect([...m.inputShape].reverse().slice(1)).toEqual(DEMO.stages[stage].patch);
      expect(m.note).toBe(DEMO.note);
      expect(models[stage][0]!.engine.kind).toBe('onnx');
    }
  });

  it('meet the targets on the held-out phantoms: per-case Dice >= 0.90 (liver) and >= 0.60 (tumor)', async () => {
    const evaluation = await runDemo({ models, out: join(out, 'demo') });
    // The bundled stage-1 network's boxes hold (nearly) all of the liver: 99.98% on ten held-out phantoms.
    for (let k = 0; k < DEMO.testCases; k++) {
      const report = JSON.parse(await readFile(join(out, 'demo', `phantom-${k}_report.json`), 'utf8'));
      expectValidReport(report);
      const truth = await readNifti(join(out, 'demo', `phantom-${k}_truth.nii.gz`));
      expect(boxRecall(truth.data, truth.dims, report.localization?.voxels ?? null)).toBeGreaterThanOrEqual(
        0.995,
      );
    }
    expect(evaluation.cases).toHaveLength(DEMO.testCases);
    expect(evaluation.liver.dice_per_case!).toBeGreaterThanOrEqual(0.9);
    expect(evaluation.tumor.dice_per_case!).toBeGreaterThanOrEqual(0.6);
  }, 300_000);

  it('segment a real scan onto exactly its grid (example_ct)', async () => {
    const rel = resolve(import.meta.dirname, '../../../shared/data/ct/example_ct.nii.gz');
    const file = existsSync(rel) ? rel : '/work/shared/data/ct/example_ct.nii.gz';
    // its own copy of the models: runSegment disposes what it loaded
    const outcomes = await runSegment([file], {
      models: BUNDLED_DEMO_MODELS,
      out: join(out, 'real'),
      quiet: true,
    });
    expect(outcomes[0]).toMatchObject({ name: 'example_ct', ok: true });
    const input = await readNifti(file);
    const seg = await readNifti(join(out, 'real', 'example_ct_seg.nii.gz'));
    expect(seg.dims).toEqual(input.dims);
    for (const [i, v] of seg.affine.entries()) expect(v).toBeCloseTo(input.affine[i]!, 5);
  }, 300_000);
});
