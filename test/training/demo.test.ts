import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseStages } from '../../lib/cli/commands/demo.ts';
import { BUNDLED_DEMO_MODELS } from '../../lib/cli/paths.ts';
import { createTfjsEngine } from '../../lib/inference/tfjs-engine.ts';
import { buildRAUNet, SIDE_MULTIPLE } from '../../lib/model/archs.ts';
import { initBackend } from '../../lib/model/backend.ts';
import { caseSeed } from '../../lib/phantom/set.ts';
import type { LoadedModels } from '../../lib/pipeline/segment.ts';
import { DEMO, heldOutSeed, prepareDemoPhantoms, runDemo, trainDemoModels } from '../../lib/training/demo.ts';
import { stagePatch } from '../../lib/training/train-stage.ts';
import { expectValidReport } from '../report-schema.ts';

describe('demo configuration', () => {
  it('never evaluates on a phantom seed used for training', () => {
    const train = new Set(Array.from({ length: 1000 }, (_, k) => caseSeed(DEMO.trainSeed, k)));
    for (let k = 0; k < 50; k++) expect(train.has(heldOutSeed(k))).toBe(false);
    expect(new Set(Array.from({ length: 50 }, (_, k) => heldOutSeed(k))).size).toBe(50);
  });

  it('uses patches the networks accept', () => {
    for (const [stage, c] of Object.entries(DEMO.stages)) {
      const arch = stage === 'localize' ? 'raunet1' : 'raunet2';
      expect(() => stagePatch(stage as 'liver', arch, [...c.patch])).not.toThrow();
      for (const side of c.patch) expect(side % SIDE_MULTIPLE).toBe(0);
      // some side of 64+: the bottleneck holds more than one voxel, so batch norm is not degenerate
      expect(Math.max(...c.patch)).toBeGreaterThanOrEqual(2 * SIDE_MULTIPLE);
    }
    expect(DEMO.note).toMatch(/not .*clinical/);
  });
});

describe('demo training phantoms', () => {
  it('reuses a complete set written with the same parameters', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'raunet-demo-set-'));
    try {
      const manifest = {
        generator: 'raunet phantom',
        seed: DEMO.trainSeed,
        start: 0,
        count: DEMO.trainCases,
        dims: DEMO.dims,
        spacing: DEMO.spacing,
        tumors: DEMO.trainTumors,
        cases: [],
      };
      await writeFile(join(dir, 'phantoms.json'), JSON.stringify(manifest));
      const lines: string[] = [];
      await prepareDemoPhantoms(dir, (l) => lines.push(l));
      expect(lines).toEqual([`using the ${DEMO.trainCases} training phantoms already in ${dir}`]);
      expect(await readdir(dir)).toEqual(['phantoms.json']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('demo --train into a folder with trained models', () => {
  it('refuses before writing anything unless resuming', async () => {
    const work = await mkdtemp(join(tmpdir(), 'raunet-demo-work-'));
    try {
      await expect(trainDemoModels({ work, out: BUNDLED_DEMO_MODELS, stages: ['tumor'] })).rejects.toThrow(
        /models\/demo: already holds trained demo models \(tumor\); train into another folder/,
      );
      expect(await readdir(work)).toEqual([]);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});

describe('demo --stage', () => {
  it('takes known stage names in pipeline order and names an unknown one', () => {
    expect(parseStages('tumor,localize')).toEqual(['localize', 'tumor']);
    expect(parseStages(' liver ')).toEqual(['liver']);
    expect(() => parseStages('liver,lungs')).toThrow(/--stage: unknown stage 'lungs'/);
  });
});

describe('runDemo', () => {
  let out: string;
  beforeAll(async () => {
    await initBackend('cpu');
    out = await mkdtemp(join(tmpdir(), 'raunet-demo-'));
  });
  afterAll(async () => {
    await rm(out, { recursive: true, force: true });
  });

  it('segments a held-out phantom and writes label map, truth, report, preview and the evaluation', async () => {
    // Untrained tiny networks: this checks the flow and the files, not the accuracy.
    const model = (arch: 'raunet1' | 'raunet2', inputShape: number[], stage: string) => {
      const m = buildRAUNet(arch, { width: 0.02, inputShape });
      return [
        { engine: createTfjsEngine(m), manifest: { arch, inputShape, width: 0.02 }, id: `${stage}/fold-0` },
      ];
    };
    const models: LoadedModels = {
      localize: model('raunet1', [32, 32, 1], 'localize'),
      liver: model('raunet2', [32, 32, 32, 1], 'liver'),
      tumor: model('raunet2', [32, 32, 32, 1], 'tumor'),
    };
    const lines: string[] = [];
    const evaluation = await runDemo({
      models,
      out,
      cases: 1,
      phantom: { dims: [32, 32, 32], spacing: [10, 10, 8] },
      log: (l) => lines.push(l),
    });
    for (const f of ['ct.nii.gz', 'truth.nii.gz', 'seg.nii.gz', 'report.json', 'preview.png']) {
      expect(existsSync(join(out, `phantom-0_${f}`)), f).toBe(true);
    }
    expectValidReport(JSON.parse(readFileSync(join(out, 'phantom-0_report.json'), 'utf8')));
    expect(evaluation.cases.map((c) => c.id)).toEqual(['phantom-0']);
    expect(evaluation.liver.cases).toBe(1);
    const saved = JSON.parse(readFileSync(join(out, 'evaluation.json'), 'utf8'));
    expect(saved.liver.cases).toBe(1);
    expect(lines[0]).toMatch(
      /^phantom-0: liver Dice \d\.\d{3}, tumor Dice \d\.\d{3}, stage-1 box holds \d{1,3}\.\d% of the liver/,
    );
    for (const s of Object.values(models)) for (const m of s) await m.engine.dispose();
  });
});
