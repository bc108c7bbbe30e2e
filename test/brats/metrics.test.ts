/**
 * BraTS metrics against hand-computed values: Dice, sensitivity, specificity (over the brain or the
 * grid), HD95 in mm on an anisotropic grid, the empty-mask conventions, the three regions in both label
 * conventions, mean/median/std; and `raunet evaluate --task brats` on hand-built subjects.
 */
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BRATS_MODALITIES } from '../../lib/brats/types.ts';
import { InputError } from '../../lib/errors.ts';
import {
  BRATS_HD95_MAX_MM,
  bratsRegionMetrics,
  evaluateBratsSubject,
  summaryStats,
} from '../../lib/metrics/brats.ts';
import { writeNifti } from '../../lib/volume/nifti.ts';
import { createVolume, scalingAffine, type Vec3 } from '../../lib/volume/volume.ts';
import { runCli } from '../cli.ts';

const DIMS: Vec3 = [6, 4, 4];
const N = 96;
const at = (i: number, j: number, k: number) => i + 6 * (j + 4 * k);
const mask = (voxels: Vec3[]) => {
  const m = new Uint8Array(N);
  for (const [i, j, k] of voxels) m[at(i, j, k)] = 1;
  return m;
};

// R: one voxel at the origin; P: that voxel and three more along x, y and z.
const R = mask([[0, 0, 0]]);
const P = mask([
  [0, 0, 0],
  [4, 0, 0],
  [0, 1, 0],
  [0, 0, 1],
]);

describe('bratsRegionMetrics', () => {
  it('Dice, sensitivity, specificity over the grid and over a brain mask, by hand', () => {
    const m = bratsRegionMetrics(P, R, DIMS, [1, 1, 1]);
    expect(m.dice).toBeCloseTo((2 * 1) / (4 + 1), 12);
    expect(m.sensitivity).toBe(1);
    // negatives 96 - 1 = 95, false positives 3
    expect(m.specificity).toBeCloseTo(92 / 95, 12);
    const brain = new Uint8Array(N).fill(1);
    brain[at(4, 0, 0)] = 0;
    brain[at(5, 3, 3)] = 0;
    // outside the brain two voxels drop from the negatives (93 left), one of them a false positive (2 left):
    // true negatives 93 - 2 = 91
    expect(bratsRegionMetrics(P, R, DIMS, [1, 1, 1], { brain }).specificity).toBeCloseTo(91 / 93, 12);
    expect(bratsRegionMetrics(R, P, DIMS, [1, 1, 1]).sensitivity).toBeCloseTo(1 / 4, 12);
  });

  it('HD95 in mm on anisotropic spacing', () => {
    // Spacing 1 x 2 x 3 mm. Every voxel of these tiny masks is surface. P -> R: 0, 4 x 1, 1 x 2, 1 x 3 =
    // 0, 4, 2, 3 mm; R -> P: 0. Pooled, sorted: 0, 0, 2, 3, 4; rank 0.95 x 4 = 3.8 -> 3 + 0.8 x (4 - 3) = 3.8.
    expect(bratsRegionMetrics(P, R, DIMS, [1, 2, 3]).hd95).toBeCloseTo(3.8, 10);
    // Isotropic 1 mm: 0, 4, 1, 1 and 0 -> 0, 0, 1, 1, 4; 1 + 0.8 x 3 = 3.4.
    expect(bratsRegionMetrics(P, R, DIMS, [1, 1, 1]).hd95).toBeCloseTo(3.4, 10);
  });

  it('empty masks: both empty dice 1 and hd95 0; one empty dice 0 and hd95 the stated maximum', () => {
    const empty = new Uint8Array(N);
    expect(bratsRegionMetrics(empty, empty, DIMS, [1, 1, 1])).toMatchObject({
      dice: 1,
      sensitivity: 1,
      specificity: 1,
      hd95: 0,
    });
    expect(BRATS_HD95_MAX_MM).toBeCloseTo(Math.hypot(240, 240, 155), 2);
    const missed = bratsRegionMetrics(empty, R, DIMS, [1, 2, 3]);
    expect(missed).toMatchObject({ dice: 0, sensitivity: 0, specificity: 1, hd95: 373.13 });
    const spurious = bratsRegionMetrics(P, empty, DIMS, [1, 1, 1], { hd95Max: 200 });
    expect(spurious).toMatchObject({ dice: 0, sensitivity: 1, hd95: 200 });
    expect(spurious.specificity).toBeCloseTo(92 / 96, 12);
  });
});

describe('evaluateBratsSubject', () => {
  const spacing: Vec3 = [1, 1, 1];
  const vol = (labels: number[]) => createVolume(Uint8Array.from(labels), [labels.length, 1, 1], spacing);
  it('scores whole, core and enhancing, each map in its own convention', () => {
    //           voxel: 0  1  2  3  4  5  6  7
    const ref = vol([0, 1, 2, 4, 4, 2, 0, 0]); // BraTS <= 2020
    const pred = vol([0, 1, 1, 3, 0, 2, 2, 0]); // BraTS 2021: 3 = ET
    const r = evaluateBratsSubject(
      pred,
      ref,
      'x',
      { pred: 'brats-3', ref: 'brats-4' },
      {
        regions: ['whole', 'core', 'enhancing'],
      },
    );
    // whole: P = {1,2,3,5,6}, R = {1,2,3,4,5}, overlap 4 -> dice 8/10, sensitivity 4/5, specificity 2/3
    expect(r.whole!.dice).toBeCloseTo(0.8, 12);
    expect(r.whole!.sensitivity).toBeCloseTo(0.8, 12);
    expect(r.whole!.specificity).toBeCloseTo(2 / 3, 12);
    // core: P = {1,2,3}, R = {1,3,4}, overlap 2 -> dice 4/6
    expect(r.core!.dice).toBeCloseTo(4 / 6, 12);
    // enhancing: P = {3}, R = {3,4} -> dice 2/3, sensitivity 1/2
    expect(r.enhancing!.dice).toBeCloseTo(2 / 3, 12);
    expect(r.enhancing!.sensitivity).toBeCloseTo(0.5, 12);
    expect(r.specificity_over).toBe('grid');
    expect(evaluateBratsSubject(pred, ref, 'x', { pred: 'brats-3', ref: 'brats-4' }).core).toBeUndefined();
  });

  it('refuses maps on different grids', () => {
    const a = createVolume(new Uint8Array(8), [8, 1, 1], spacing);
    const b = createVolume(new Uint8Array(8), [4, 2, 1], spacing);
    expect(() => evaluateBratsSubject(a, b, 'pair', { pred: 'brats-4', ref: 'brats-4' })).toThrow(InputError);
  });
});

describe('summaryStats', () => {
  it('mean, median and sample standard deviation', () => {
    const s = summaryStats([4, 1, 3, 2]);
    expect(s.mean).toBe(2.5);
    expect(s.median).toBe(2.5);
    // squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5, over n - 1 = 3
    expect(s.std).toBeCloseTo(Math.sqrt(5 / 3), 12);
    expect(summaryStats([7, 1, 4])).toMatchObject({ median: 4 });
    expect(summaryStats([5])).toEqual({ mean: 5, median: 5, std: null });
    expect(summaryStats([])).toEqual({ mean: null, median: null, std: null });
  });
});

describe('raunet evaluate --task brats', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'brats-evaluate-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const affine = scalingAffine([1, 2, 3]);
  const labels = (ones: Vec3[]) => createVolume(mask(ones), DIMS, [1, 2, 3], affine);

  async function subject(dir: string, id: string, seg: Vec3[]) {
    await mkdir(join(dir, id), { recursive: true });
    for (const m of BRATS_MODALITIES) {
      // brain: every voxel except the x = 5 column
      const data = Int16Array.from({ length: N }, (_, v) => (v % 6 === 5 ? 0 : 100));
      await writeNifti(join(dir, id, `${id}_${m}.nii.gz`), createVolume(data, DIMS, [1, 2, 3], affine));
    }
    await writeNifti(join(dir, id, `${id}_seg.nii.gz`), labels(seg));
  }

  const run = (args: string[]) => runCli(['evaluate', '--task', 'brats', ...args]);

  it('scores predictions against a BraTS dataset: specificity over the brain, Table IX aggregates', async () => {
    const ref = join(root, 'ref');
    await subject(ref, 'S1', [[0, 0, 0]]);
    await subject(ref, 'S2', [
      [1, 1, 1],
      [2, 1, 1],
    ]);
    const pred = join(root, 'pred');
    await mkdir(pred);
    // S1 predicted as P above (dice 0.4, hd95 3.8 mm on this 1 x 2 x 3 mm grid); S2 exactly (dice 1, hd95 0)
    await writeNifti(
      join(pred, 'S1_seg.nii.gz'),
      labels([
        [0, 0, 0],
        [4, 0, 0],
        [0, 1, 0],
        [0, 0, 1],
      ]),
    );
    await copyFile(join(ref, 'S2', 'S2_seg.nii.gz'), join(pred, 'S2.nii.gz'));
    const csv = join(root, 'out', 'brats.csv');
    const { code, out } = await run(['--pred', pred, '--ref', ref, '--json', '--csv', csv]);
    expect(code).toBe(0);
    const e = JSON.parse(out);
    expect(e.subjects.map((s: { id: string }) => s.id)).toEqual(['S1', 'S2']);
    const [s1, s2] = e.subjects;
    expect(s1.specificity_over).toBe('brain');
    expect(s1.whole.dice).toBeCloseTo(0.4, 12);
    expect(s1.whole.hd95).toBeCloseTo(3.8, 10);
    // brain = 96 - 16 (x = 5 column) = 80 voxels; negatives 79, false positives 3 (all inside the brain)
    expect(s1.whole.specificity).toBeCloseTo(76 / 79, 12);
    expect(s2.whole).toMatchObject({ dice: 1, sensitivity: 1, specificity: 1, hd95: 0 });
    expect(e.aggregate.whole.dice.mean).toBeCloseTo(0.7, 12);
    expect(e.aggregate.whole.dice.median).toBeCloseTo(0.7, 12);
    expect(e.aggregate.whole.dice.std).toBeCloseTo(Math.sqrt(2 * 0.3 ** 2), 12);
    expect(e.aggregate.whole.hd95.mean).toBeCloseTo(1.9, 10);
    const table = (await readFile(csv, 'utf8')).trim().split('\n');
    expect(table[0]).toBe('id,specificity_over,whole_dice,whole_sensitivity,whole_specificity,whole_hd95');
    expect(table[2]).toBe('S2,brain,1,1,1,0');
  });

  it('against plain label files: specificity over the grid; bad options exit 2', async () => {
    const refFiles = join(root, 'ref-files');
    await mkdir(refFiles);
    await copyFile(join(root, 'ref', 'S1', 'S1_seg.nii.gz'), join(refFiles, 'S1_seg.nii.gz'));
    const { code, out } = await run(['--pred', join(root, 'pred'), '--ref', refFiles, '--json']);
    expect(code).toBe(0);
    const e = JSON.parse(out);
    expect(e.subjects).toHaveLength(1);
    expect(e.subjects[0].specificity_over).toBe('grid');
    expect(e.subjects[0].whole.specificity).toBeCloseTo(92 / 95, 12);
    const text = await run(['--pred', join(root, 'pred'), '--ref', refFiles]);
    expect(text.out).toContain('Whole tumour (WT) (1 subjects)');
    expect((await run(['--pred', join(root, 'pred'), '--ref', refFiles, '--regions', 'necrosis'])).code).toBe(
      2,
    );
    expect(
      (await run(['--pred', join(root, 'pred'), '--ref', refFiles, '--ref-label', 'liver=5'])).code,
    ).toBe(2);
    // a prediction with a label BraTS does not have: exit 2, one line naming the file
    const badPred = join(root, 'bad-pred');
    await mkdir(badPred);
    await writeNifti(
      join(badPred, 'S1.nii.gz'),
      createVolume(new Uint8Array(N).fill(7), DIMS, [1, 2, 3], affine),
    );
    const bad = await run(['--pred', badPred, '--ref', refFiles]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain(join(badPred, 'S1.nii.gz'));
    expect(bad.err).toContain('label values other than BraTS');
  });
});
