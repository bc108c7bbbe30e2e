/**
 * The exact speed-ups of issue 16 leave the segmentation unchanged with real (demo) models, on held-out
 * phantoms and on the real scan `example_ct`:
 *  - stage 3 running only the windows that hold liver voxels gives the identical tumor mask as running
 *    every window of the liver VOI. The windows are 32x32x32 here: the models' own 64x64x32 windows all
 *    hold liver on these small volumes, so none would be skipped and the comparison would prove nothing;
 *  - the fast export (3D up-sampling as Unsqueeze/Expand/Reshape, bitwise the same as `Resize`; 3x3x3
 *    convolutions of up-sampled maps at the low resolution and the last one as depth taps, and in 2D the
 *    convolution of a concatenation split over its parts, equal up to summation order) gives the label
 *    maps of the export before issue 16 on 10 held-out phantoms and example_ct (the issue's acceptance set).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLED_DEMO_BRAIN_MODELS, BUNDLED_DEMO_MODELS } from '../../lib/cli/paths.ts';
import type { InferenceEngine } from '../../lib/inference/engine.ts';
import { createOnnxEngine } from '../../lib/inference/onnx-engine.ts';
import { convertToOnnx, type ExportOptions, exportToOnnx } from '../../lib/inference/onnx-export.ts';
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

/** Dice of the voxels `inside` selects in a and in b (1 when both are empty). */
function dice(a: Uint8Array, b: Uint8Array, inside: (v: number) => boolean): number {
  let both = 0;
  let sizes = 0;
  for (let i = 0; i < a.length; i++) {
    const [p, q] = [inside(a[i]!), inside(b[i]!)];
    if (p && q) both++;
    sizes += Number(p) + Number(q);
  }
  return sizes === 0 ? 1 : (2 * both) / sizes;
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

describe('the fast export (Expand up-sampling, low-resolution and split convolutions, depth taps), demo models', () => {
  it('gives the label maps of the pre-issue-16 export on 10 held-out phantoms and example_ct', async () => {
    const engines: InferenceEngine[] = [];
    /** The three demo networks exported as `opts` says. */
    const exported = async (opts: ExportOptions): Promise<LoadedModels> => {
      const stage = async (name: 'localize' | 'liver' | 'tumor') => {
        const { model } = await loadModel(join(BUNDLED_DEMO_MODELS, name, 'fold-0'));
        const onnx = exportToOnnx(model, opts);
        const ops = convertToOnnx(model, opts).graph.nodes.map((n) => n.opType);
        model.dispose();
        const engine = await createOnnxEngine(onnx, { threads: 2 });
        engines.push(engine);
        return { ops, models: models[name].map((m) => ({ ...m, engine })) };
      };
      const [localize, liver, tumor] = [await stage('localize'), await stage('liver'), await stage('tumor')];
      forms.push({ localize: localize.ops, volumes: [...liver.ops, ...tumor.ops] });
      return { localize: localize.models, liver: liver.models, tumor: tumor.models };
    };
    const forms: Array<{ localize: string[]; volumes: string[] }> = [];
    try {
      const today = await exported({
        upsampling: 'resize',
        upsampledConvForm: 'direct',
        depthTapConvs: false,
      });
      const fast = await exported({});
      // the two really are different graphs: Resize and no parity interleave before, the reverse after
      const [before, after] = forms as [(typeof forms)[0], (typeof forms)[0]];
      expect(before.volumes).toContain('Resize');
      expect(before.volumes).not.toContain('DepthToSpace');
      expect(after.volumes).not.toContain('Resize');
      expect(after.volumes).toContain('DepthToSpace');
      expect(before.volumes).not.toContain('Pad'); // the depth-tap form of the last convolution
      expect(after.volumes).toContain('Pad');
      // the 2D localizer: its last decoder convolution split over the concatenation (one Concat fewer)
      const concats = (ops: string[]) => ops.filter((o) => o === 'Concat').length;
      expect(concats(after.localize)).toBe(concats(before.localize) - 1);
      const scans: Array<[string, () => Promise<Volume> | Volume]> = [
        ...Array.from({ length: 10 }, (_, k): [string, () => Volume] => [
          `held-out phantom ${k}`,
          () => heldOutPhantom(k),
        ]),
        ['example_ct', exampleCt],
      ];
      for (const [name, load] of scans) {
        const ct = await load();
        const before = (await segmentCt(ct, today)).labels.data;
        const after = (await segmentCt(ct, fast)).labels.data;
        const liverDice = dice(before, after, (v) => v > 0);
        const tumorDiffers = countDifferent(
          before.map((v) => (v === 2 ? 1 : 0)),
          after.map((v) => (v === 2 ? 1 : 0)),
        );
        process.stderr.write(
          `${name}: liver Dice ${liverDice.toFixed(6)}, tumor voxels differing ${tumorDiffers}\n`,
        );
        expect(before.some((v) => v > 0)).toBe(true); // a liver was found: the comparison means something
        // the bound; in practice the maps are identical (summation order only, ~1e-7)
        expect(liverDice).toBeGreaterThanOrEqual(0.995);
        expect(tumorDiffers).toBeLessThanOrEqual(3);
      }
    } finally {
      for (const e of engines) await e.dispose();
    }
  }, 240_000);
});

describe('the bundled demo models ship the fast export', () => {
  // `raunet demo` and the CLI load the committed model.onnx files, not model.json: a stale one would run
  // the old, slower graph (or one from an exporter that no longer exists) while every test above passes.
  const bundled: Array<[string, string]> = [
    ...['localize', 'liver', 'tumor'].map((s): [string, string] => [
      s,
      join(BUNDLED_DEMO_MODELS, s, 'fold-0'),
    ]),
    ['brats', join(BUNDLED_DEMO_BRAIN_MODELS, 'brats', 'fold-0')],
  ];
  for (const [stage, dir] of bundled) {
    it(`${stage}: model.onnx is byte for byte today's export of its model.json`, async () => {
      const { model } = await loadModel(dir);
      const fresh = exportToOnnx(model);
      model.dispose();
      expect(Buffer.compare(Buffer.from(fresh), readFileSync(join(dir, 'model.onnx')))).toBe(0);
    });
  }
});
