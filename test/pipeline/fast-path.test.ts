/**
 * The exact speed-ups of issue 16 leave the segmentation unchanged with real (demo) models, on held-out
 * phantoms and on the real scan `example_ct`:
 *  - stage 3 running only the windows that hold liver voxels gives the identical tumor mask as running
 *    every window of the liver VOI. The windows are 32x32x32 here: the models' own 64x64x32 windows all
 *    hold liver on these small volumes, so none would be skipped and the comparison would prove nothing;
 *  - the 3D up-sampling exported as Unsqueeze/Expand/Reshape gives bitwise the probabilities of the
 *    `Resize` form the bundled models were exported with, hence identical label maps.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLED_DEMO_MODELS } from '../../lib/cli/paths.ts';
import type { InferenceEngine } from '../../lib/inference/engine.ts';
import { createOnnxEngine } from '../../lib/inference/onnx-engine.ts';
import { convertToOnnx, exportToOnnx } from '../../lib/inference/onnx-export.ts';
import { loadModel } from '../../lib/model/storage.ts';
import { generatePhantom } from '../../lib/phantom/phantom.ts';
import { disposeModels, loadModels } from '../../lib/pipeline/models.ts';
import { type LoadedModels, segmentCt } from '../../lib/pipeline/segment.ts';
import { segmentTumor } from '../../lib/pipeline/stages.ts';
import { windowAndNormalize } from '../../lib/preprocess/window.ts';
import { DEMO, heldOutSeed } from '../../lib/training/demo.ts';
import { readNifti } from '../../lib/volume/nifti.ts';
import type { Volume } from '../../lib/volume/volume.ts';

let models: LoadedModels;
beforeAll(async () => {
  models = await loadModels(BUNDLED_DEMO_MODELS, { engine: 'onnx', threads: 2 });
});
afterAll(async () => {
  await disposeModels(models);
});

function heldOutPhantom(k: number): Volume {
  return generatePhantom({
    seed: heldOutSeed(k),
    dims: DEMO.dims,
    spacing: DEMO.spacing,
    tumors: DEMO.testTumors[k],
  }).ct;
}

function exampleCt(): Promise<Volume> {
  const rel = resolve(import.meta.dirname, '../../../shared/data/ct/example_ct.nii.gz');
  return readNifti(existsSync(rel) ? rel : '/work/shared/data/ct/example_ct.nii.gz');
}

const countDifferent = (a: Uint8Array, b: Uint8Array) => {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
};

describe('stage 3 skipping windows without liver, demo models', () => {
  const cases: Array<[string, () => Promise<Volume> | Volume]> = [
    ['held-out phantom 0', () => heldOutPhantom(0)],
    ['example_ct (real scan)', exampleCt],
  ];
  for (const [name, load] of cases) {
    it(`gives the same tumor mask on ${name} with fewer passes`, async () => {
      const ct = await load();
      const { labels } = await segmentCt(ct, models, { skipWindowsWithoutLiver: false });
      const liver = Uint8Array.from(labels.data, (v) => (v > 0 ? 1 : 0));
      const normalized = windowAndNormalize(ct);
      const engines = models.tumor.map((m) => m.engine);
      const run = async (skip: boolean) => {
        let passes = 0;
        const tumor = await segmentTumor(ct, liver, engines, {
          normalized,
          patch: [32, 32, 32],
          skipWindowsWithoutLiver: skip,
          onProgress: (_done, total) => (passes = total),
        });
        return { tumor, passes };
      };
      const every = await run(false);
      const fast = await run(true);
      expect(liver.some((v) => v > 0)).toBe(true); // the models found liver: the comparison means something
      expect(countDifferent(every.tumor, fast.tumor)).toBe(0);
      expect(fast.passes).toBeLessThan(every.passes);
      const tumorVoxels = every.tumor.reduce((a, v) => a + v, 0);
      process.stderr.write(
        `${name}: ${tumorVoxels} tumor voxels; passes ${every.passes} -> ${fast.passes}\n`,
      );
    });
  }
});

describe('3D up-sampling exported as Expand, demo models', () => {
  it('gives the label map of the bundled Resize-form models on a held-out phantom and example_ct', async () => {
    const reexported: InferenceEngine[] = [];
    const reexport = async (stage: 'liver' | 'tumor') => {
      const { model } = await loadModel(join(BUNDLED_DEMO_MODELS, stage, 'fold-0'));
      const onnx = exportToOnnx(model);
      const ops = convertToOnnx(model).graph.nodes.map((n) => n.opType);
      model.dispose();
      // the bundled model.onnx has Resize nodes; the new export replaces every one
      expect(ops).toContain('Expand');
      expect(ops).not.toContain('Resize');
      const engine = await createOnnxEngine(onnx, { threads: 2 });
      reexported.push(engine);
      return models[stage].map((m) => ({ ...m, engine }));
    };
    try {
      const expandModels: LoadedModels = {
        localize: models.localize,
        liver: await reexport('liver'),
        tumor: await reexport('tumor'),
      };
      for (const ct of [heldOutPhantom(2), await exampleCt()]) {
        const before = await segmentCt(ct, models);
        const after = await segmentCt(ct, expandModels);
        expect(before.labels.data.some((v) => v > 0)).toBe(true);
        expect(countDifferent(before.labels.data, after.labels.data)).toBe(0);
      }
    } finally {
      for (const e of reexported) await e.dispose();
    }
  });
});
