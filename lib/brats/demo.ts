/**
 * The brain-tumour demo (`raunet demo --task brats`): a small RA-UNet for four-channel brain MRI
 * (`models/demo-brain/brats/fold-0/`) trained on brain phantoms by `raunet demo --task brats --train`,
 * scored on held-out phantoms (seeds disjoint from the training ones). One configuration serves both, so
 * the held-out phantoms always match what the model was trained on.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../errors.ts';
import { bratsRegionMetrics } from '../metrics/brats.ts';
import { OutputBatch, prepareOutputFolder, releaseOutputFolder } from '../output/safe-output.ts';
import { generateBrainPhantom } from '../phantom/brain.ts';
import { BRAIN_MANIFEST, writeBrainPhantomSet } from '../phantom/brain-set.ts';
import { caseSeed } from '../phantom/set.ts';
import type { FoldResult } from '../training/train-stage.ts';
import { encodeNifti } from '../volume/nifti.ts';
import { createVolume, type Vec3 } from '../volume/volume.ts';
import { renderBratsPreviewPng } from './preview.ts';
import { buildBratsReport } from './report.ts';
import { type BratsModel, segmentBrainTumour } from './segment.ts';
import { prepareBratsInput } from './segment-input.ts';
import { subjectTarget } from './targets.ts';
import { trainBrats } from './train.ts';
import type { BratsSubject } from './types.ts';

/**
 * Phantoms of 64x64x48 voxels of 3 mm (the head shrinks to fit 192x192x144 mm), skull stripped as BraTS;
 * a 1/8-width RA-UNet on 64x64x32 patches (no side is 32 on all three axes: see the liver demo's note on
 * batch normalisation of a one-voxel bottleneck). The schedule is what fits a contended 2-core machine:
 * a 64x64x32 four-channel step of two patches took 9 s there (wasm backend).
 */
export const BRAIN_DEMO = {
  dims: [64, 64, 48] as Vec3,
  spacing: [3, 3, 3] as Vec3,
  trainSeed: 1,
  trainSubjects: 16,
  /** Held-out subject k has seed `caseSeed(testSeed, k)`, never a training seed (tested). */
  testSeed: 8_000_001,
  testSubjects: 3,
  seed: 1,
  patch: [64, 64, 32] as Vec3,
  width: 0.125,
  folds: 1,
  epochs: 12,
  stepsPerEpoch: 20,
  batchSize: 2,
  /** Patches per subject; the fast recipe centres half on the tumour, half anywhere in the brain. */
  perCase: 8,
  plateauPatience: 4,
  bnBatches: 4,
  note:
    'Demonstration model: a reduced-width brain-tumour RA-UNet trained on synthetic brain phantoms by ' +
    '`raunet demo --task brats --train`. For trying the pipeline on phantoms only; not trained on, nor valid for, clinical MRI.',
} as const;

/** Seed of held-out brain phantom k. */
export function heldOutBrainSeed(k: number): number {
  return caseSeed(BRAIN_DEMO.testSeed, k);
}

/** Seed of training brain phantom k (as `writeBrainPhantomSet` derives it). */
export function trainingBrainSeed(k: number): number {
  return caseSeed(BRAIN_DEMO.trainSeed, k);
}

/** Write the training phantoms to `dir` unless a complete set of the same parameters is there. */
export async function prepareBrainDemoPhantoms(
  dir: string,
  log: (line: string) => void = () => {},
): Promise<void> {
  const want = { seed: BRAIN_DEMO.trainSeed, count: BRAIN_DEMO.trainSubjects, dims: [...BRAIN_DEMO.dims] };
  try {
    const have = JSON.parse(await readFile(join(dir, BRAIN_MANIFEST), 'utf8')) as Record<string, unknown>;
    if (
      have.seed === want.seed &&
      have.count === want.count &&
      JSON.stringify(have.dims) === JSON.stringify(want.dims)
    ) {
      log(`using the ${want.count} training brain phantoms already in ${dir}`);
      return;
    }
  } catch {
    // no (readable) set there yet
  }
  log(`writing ${want.count} training brain phantoms to ${dir}`);
  await writeBrainPhantomSet(dir, BRAIN_DEMO.trainSubjects, BRAIN_DEMO.trainSeed, {
    dims: BRAIN_DEMO.dims,
    spacing: BRAIN_DEMO.spacing,
    skullStripped: true,
    overwrite: true,
  });
}

export interface BrainDemoTrainOptions {
  /** Scratch folder for the phantoms. */
  work: string;
  /** Models root (`models/demo-brain`). */
  out: string;
  resume?: boolean;
  signal?: AbortSignal;
  log?: (line: string) => void;
  /** Scale the epoch count (tests); default 1. */
  epochScale?: number;
}

/** Reproduce the demo brain model: training phantoms, then `trainBrats` with the demo's schedule. */
export async function trainBrainDemoModels(opts: BrainDemoTrainOptions): Promise<FoldResult[]> {
  if (!opts.resume && existsSync(join(opts.out, 'brats', 'fold-0', 'manifest.json'))) {
    throw new InputError(
      'already holds a trained demo brain model; train into another folder or continue with --resume',
      'BAD_ARGUMENT',
      opts.out,
    );
  }
  const data = join(opts.work, 'brain-phantoms');
  await prepareBrainDemoPhantoms(data, opts.log);
  const d = BRAIN_DEMO;
  return trainBrats({
    data,
    out: opts.out,
    recipe: 'fast',
    folds: d.folds,
    epochs: Math.max(1, Math.round(d.epochs * (opts.epochScale ?? 1))),
    stepsPerEpoch: d.stepsPerEpoch,
    batchSize: d.batchSize,
    width: d.width,
    patch: [...d.patch],
    perCase: d.perCase,
    plateauPatience: d.plateauPatience,
    bnBatches: d.bnBatches,
    seed: d.seed,
    resume: opts.resume,
    note: d.note,
    signal: opts.signal,
    log: opts.log,
  });
}

/** One held-out subject's score. */
export interface BrainDemoCase {
  subject: string;
  seed: number;
  dice: number;
  sensitivity: number;
  specificity: number;
  /** Hausdorff 95 in mm (BraTS conventions for empty masks, `lib/metrics/brats.ts`). */
  hd95: number;
  truthMl: number;
  predictedMl: number;
  seconds: number;
}

export interface BrainDemoResult {
  cases: BrainDemoCase[];
  meanDice: number;
  minDice: number;
}

/** A held-out phantom as a subject (skull stripped, the demo grid). */
export function heldOutBrainSubject(k: number): BratsSubject {
  const seed = heldOutBrainSeed(k);
  const p = generateBrainPhantom({
    seed,
    dims: BRAIN_DEMO.dims,
    spacing: BRAIN_DEMO.spacing,
    skullStripped: true,
  });
  // rounded as `writeBrainPhantomSet` stores the training phantoms (int16)
  const channels = Object.fromEntries(
    Object.entries(p.channels).map(([m, data]) => [m, data.map((v) => Math.round(v))]),
  ) as BratsSubject['channels'];
  return {
    id: `brain-phantom-${k}`,
    dir: `phantom seed ${seed}`,
    grid: p.grid,
    channels,
    labels: p.labels,
    labelConvention: 'brats-4',
  };
}

/**
 * Segment the held-out phantoms, write each one's label map, truth, report and preview to `out`, and
 * score the whole tumour (Dice per subject).
 */
export async function runBrainDemo(opts: {
  models: readonly BratsModel[];
  out: string;
  subjects?: number;
  log?: (line: string) => void;
}): Promise<BrainDemoResult> {
  const log = opts.log ?? (() => {});
  const folder = await prepareOutputFolder(opts.out);
  const cases: BrainDemoCase[] = [];
  try {
    for (let k = 0; k < (opts.subjects ?? BRAIN_DEMO.testSubjects); k++) {
      const t0 = performance.now();
      const subject = heldOutBrainSubject(k);
      const input = prepareBratsInput(subject);
      const r = await segmentBrainTumour(input.channels, input.brain, input.dims, opts.models);
      const truth = subjectTarget(subject, 'whole');
      const seconds = (performance.now() - t0) / 1000;
      const report = buildBratsReport({
        subject: subject.id,
        input: subject.dir,
        dims: input.dims,
        spacing: input.spacing,
        affine: subject.grid.affine,
        raw: subject.channels,
        mask: r.mask,
        brain: input.brain,
        threshold: r.threshold,
        tta: false,
        largestComponent: false,
        models: opts.models,
        seconds,
      });
      const grid = (data: Uint8Array) => createVolume(data, input.dims, input.spacing, subject.grid.affine);
      const batch = new OutputBatch({ overwrite: true });
      await batch.write(
        join(opts.out, `${subject.id}_seg.nii.gz`),
        encodeNifti(grid(r.mask), { gzip: true }),
      );
      await batch.write(
        join(opts.out, `${subject.id}_truth.nii.gz`),
        encodeNifti(grid(truth), { gzip: true }),
      );
      await batch.write(join(opts.out, `${subject.id}_report.json`), `${JSON.stringify(report, null, 2)}\n`);
      await batch.write(
        join(opts.out, `${subject.id}_preview.png`),
        renderBratsPreviewPng(subject.channels.flair, r.mask, input.dims, input.spacing, {
          header: [`${subject.id}: whole tumour ${report.tumour.volumeMl.toFixed(1)} mL`],
          demoModels: report.demoModels,
        }),
      );
      await batch.commit();
      const mm3 = input.spacing[0] * input.spacing[1] * input.spacing[2];
      // Table IX's columns; specificity over the brain
      const m = bratsRegionMetrics(r.mask, truth, input.dims, input.spacing, { brain: input.brain });
      const dice = m.dice;
      const truthMl = (truth.reduce((a, b) => a + b, 0) * mm3) / 1000;
      cases.push({
        subject: subject.id,
        seed: heldOutBrainSeed(k),
        dice,
        sensitivity: m.sensitivity,
        specificity: m.specificity,
        hd95: m.hd95,
        truthMl,
        predictedMl: report.tumour.volumeMl,
        seconds,
      });
      log(
        `${subject.id}: whole-tumour Dice ${dice.toFixed(3)} (${truthMl.toFixed(1)} mL true, ${report.tumour.volumeMl.toFixed(1)} mL found, ${seconds.toFixed(1)} s)`,
      );
    }
  } finally {
    await releaseOutputFolder(folder);
  }
  const dices = cases.map((c) => c.dice);
  return {
    cases,
    meanDice: dices.reduce((a, b) => a + b, 0) / Math.max(1, dices.length),
    minDice: Math.min(...dices),
  };
}
