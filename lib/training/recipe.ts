/**
 * Training recipes: named presets of the schedule and sampling of the three stages.
 *
 * - `paper`: the RA-UNet authors' recipe (Jin et al., Section III-I and IV; the authors' public code,
 *   github.com/RanSuLab/RAUNet-tumor-segmentation at commit 8856353, cited per value below and in
 *   docs/training.md "The paper recipe"). An epoch is one full pass over the stage's samples.
 * - `fast`: the project's earlier defaults (100 steps per epoch, small batches, fewer samples per case),
 *   kept for quick runs and for the demo-like schedules.
 *
 * Presets are plain data checked with zod when this module loads; explicit options (`raunet train
 * --epochs`, `--batch-size`, `--steps-per-epoch`, `--per-case`) override a preset's values.
 */
import { z } from 'zod';
import { InputError } from '../errors.ts';

export const RECIPE_NAMES = ['paper', 'fast'] as const;
export type RecipeName = (typeof RECIPE_NAMES)[number];

const fraction = z.number().min(0).max(1);

/** How the stage's sampler draws from a case (the `SamplerOptions` of the same names). */
export const RecipeSamplerSchema = z.strictObject({
  perCase: z.number().int().positive().optional(),
  negativeRatio: z.number().nonnegative().optional(),
  negativeShare: fraction.optional(),
  liverWindows: z.enum(['perCase', 'authors']).optional(),
  tumorFraction: fraction.optional(),
  jitter: z.number().nonnegative().max(2).optional(),
  minTumorVoxels: z.number().int().nonnegative().optional(),
});

export const StageRecipeSchema = z.strictObject({
  epochs: z.number().int().positive(),
  batchSize: z.number().int().positive(),
  /** Training steps per epoch; null: one full pass over the stage's training samples. */
  stepsPerEpoch: z.number().int().positive().nullable(),
  /** Epochs without a validation-loss improvement before the learning rate is cut x0.1. */
  plateauPatience: z.number().int().positive(),
  /** Probability threshold the stage's models are meant to be segmented with (recorded in the manifest). */
  threshold: fraction,
  sampler: RecipeSamplerSchema,
});
export type StageRecipe = z.infer<typeof StageRecipeSchema>;

export const RecipeSchema = z.strictObject({
  name: z.enum(RECIPE_NAMES),
  stages: z.strictObject({
    localize: StageRecipeSchema,
    liver: StageRecipeSchema,
    tumor: StageRecipeSchema,
    brats: StageRecipeSchema,
  }),
});
export type Recipe = z.infer<typeof RecipeSchema>;

/*
 * Sources of the paper preset (A = the authors' code at commit 8856353; P = the paper text):
 * - epochs 50: P Section III-I ("50 and 50" epochs per fold for liver and tumor); A train.py:216 (liver, 50);
 *   A trains tumor for 60 (train.py:220) and stage 1 for 60 (default, train.py:60) or 100 (train.py:212).
 * - batch 90 / 2 / 6: A train.py:60 (slices), train.py:216 (liver), train.py:220 (tumor).
 * - epoch = a pass: A train.py:92, 142, 199 (steps_per_epoch = num_training // batch_size).
 * - patience 20 / 15 / 15: A train.py:83 (slices), train.py:216 and 220 (liver, tumor); P Section III-I
 *   says 20 for all.
 * - stage-1 slices: P Section IV-A ("all the slices which have liver ... together with 1/3 of those
 *   randomly picked slices without liver"); the slice extraction is not in A.
 * - liver windows: A utils/extract_patches.py:214 (int(depth / 20 * 2) * 4 random 32-slice windows per
 *   box) and :232-246 (plus windows every 25 slices); the box margin 10: A preprocess.py:101-111.
 * - tumor patches: A preprocess.py:56-57 (300 tumor-centred + 50 liver-centred per volume), :43-44
 *   (volumes without a tumor label skipped), utils/extract_patches.py:138 (volumes with fewer than 10
 *   tumor voxels skipped), :159-161 (centre jittered by up to half the patch per axis); P Section IV-C
 *   draws 150 per volume.
 * - thresholds 0.5 / 0.6 / 0.5: A inferlivertumor.py:30 (stage 1), :54 (liver), :356 (tumor).
 * - brats (whole brain tumour, P Section IV-E): 400 tumour patches of 64x64x64 per subject; "the other
 *   hyper parameter settings are the same with those in liver tumor segmentation", so the tumor stage's
 *   epochs, batch, patience and threshold. P says "tumour patches" only: every patch is drawn around the
 *   tumour (the jitter of the tumor stage moves the patch by up to half its size, so the patches still
 *   show brain around the tumour).
 */
const PAPER: Recipe = {
  name: 'paper',
  stages: {
    localize: {
      epochs: 50,
      batchSize: 90,
      stepsPerEpoch: null,
      plateauPatience: 20,
      threshold: 0.5,
      sampler: { negativeShare: 1 / 3 },
    },
    liver: {
      epochs: 50,
      batchSize: 2,
      stepsPerEpoch: null,
      plateauPatience: 15,
      threshold: 0.6,
      sampler: { liverWindows: 'authors' },
    },
    tumor: {
      epochs: 50,
      batchSize: 6,
      stepsPerEpoch: null,
      plateauPatience: 15,
      threshold: 0.5,
      sampler: { perCase: 350, tumorFraction: 300 / 350, jitter: 1, minTumorVoxels: 10 },
    },
    brats: {
      epochs: 50,
      batchSize: 6,
      stepsPerEpoch: null,
      plateauPatience: 15,
      threshold: 0.5,
      sampler: { perCase: 400, tumorFraction: 1, jitter: 1 },
    },
  },
};

/** The defaults before recipes existed (what `trainStage` did with no options). */
const FAST: Recipe = {
  name: 'fast',
  stages: {
    localize: {
      epochs: 50,
      batchSize: 8,
      stepsPerEpoch: 100,
      plateauPatience: 20,
      threshold: 0.5,
      sampler: {},
    },
    liver: { epochs: 50, batchSize: 1, stepsPerEpoch: 100, plateauPatience: 20, threshold: 0.5, sampler: {} },
    tumor: { epochs: 50, batchSize: 2, stepsPerEpoch: 100, plateauPatience: 20, threshold: 0.5, sampler: {} },
    // short brain runs: 16 patches per subject, half on the tumour, half anywhere in the brain
    brats: {
      epochs: 30,
      batchSize: 2,
      stepsPerEpoch: 50,
      plateauPatience: 10,
      threshold: 0.5,
      sampler: { perCase: 16, tumorFraction: 0.5, jitter: 1 },
    },
  },
};

export const RECIPES: Readonly<Record<RecipeName, Recipe>> = {
  paper: RecipeSchema.parse(PAPER),
  fast: RecipeSchema.parse(FAST),
};

/** The recipe `raunet train` uses when none is named. */
export const DEFAULT_RECIPE: RecipeName = 'paper';

/** A recipe by name (`--recipe`); an InputError naming the choices otherwise. */
export function parseRecipeName(text: string): RecipeName {
  const r = z.enum(RECIPE_NAMES).safeParse(text);
  if (!r.success) {
    throw new InputError(`--recipe must be one of ${RECIPE_NAMES.join(', ')}, got "${text}"`, 'BAD_ARGUMENT');
  }
  return r.data;
}
