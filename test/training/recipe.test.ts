import { describe, expect, it } from 'vitest';
import { InputError } from '../../lib/errors.ts';
import type { PreparedCase } from '../../lib/training/case.ts';
import { createRng } from '../../lib/training/random.ts';
import { parseRecipeName, RECIPES, RecipeSchema } from '../../lib/training/recipe.ts';
import {
  countSamples,
  type SamplerOptions,
  sampleCase,
  strideWindowStarts,
  trainingBatches,
  validationStream,
} from '../../lib/training/samplers.ts';
import type { Vec3 } from '../../lib/volume/volume.ts';

/**
 * A phantom with hand-countable samples: dims 40x36x60; liver = the block x 10..29, y 8..27, z 15..44
 * (30 slices with liver, 30 without); tumor = a cube of `tumorSide` voxels at x 18.., y 16.., z 28..
 * (0: no tumor). Every slice's image is one value, `offset + z / 100`, so a stage-1 sample says where
 * it came from.
 */
function phantom(id: string, tumorSide: number, offset = 0): PreparedCase {
  const dims: Vec3 = [40, 36, 60];
  const n = dims[0] * dims[1] * dims[2];
  const image = new Float32Array(n);
  const labels = new Uint8Array(n);
  for (let k = 0; k < dims[2]; k++)
    for (let j = 0; j < dims[1]; j++)
      for (let i = 0; i < dims[0]; i++) {
        const p = i + dims[0] * (j + dims[1] * k);
        image[p] = offset + k / 100;
        if (i >= 10 && i <= 29 && j >= 8 && j <= 27 && k >= 15 && k <= 44) labels[p] = 1;
        const t = (v: number, lo: number) => v >= lo && v < lo + tumorSide;
        if (t(i, 18) && t(j, 16) && t(k, 28)) labels[p] = 2;
      }
  return { id, dims, spacing: [1, 1, 1], image, labels, liverBox: { start: [10, 8, 15], end: [30, 28, 45] } };
}

const paper = (stage: 'localize' | 'liver' | 'tumor', patch: number[]): SamplerOptions => ({
  stage,
  patch,
  ...RECIPES.paper.stages[stage].sampler,
});
const fast = (stage: 'localize' | 'liver' | 'tumor', patch: number[]): SamplerOptions => ({
  stage,
  patch,
  ...RECIPES.fast.stages[stage].sampler,
});

describe('recipes', () => {
  it('parses the names and refuses others with an InputError naming the choices', () => {
    expect(parseRecipeName('paper')).toBe('paper');
    expect(parseRecipeName('fast')).toBe('fast');
    expect(() => parseRecipeName('Paper')).toThrow(InputError);
    expect(() => parseRecipeName('slow')).toThrow(/paper, fast.*"slow"/);
  });

  it('holds the authors’ batch sizes, patience, epochs and thresholds; fast keeps the old defaults', () => {
    const p = RECIPES.paper.stages;
    expect([p.localize.batchSize, p.liver.batchSize, p.tumor.batchSize]).toEqual([90, 2, 6]);
    expect([p.localize.plateauPatience, p.liver.plateauPatience, p.tumor.plateauPatience]).toEqual([
      20, 15, 15,
    ]);
    expect([p.localize.epochs, p.liver.epochs, p.tumor.epochs]).toEqual([50, 50, 50]);
    expect([p.localize.stepsPerEpoch, p.liver.stepsPerEpoch, p.tumor.stepsPerEpoch]).toEqual([
      null,
      null,
      null,
    ]);
    expect(p.liver.threshold).toBe(0.6);
    const f = RECIPES.fast.stages;
    expect([f.localize.batchSize, f.liver.batchSize, f.tumor.batchSize]).toEqual([8, 1, 2]);
    expect([f.localize.stepsPerEpoch, f.liver.stepsPerEpoch, f.tumor.stepsPerEpoch]).toEqual([100, 100, 100]);
    expect(f.liver.threshold).toBe(0.5);
  });

  it('validates recipes: no unknown fields, no out-of-range values', () => {
    const bad = structuredClone(RECIPES.paper) as unknown as { stages: { liver: Record<string, unknown> } };
    bad.stages.liver.threshold = 1.5;
    expect(RecipeSchema.safeParse(bad).success).toBe(false);
    const extra = structuredClone(RECIPES.paper) as unknown as { stages: { liver: Record<string, unknown> } };
    extra.stages.liver.stepsPerEpch = 3;
    expect(RecipeSchema.safeParse(extra).success).toBe(false);
    expect(RecipeSchema.safeParse(structuredClone(RECIPES.fast)).success).toBe(true);
  });
});

describe('paper recipe samples per volume (hand-counted on the phantom)', () => {
  const withTumor = phantom('a', 4); // 64 tumor voxels
  const smallTumor = phantom('b', 2); // 8 tumor voxels: fewer than the authors' 10
  const noTumor = phantom('c', 0);

  it('stage 1: all 30 liver slices plus a third of the 30 slices without liver', () => {
    const samples = sampleCase(withTumor, paper('localize', [16, 16]), createRng(5));
    expect(samples.filter((s) => s.kind === 'liver')).toHaveLength(30);
    const background = samples.filter((s) => s.kind === 'background').map((s) => s.origin[2]);
    expect(background).toHaveLength(10);
    for (const z of background) expect(z < 15 || z > 44).toBe(true);
    expect(countSamples(withTumor, paper('localize', [16, 16]))).toBe(40);
    // fast: a third as many slices without liver as with (30 / 3 = 10 as well here); on a case with 12
    // liver slices the two differ: see the next case
  });

  it('stage 1: the share is of the slices without liver, not of the liver slices', () => {
    // liver only on 13 slices (z 20..32): 47 without -> paper round(15.67) = 16; fast round(13 / 3) = 4
    const c = phantom('d', 0);
    for (let k = 0; k < 60; k++) {
      if (k >= 20 && k <= 32) continue;
      c.labels.fill(0, k * 40 * 36, (k + 1) * 40 * 36);
    }
    expect(countSamples(c, paper('localize', [16, 16]))).toBe(13 + 16);
    expect(countSamples(c, fast('localize', [16, 16]))).toBe(13 + 4);
  });

  it('liver: floor(depth / 10) * 4 random windows plus one every 25 slices', () => {
    // box z 15..44 + margin 10 -> 5..54, depth 50: 5 * 4 = 20 random; stride windows start at 0 and 18
    expect(strideWindowStarts(50, 32)).toEqual([0, 18]);
    const samples = sampleCase(withTumor, paper('liver', [32, 32, 32]), createRng(5));
    expect(samples).toHaveLength(22);
    expect(samples.slice(20).map((s) => s.origin[2])).toEqual([5, 5 + 18]);
    for (const s of samples) expect(s.origin[2] >= 5 && s.origin[2] <= 5 + 18).toBe(true);
    expect(countSamples(withTumor, paper('liver', [32, 32, 32]))).toBe(22);
    // the authors' stride windows (centres arange(16, depth - 16 + 25, 25), the last moved back to end
    // at the box's end), by hand: depth 32 -> [0]; 57 -> [0, 25]; 58 -> [0, 25, 26]; 100 -> [0, 25, 50, 68]
    expect(strideWindowStarts(32, 32)).toEqual([0]);
    expect(strideWindowStarts(57, 32)).toEqual([0, 25]);
    expect(strideWindowStarts(58, 32)).toEqual([0, 25, 26]);
    expect(strideWindowStarts(100, 32)).toEqual([0, 25, 50, 68]);
    // an explicit --per-case replaces the authors' count
    expect(countSamples(withTumor, { ...paper('liver', [32, 32, 32]), perCase: 3 })).toBe(3);
  });

  it('tumor: 300 patches centred on tumor plus 50 in the liver; volumes without (enough) tumor skipped', () => {
    const samples = sampleCase(withTumor, paper('tumor', [32, 32, 16]), createRng(5));
    expect(samples.filter((s) => s.kind === 'tumor')).toHaveLength(300);
    expect(samples.filter((s) => s.kind === 'liver')).toHaveLength(50);
    expect(countSamples(smallTumor, paper('tumor', [32, 32, 16]))).toBe(0);
    expect(countSamples(noTumor, paper('tumor', [32, 32, 16]))).toBe(0);
    // fast keeps such volumes (16 patches, all in the liver)
    expect(countSamples(noTumor, fast('tumor', [32, 32, 16]))).toBe(16);
    // jitter up to half a patch: tumor-centred patches spread further than fast's eighth of a patch
    const spread = (opts: SamplerOptions) => {
      const xs = sampleCase(withTumor, opts, createRng(9))
        .filter((s) => s.kind === 'tumor')
        .map((s) => s.origin[0]);
      return Math.max(...xs) - Math.min(...xs);
    };
    expect(spread(paper('tumor', [16, 16, 16]))).toBeGreaterThan(spread(fast('tumor', [16, 16, 16])) + 6);
  });
});

describe('an epoch is one pass over the samples', () => {
  const cases = new Map([
    ['a', phantom('a', 4)],
    ['c', phantom('c', 0, 1)],
  ]);
  const source = { get: async (id: string) => cases.get(id)! };

  it('yields floor(samples / batch) batches, each sample at most once, then ends', async () => {
    // 40 + 40 stage-1 samples, batch 6 -> 13 batches (2 left over)
    const seen = new Set<number>();
    let batches = 0;
    for await (const b of trainingBatches(source, ['a', 'c'], {
      ...paper('localize', [8, 8]),
      batchSize: 6,
      seed: 1,
      passes: 1,
    })) {
      expect(b.shape).toEqual([6, 8, 8, 1]);
      batches++;
      for (let i = 0; i < 6; i++) seen.add(Math.round(b.x[i * 64] * 100));
    }
    expect(batches).toBe(13);
    expect(seen.size).toBe(78); // no slice twice
    // endless without `passes`
    let endless = 0;
    for await (const _ of trainingBatches(source, ['a', 'c'], {
      ...paper('localize', [8, 8]),
      batchSize: 6,
      seed: 1,
    })) {
      if (++endless > 30) break;
    }
    expect(endless).toBe(31);
  });

  it('streams the same validation samples every time, all of them (40 + 40 slices in batches of 6)', async () => {
    const opts = { ...paper('localize', [8, 8]), batchSize: 6, seed: 4 };
    const collect = async () => {
      const out: number[] = [];
      for await (const b of validationStream(source, ['a', 'c'], opts)) out.push(...Array.from(b.x));
      return out;
    };
    const first = await collect();
    expect(first).toHaveLength(80 * 64);
    expect(await collect()).toEqual(first);
  });

  it('draws every tumor-stage sample of the pass once (the skipped volume gives none)', async () => {
    const kinds = new Map<string, number>();
    let n = 0;
    for await (const b of trainingBatches(source, ['a', 'c'], {
      ...paper('tumor', [16, 16, 16]),
      batchSize: 7,
      seed: 2,
      passes: 1,
    })) {
      n += b.shape[0];
      kinds.set('batches', (kinds.get('batches') ?? 0) + 1);
    }
    expect(n).toBe(350); // 350 / 7 = 50 batches, nothing left over
    expect(kinds.get('batches')).toBe(50);
  });
});
