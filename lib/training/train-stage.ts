/**
 * Train one RA-UNet stage on a dataset with case-level K-fold cross-validation (paper Section III-I).
 *
 * For each fold: split the cases (`kfold.ts`), stream training batches and a fixed validation set from
 * the stage's sampler (`samplers.ts`), and run `trainModel` (Adam, Dice loss, LR x0.1 on a plateau of
 * the validation Dice). The best model by validation Dice is saved with its manifest into
 * `<out>/<stage>/fold-<k>/` (`model.json`, `weights.bin`, `manifest.json`, and `model.onnx`), every
 * epoch appends one JSON line to `metrics.jsonl` there, and `train-state.json` records how far training
 * got so that `resume` continues from the saved model and the epoch count. An aborted run (Ctrl-C) stops
 * after the current step and keeps the best checkpoint.
 */
import { appendFileSync, renameSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { InputError } from '../errors.ts';
import { ONNX_FILE } from '../inference/load.ts';
import { saveOnnx } from '../inference/save-onnx.ts';
import { ARCHS, type ArchName, buildRAUNet } from '../model/archs.ts';
import { loadModel, MODEL_STAGES, type ModelManifest, type ModelStage, saveModel } from '../model/storage.ts';
import { replaceModelFiles } from '../output/model-folder.ts';
import { LIVER_PATCH, LOCALIZE_SLICE, TUMOR_PATCH } from '../pipeline/stages.ts';
import { CANONICAL_ORIENTATION } from '../volume/orientation.ts';
import { writeCurvesPng, writeRunCurvesPng } from './curves.ts';
import { CaseStore } from './dataset.ts';
import { kFoldSplit } from './kfold.ts';
import { foregroundFraction, initialiseOutputBias } from './output-prior.ts';
import { deriveSeed } from './random.ts';
import { DEFAULT_RECIPE, RECIPES, type RecipeName, type StageRecipe } from './recipe.ts';
import { countSamples, type SamplerOptions, trainingBatches, validationStream } from './samplers.ts';
import { type Batch, type EpochLog, trainModel } from './trainer.ts';

/**
 * Stage defaults: architecture and folds (the patch comes from the arch; batch size, epochs, schedule and
 * sampling from the recipe, `recipe.ts`).
 */
export const STAGE_DEFAULTS: Record<ModelStage, { arch: ArchName; folds: number }> = {
  localize: { arch: 'raunet1', folds: 1 },
  liver: { arch: 'raunet2', folds: 5 },
  tumor: { arch: 'raunet2', folds: 5 },
  brats: { arch: 'raunet2-brain', folds: 5 },
};

/** The sampler settings of a stage: the recipe's, the patch and batch, and the run's overrides. */
export type StageSampling = SamplerOptions & { batchSize: number };

/**
 * Where a stage's samples come from, by case id: the liver stages' `CaseStore` and samplers
 * (`liverStageSamples`), or the brain-tumour subjects (`lib/brats/train.ts`). Batches are [n, ...spatial,
 * channels] inputs with [n, ...spatial, 1] binary targets.
 */
export interface StageSamples {
  /** Case (subject) ids, the unit of the K-fold split. */
  readonly ids: readonly string[];
  /** Samples one case gives for training, or for validation (`valPerCase`). */
  count(id: string, use: 'train' | 'validation'): Promise<number>;
  /** Shuffled training batches from `ids` (endless, or `passes` rounds over every case's samples). */
  training(ids: readonly string[], opts: { seed: number; passes?: number }): AsyncIterable<Batch>;
  /** The fixed validation samples of `ids` (the same for a seed), in batches. */
  validation(ids: readonly string[], seed: number): AsyncIterable<Batch>;
}

/** Opens a stage's samples for a run: the dataset folder and the resolved sampler settings. */
export type StageSamplesFactory = (
  data: string,
  sampling: { train: StageSampling; validation: StageSampling },
  cacheSize: number,
) => Promise<StageSamples>;

/** The liver stages' samples: prepared CT cases (`CaseStore`) cut by `samplers.ts`. */
export const liverStageSamples: StageSamplesFactory = async (data, sampling, cacheSize) => {
  const store = await CaseStore.open(data, { cacheSize });
  return {
    ids: store.ids,
    count: async (id, use) =>
      countSamples(await store.get(id), sampling[use === 'train' ? 'train' : 'validation']),
    training: (ids, o) => trainingBatches(store, ids, { ...sampling.train, ...o }),
    validation: (ids, seed) => validationStream(store, ids, { ...sampling.validation, seed }),
  };
};

export interface TrainStageOptions {
  /** Dataset folder (LiTS layout; BraTS subject folders for `brats`). */
  data: string;
  stage: ModelStage;
  /**
   * Where the samples come from (default: `liverStageSamples`); `lib/brats/train.ts` passes the
   * brain-tumour subjects' for the `brats` stage.
   */
  samples?: StageSamplesFactory;
  /** Models root: the stage is written to `<out>/<stage>/fold-<k>/`. */
  out: string;
  /** Number of folds (default 1 for localize, 5 otherwise). */
  folds?: number;
  /** Train only this fold (default: all folds one after the other). */
  fold?: number;
  /**
   * The schedule and sampling preset (default `paper`, `recipe.ts`); the options below override its
   * values.
   */
  recipe?: RecipeName;
  /** Total epochs per fold (default: the recipe's, 50). */
  epochs?: number;
  /** Training steps per epoch over endless batches (default: the recipe's; paper: one pass over the samples). */
  stepsPerEpoch?: number;
  batchSize?: number;
  /** Gradient accumulation: micro-batches of at most this many samples per Adam step (default: the batch). */
  microBatch?: number;
  /** Width multiplier of the network (1 = the paper's widths). */
  width?: number;
  /** Network input size x-y(-z): 2 numbers for localize, 3 otherwise (default: the arch's input shape). */
  patch?: number[];
  seed?: number;
  resume?: boolean;
  /** Samples per case (see `SamplerOptions.perCase`); validation uses `valPerCase` (default the same). */
  perCase?: number;
  valPerCase?: number;
  initialLr?: number;
  plateauPatience?: number;
  /**
   * Start a fresh model's output at the foreground frequency of the training samples (output bias =
   * logit of it, `output-prior.ts`); default true.
   */
  outputPrior?: boolean;
  /** Random mirroring of the training samples along every spatial axis (default false, as the paper). */
  mirror?: boolean;
  /** Training batches the batch-norm statistics are recomputed from before each validation (default 16). */
  bnBatches?: number;
  /** Free text stored in the manifests (for example what the model is for). */
  note?: string;
  /** The brats stage's input normalisation, recorded in the manifests (`trainedOn.normalisation`). */
  normalisation?: 'minmax' | 'zscore';
  signal?: AbortSignal;
  /** Progress lines (the CLI prints them on stderr). */
  log?: (line: string) => void;
  /** Called after every epoch (the CLI draws its progress bar from it). */
  onEpoch?: (fold: number, epoch: number, epochs: number, line: MetricsLine) => void;
  /** Called when training step `step` (1-based) of an epoch starts (the CLI's progress bar). */
  onStep?: (fold: number, epoch: number, step: number, steps: number) => void;
  /**
   * Awaited after every epoch's records (`train-state.json`, `metrics.jsonl`, the best checkpoint) are
   * on disk: the fold folder is then a consistent state to resume from (the cloud copies it to S3).
   */
  afterEpoch?: (fold: number, epoch: number, dir: string) => Promise<void>;
  /** Cases kept prepared in memory (default 8). */
  cacheSize?: number;
}

/** One line of `metrics.jsonl`. */
export interface MetricsLine {
  stage: ModelStage;
  fold: number;
  /** 1-based epoch number, counted across resumed runs. */
  epoch: number;
  loss: number;
  valLoss: number;
  valDice: number;
  lr: number;
  /** Best validation Dice so far and its epoch (the saved checkpoint). */
  best: number;
  bestEpoch: number;
  steps: number;
  seconds: number;
  time: string;
}

/** What `train-state.json` holds, to resume. */
export interface TrainState {
  stage: ModelStage;
  fold: number;
  folds: number;
  seed: number;
  arch: ArchName;
  width: number;
  inputShape: number[];
  epochsDone: number;
  bestDice: number;
  bestEpoch: number;
  lr: number;
  train: string[];
  validation: string[];
  /** Trained with random mirroring (absent in states written before the option existed: false). */
  mirror?: boolean;
  /** The recipe (absent in states written before recipes existed: `fast`, the defaults of then). */
  recipe?: RecipeName;
  /** The brats stage's input normalisation (absent in brats states written before it was recorded: minmax). */
  normalisation?: 'minmax' | 'zscore';
}

/** The normalisation a saved fold was trained with: recorded, or minmax for a brats fold that predates it. */
function savedNormalisation(state: TrainState): TrainState['normalisation'] {
  return state.normalisation ?? (state.stage === 'brats' ? 'minmax' : undefined);
}

export interface FoldResult {
  fold: number;
  dir: string;
  epochsDone: number;
  bestDice: number;
  bestEpoch: number;
  aborted: boolean;
}

const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );

/**
 * Refuse (before any work) a fold folder this run may not write: one that holds anything, unless the run
 * resumes and the folder has the `train-state.json` to resume from. An empty or missing folder is fine.
 */
async function checkFoldFolder(dir: string, resume: boolean | undefined): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code === 'ENOTDIR') throw new InputError('is a file, expected a fold folder', 'BAD_ARGUMENT', dir);
    throw e;
  }
  if (names.length === 0 || (resume && names.includes('train-state.json'))) return;
  if (names.includes('manifest.json') && !resume) {
    throw new InputError(
      'already holds a trained model; pass --resume to continue or choose another --out',
      'BAD_ARGUMENT',
      dir,
    );
  }
  const shown = names.slice(0, 3).join(', ') + (names.length > 3 ? ', ...' : '');
  throw new InputError(
    resume
      ? `holds files (${shown}) but no train-state.json to resume from; choose another --out`
      : `already holds files of an earlier run (${shown}); pass --resume to continue it or choose another --out`,
    'BAD_ARGUMENT',
    dir,
  );
}

/** Write the state through a temporary file and a rename, so a crash never leaves half a file. */
function writeStateSync(path: string, state: TrainState): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(tmp, path);
}

/**
 * Export the checkpoint to `model.onnx` beside it. A failed export is not fatal (the tfjs model is
 * saved and the pipeline can run it), but an older `model.onnx` is removed so that it never stands in
 * for a newer checkpoint.
 */
async function writeOnnx(model: tf.LayersModel, dir: string, log: (line: string) => void): Promise<void> {
  try {
    await saveOnnx(model, dir);
  } catch (e) {
    await rm(join(dir, ONNX_FILE), { force: true });
    log(
      `warning: model.onnx not written (${e instanceof Error ? e.message : String(e)}); the tfjs model is saved`,
    );
  }
}

const PAPER_PATCH: Record<ModelStage, readonly number[]> = {
  localize: LOCALIZE_SLICE,
  liver: LIVER_PATCH,
  tumor: TUMOR_PATCH,
  brats: [64, 64, 64], // Section IV-E: 64x64x64 patches of the four modalities
};

/**
 * Resolve the network input: x-y(-z) patch (default: the stage's size in the paper, which for the tumor
 * stage differs from the architecture's default input) -> the tensor shape [...spatial slowest first,
 * channels].
 */
export function stagePatch(
  stage: ModelStage,
  arch: ArchName,
  patch?: number[],
): { patch: number[]; inputShape: number[] } {
  const spec = ARCHS[arch];
  const rank = stage === 'localize' ? 2 : 3;
  if (spec.dims !== rank)
    throw new InputError(`arch ${arch} is ${spec.dims}D, stage ${stage} needs ${rank}D`);
  if (patch) {
    if (patch.length !== rank || patch.some((v) => !Number.isInteger(v) || v < 1)) {
      throw new InputError(
        `--patch for stage ${stage} needs ${rank} positive integers (x-y${rank === 3 ? '-z' : ''})`,
      );
    }
    return { patch: [...patch], inputShape: [...[...patch].reverse(), spec.channels] };
  }
  // the paper's sizes: 256x256 slices, 224x224x32 liver windows, 128x128x32 tumor patches
  const paper = PAPER_PATCH[stage];
  return { patch: [...paper], inputShape: [...[...paper].reverse(), spec.channels] };
}

/** Train the folds of one stage. Resolves when every requested fold is done or training was aborted. */
export async function trainStage(opts: TrainStageOptions): Promise<FoldResult[]> {
  const stage = opts.stage;
  if (!MODEL_STAGES.includes(stage))
    throw new InputError(`unknown stage ${stage}; use ${MODEL_STAGES.join(', ')}`, 'BAD_ARGUMENT');
  const defaults = STAGE_DEFAULTS[stage];
  const folds = opts.folds ?? defaults.folds;
  const seed = opts.seed ?? 1;
  const width = opts.width ?? 1;
  const recipe = opts.recipe ?? DEFAULT_RECIPE;
  const plan: StageRecipe | undefined = RECIPES[recipe]?.stages[stage];
  if (!plan) throw new InputError(`unknown recipe ${recipe}`, 'BAD_ARGUMENT');
  const epochs = opts.epochs ?? plan.epochs;
  // a number: that many steps over endless batches; null: an epoch is one pass over the samples
  const fixedSteps = opts.stepsPerEpoch ?? plan.stepsPerEpoch;
  const batchSize = opts.batchSize ?? plan.batchSize;
  const microBatch = opts.microBatch ?? batchSize;
  const mirror = opts.mirror ?? false;
  for (const [name, v] of Object.entries({ epochs, stepsPerEpoch: fixedSteps ?? 1, batchSize, microBatch })) {
    if (!Number.isInteger(v) || v < 1) throw new InputError(`${name} must be a positive integer, got ${v}`);
  }
  if (!(width > 0)) throw new InputError(`width must be positive, got ${width}`);
  // Every fold folder this run writes is checked before the dataset is read, so that a run never trains
  // some folds and then stops at one it may not write, nor appends to an earlier run's metrics.jsonl.
  for (let k = 0; k < folds; k++) {
    if (opts.fold === undefined || opts.fold === k)
      await checkFoldFolder(join(opts.out, stage, `fold-${k}`), opts.resume);
  }
  const { patch, inputShape } = stagePatch(stage, defaults.arch, opts.patch);
  const log = opts.log ?? (() => {});
  const sampler: StageSampling = {
    ...plan.sampler,
    stage: stage as StageSampling['stage'], // the liver samplers' stages; the brats factory reads its own
    patch,
    batchSize,
    perCase: opts.perCase ?? plan.sampler.perCase,
    mirror,
  };
  const valSampler: StageSampling = { ...sampler, perCase: opts.valPerCase ?? sampler.perCase };
  const source = await (opts.samples ?? liverStageSamples)(
    opts.data,
    { train: sampler, validation: valSampler },
    opts.cacheSize ?? 8,
  );
  const splits = kFoldSplit([...source.ids], folds, seed);
  if (opts.fold !== undefined && !(Number.isInteger(opts.fold) && opts.fold >= 0 && opts.fold < folds)) {
    throw new InputError(`--fold must be in 0..${folds - 1}, got ${opts.fold}`);
  }
  const todo = opts.fold === undefined ? splits : [splits[opts.fold]];
  const results: FoldResult[] = [];
  const samplesOf = new Map<string, number>();
  for (const split of todo) {
    if (split.overlap) log(`warning: only one case; fold ${split.fold} validates on its training case`);
    const dir = join(opts.out, stage, `fold-${split.fold}`);
    const foldSeed = deriveSeed(seed, `fold-${split.fold}`);
    // Seeded weights: with the seeded sampling, a run on one backend is reproducible.
    const build = () =>
      buildRAUNet(defaults.arch, { width, inputShape, seed: deriveSeed(foldSeed, 'weights') });
    const statePath = join(dir, 'train-state.json');
    const metricsPath = join(dir, 'metrics.jsonl');
    let state: TrainState;
    let model: tf.LayersModel;
    let fresh = false;
    if (opts.resume && (await exists(statePath))) {
      state = JSON.parse(await readFile(statePath, 'utf8')) as TrainState;
      const same =
        state.seed === seed &&
        state.folds === folds &&
        state.width === width &&
        state.inputShape.join() === inputShape.join() &&
        (state.mirror ?? false) === mirror &&
        (state.recipe ?? 'fast') === recipe &&
        savedNormalisation(state) === opts.normalisation;
      if (!same) {
        const norm = savedNormalisation(state);
        throw new InputError(
          `cannot resume: the saved run used seed ${state.seed}, ${state.folds} folds, width ${state.width}, ` +
            `input ${state.inputShape.join('x')}, ${state.mirror ? 'with' : 'without'} --mirror, ` +
            `recipe ${state.recipe ?? 'fast'}${norm ? `, normalisation ${norm}` : ''}`,
          'BAD_ARGUMENT',
          statePath,
        );
      }
      if (state.bestEpoch > 0) model = (await loadModel(dir)).model;
      else model = build();
      log(
        `${stage} fold ${split.fold}: resuming after epoch ${state.epochsDone} (best val Dice ${state.bestDice.toFixed(4)})`,
      );
    } else {
      if (opts.resume) log(`${stage} fold ${split.fold}: nothing to resume in ${dir}, starting afresh`);
      if (await exists(join(dir, 'manifest.json'))) {
        throw new InputError(
          'already holds a trained model; pass --resume to continue or choose another --out',
          'BAD_ARGUMENT',
          dir,
        );
      }
      await mkdir(dir, { recursive: true });
      state = {
        stage,
        fold: split.fold,
        folds,
        seed,
        arch: defaults.arch,
        width,
        inputShape,
        epochsDone: 0,
        bestDice: -1,
        bestEpoch: 0,
        lr: opts.initialLr ?? 1e-3,
        train: split.train,
        validation: split.validation,
        mirror,
        recipe,
        ...(opts.normalisation ? { normalisation: opts.normalisation } : {}),
      };
      writeStateSync(statePath, state);
      model = build();
      fresh = true;
    }
    const remaining = epochs - state.epochsDone;
    if (remaining <= 0) {
      log(`${stage} fold ${split.fold}: already trained for ${state.epochsDone} epochs`);
      results.push({ fold: split.fold, dir, ...pick(state), aborted: false });
      model.dispose();
      continue;
    }
    // the validation set: the same samples every epoch, cut batch by batch
    let valSamples = 0;
    for (const id of split.validation) valSamples += await source.count(id, 'validation');
    if (valSamples === 0)
      throw new InputError(
        `the validation cases of fold ${split.fold} have no ${stage === 'brats' ? 'tumour' : 'liver'}`,
        'BAD_ARGUMENT',
        opts.data,
      );
    log(
      `${stage} fold ${split.fold}/${folds}: ${split.train.length} training, ${split.validation.length} validation cases, ` +
        `${valSamples} validation samples, input ${inputShape.join('x')}, width ${width}`,
    );
    let stepsPerEpoch: number;
    if (fixedSteps === null) {
      if (split.train.some((id) => !samplesOf.has(id)))
        log(`${stage} fold ${split.fold}: counting the samples of ${split.train.length} training cases`);
      let samples = 0;
      for (const id of split.train) {
        if (!samplesOf.has(id)) samplesOf.set(id, await source.count(id, 'train'));
        samples += samplesOf.get(id)!;
      }
      stepsPerEpoch = Math.floor(samples / batchSize);
      if (stepsPerEpoch === 0) {
        throw new InputError(
          `fold ${split.fold} has ${samples} training samples, fewer than one batch of ${batchSize}`,
          'BAD_ARGUMENT',
          opts.data,
        );
      }
      log(
        `${stage} fold ${split.fold}: recipe ${recipe}: ${samples} training samples per epoch = ${stepsPerEpoch} steps ` +
          `of ${batchSize}${microBatch < batchSize ? ` (micro-batches of ${microBatch})` : ''} x ${remaining} epochs = ` +
          `${stepsPerEpoch * remaining} steps`,
      );
    } else {
      stepsPerEpoch = fixedSteps;
      log(
        `${stage} fold ${split.fold}: recipe ${recipe}: ${stepsPerEpoch} steps of ${batchSize}` +
          `${microBatch < batchSize ? ` (micro-batches of ${microBatch})` : ''} per epoch x ${remaining} epochs`,
      );
    }
    const estimate = stepEstimate((perStep) => {
      const hours = (perStep * stepsPerEpoch * remaining) / 3600;
      log(
        `${stage} fold ${split.fold}: estimate ${perStep.toFixed(2)} s per step (steps 2-4 measured) x ` +
          `${stepsPerEpoch} steps x ${remaining} epochs = ${hours < 1 ? `${(hours * 60).toFixed(1)} min` : `${hours.toFixed(1)} h`} ` +
          'of training steps (validation comes on top)',
      );
    });
    if (fresh && opts.outputPrior !== false) {
      const priorBatches: Batch[] = [];
      const batches = source.training(split.train, { seed: deriveSeed(foldSeed, 'prior') });
      for await (const b of batches) {
        priorBatches.push(b);
        if (priorBatches.length >= 8) break;
      }
      const prior = foregroundFraction(priorBatches);
      const bias = initialiseOutputBias(model, prior);
      log(
        `${stage} fold ${split.fold}: foreground ${(100 * prior).toFixed(2)}% of training voxels, output bias ${bias.toFixed(2)}`,
      );
    }
    let epochCounter = state.epochsDone;
    const manifestFor = (dice: number, epoch: number): ModelManifest => ({
      arch: defaults.arch,
      width,
      inputShape,
      stage,
      fold: split.fold,
      folds,
      trainedOn: {
        dataset: basename(opts.data),
        cases: split.train.length,
        caseIds: split.train,
        epochs: epoch,
        validationCaseIds: split.validation,
        seed,
        mirror,
        recipe,
        ...(opts.normalisation ? { normalisation: opts.normalisation } : {}),
      },
      threshold: plan.threshold,
      metrics: { valDice: dice, epoch },
      // the liver stages sample the case reoriented to RAS+; the brain task the subject's grid as stored
      ...(stage === 'brats' ? {} : { orientation: CANONICAL_ORIENTATION }),
      createdAt: new Date().toISOString(),
      ...(opts.note ? { note: opts.note } : {}),
    });
    const offset = state.epochsDone;
    // The trainer awaits `checkpoint` (called first, on a new best), then `onEpoch`: the per-epoch records
    // are written there, before `afterEpoch` sees the folder.
    const checkpoint = async (m: tf.LayersModel, entry: EpochLog) => {
      if (!(entry.valDice > state.bestDice)) return; // after a resume, the trainer's first "best" may not be
      const epoch = offset + entry.epoch;
      // All of the checkpoint or none of it: a full disk keeps the previous best (lib/output/model-folder.ts).
      await replaceModelFiles(dir, async (staging) => {
        await saveModel(m, staging, manifestFor(entry.valDice, epoch));
        await writeOnnx(m, staging, log);
      });
      state.bestDice = entry.valDice;
      state.bestEpoch = epoch;
    };
    const onEpoch = (entry: EpochLog) => {
      const epoch = offset + entry.epoch;
      state.epochsDone = epoch;
      state.lr = entry.lr;
      const line: MetricsLine = {
        stage,
        fold: split.fold,
        epoch,
        loss: entry.loss,
        valLoss: entry.valLoss,
        valDice: entry.valDice,
        lr: entry.lr,
        best: state.bestDice,
        bestEpoch: state.bestEpoch,
        steps: entry.steps,
        seconds: entry.seconds,
        time: new Date().toISOString(),
      };
      appendFileSync(metricsPath, `${JSON.stringify(line)}\n`);
      writeCurvesPng(metricsPath, join(dir, 'curves.png'), `${stage} fold ${split.fold}`);
      // The run's curves: every fold of the stage side by side, next to the fold folders.
      writeRunCurvesPng(join(opts.out, stage), `${stage} run`);
      writeStateSync(statePath, state);
      log(
        `${stage} fold ${split.fold} epoch ${epoch}/${epochs}: loss ${entry.loss.toFixed(4)} ` +
          `val Dice ${entry.valDice.toFixed(4)} (best ${state.bestDice.toFixed(4)} @${state.bestEpoch}) ` +
          `lr ${entry.lr.toExponential(1)} ${entry.seconds.toFixed(1)} s`,
      );
      opts.onEpoch?.(split.fold, epoch, epochs, line);
      return opts.afterEpoch?.(split.fold, epoch, dir);
    };
    await trainModel(model, {
      train: () => {
        const epoch = ++epochCounter;
        const batches = source.training(split.train, {
          seed: deriveSeed(foldSeed, epoch - 1),
          ...(fixedSteps === null ? { passes: 1 } : {}),
        });
        const report = (step: number) => {
          estimate(step);
          if (step <= stepsPerEpoch) opts.onStep?.(split.fold, epoch, step, stepsPerEpoch);
        };
        return countSteps(batches, report);
      },
      validation: () => source.validation(split.validation, foldSeed),
      // precise batch-norm statistics from other training samples before every validation
      bnStatistics: () => source.training(split.train, { seed: deriveSeed(foldSeed, `bn-${epochCounter}`) }),
      bnBatches: opts.bnBatches,
      epochs: remaining,
      stepsPerEpoch,
      microBatch,
      initialLr: state.lr,
      plateauPatience: opts.plateauPatience ?? plan.plateauPatience,
      checkpoint,
      onEpoch,
      signal: opts.signal,
    });
    model.dispose();
    const aborted = opts.signal?.aborted ?? false;
    results.push({ fold: split.fold, dir, ...pick(state), aborted });
    if (aborted) {
      log(
        `${stage} fold ${split.fold}: stopped after epoch ${state.epochsDone}; best checkpoint kept in ${dir}`,
      );
      break;
    }
  }
  return results;
}

/**
 * Times training steps from the numbers `countSteps` reports: when step 5 of the first epoch is asked
 * for, steps 2-4 are done (step 1 includes warm-up) and `done` gets their mean in seconds, once.
 */
function stepEstimate(done: (secondsPerStep: number) => void): (step: number) => void {
  let t2 = 0;
  let finished = false;
  return (step) => {
    if (finished) return;
    if (step === 2) t2 = performance.now();
    else if (step === 5 && t2 > 0) {
      finished = true;
      done((performance.now() - t2) / 3000);
    } else if (step === 1 && t2 > 0) finished = true; // a new epoch before step 5: too short to time
  };
}

/** Pass batches through, reporting the 1-based number of each one handed out. */
async function* countSteps<T>(items: AsyncIterable<T>, onItem: (n: number) => void): AsyncGenerator<T> {
  let n = 0;
  for await (const item of items) {
    onItem(++n);
    yield item;
  }
}

function pick(s: TrainState) {
  return { epochsDone: s.epochsDone, bestDice: s.bestDice, bestEpoch: s.bestEpoch };
}
