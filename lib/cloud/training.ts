/**
 * The logic of the training workflow's Lambda steps: planning a run (dataset manifest, K-fold split,
 * sweep variants) and registering its ensemble (with promotion only when it beats the current one).
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { InputError } from '../errors.ts';
import { kFoldSplit } from '../training/kfold.ts';
import {
  type EnsembleMetrics,
  ensembleMetrics,
  type HyperParameters,
  parseEvent,
  type RegisterInput,
  type TrainingRequest,
} from './events.ts';
import { newRunId } from './identity.ts';
import { checkpointPrefix, DATASETS_PREFIX, RUNS_PREFIX, s3Uri } from './layout.ts';
import { logger } from './logger.ts';
import type { ModelRegistry } from './model-registry.ts';
import { getJson, listKeys, putJson } from './object-store.ts';
import { bratsTrainingData, pairCases } from './training-datasets.ts';

export const DEFAULT_HYPER: HyperParameters = { lr: 1e-3, width: 1, epochs: 100 };
/** Fold jobs per run are bounded so the plan stays small in the execution state. */
export const MAX_FOLD_JOBS = 40;

export interface TrainingDeps {
  s3: S3Client;
  registry: ModelRegistry;
  modelsBucket: string;
  defaults: {
    /** The liver stages' dataset (`datasets/<name>/`, LiTS pairs). */
    dataset: string;
    /** The brain task's dataset (BraTS subject folders or MSD Task01); default `brats`. */
    bratsDataset?: string;
    folds: number;
    /** Fold checkpoints every N epochs (0: none). */
    checkpointEveryEpochs?: number;
    /** Folds of a variant that must succeed (null/absent: all of them). */
    minFolds?: number | null;
  };
  now?: () => Date;
  random?: () => number;
}

/** Every combination of the sweep's lists (defaults where a list is absent). */
export function sweepVariants(sweep: TrainingRequest['sweep']): HyperParameters[] {
  const out: HyperParameters[] = [];
  for (const lr of sweep?.lr ?? [DEFAULT_HYPER.lr]) {
    for (const width of sweep?.width ?? [DEFAULT_HYPER.width]) {
      for (const epochs of sweep?.epochs ?? [DEFAULT_HYPER.epochs]) out.push({ lr, width, epochs });
    }
  }
  return out;
}

export async function planTraining(deps: TrainingDeps, req: TrainingRequest) {
  const brain = req.stage === 'brats';
  const dataset = req.dataset ?? (brain ? (deps.defaults.bratsDataset ?? 'brats') : deps.defaults.dataset);
  const folds = req.folds ?? deps.defaults.folds;
  const seed = req.seed ?? 1;
  if (!brain && req.schedule?.normalisation) {
    throw new InputError('schedule.normalisation is for the brats stage only', 'BAD_ARGUMENT');
  }
  const runId = newRunId(deps.now?.() ?? new Date(), deps.random);
  const prefix = `${DATASETS_PREFIX}${dataset}/`;
  const keys = await listKeys(deps.s3, deps.modelsBucket, prefix);
  // The brain task's subjects keep their folders (fold jobs rebuild the dataset folder); LiTS pairs do not.
  const data = brain
    ? await bratsTrainingData(deps.s3, deps.modelsBucket, prefix, keys)
    : { cases: pairCases(deps.modelsBucket, keys) };
  const cases = data.cases;
  if (cases.length === 0) {
    throw new InputError(
      brain
        ? `dataset "${dataset}" has no BraTS subject folders or MSD Task01 imagesTr/labelsTr under ${prefix}`
        : `dataset "${dataset}" has no volume-K / segmentation-K pairs under ${prefix}`,
      'NOT_FOUND',
    );
  }
  const splits = kFoldSplit(
    cases.map((c) => c.id),
    folds,
    seed,
  );
  const minFolds = req.minFolds ?? deps.defaults.minFolds ?? splits.length;
  if (minFolds > splits.length) {
    throw new InputError(
      `minFolds ${minFolds} is more than the run's ${splits.length} folds`,
      'BAD_ARGUMENT',
    );
  }
  const checkpointEvery = req.checkpointEveryEpochs ?? deps.defaults.checkpointEveryEpochs ?? 0;
  const variants = sweepVariants(req.sweep);
  if (variants.length * splits.length > MAX_FOLD_JOBS) {
    throw new InputError(
      `the sweep asks for ${variants.length} variants x ${splits.length} folds, more than ${MAX_FOLD_JOBS} fold jobs`,
      'BAD_ARGUMENT',
    );
  }
  const root = s3Uri(deps.modelsBucket, `${RUNS_PREFIX}${runId}/`);
  const manifest = `${root}manifest.json`;
  const metrics = `${root}metrics.json`;
  await putJson(deps.s3, manifest, {
    runId,
    stage: req.stage,
    dataset,
    seed,
    ...data,
    folds: splits.map((s) => ({ fold: s.fold, train: s.train, validation: s.validation })),
    variants: variants.map((hyper, i) => ({ variant: `v${i}`, hyper })),
    trigger: req.trigger ?? 'manual',
  });
  const items = variants.flatMap((hyper, v) =>
    splits.map((s) => ({
      args: {
        runId,
        stage: req.stage,
        variant: `v${v}`,
        fold: s.fold,
        folds: splits.length,
        manifest,
        hyper,
        ...(req.schedule ? { schedule: req.schedule } : {}),
        out: `${root}v${v}/${req.stage}/fold-${s.fold}/`,
        checkpoint: {
          uri: s3Uri(deps.modelsBucket, checkpointPrefix(runId, `v${v}`, req.stage, s.fold)),
          everyEpochs: checkpointEvery,
        },
      },
    })),
  );
  const evaluate = {
    runId,
    stage: req.stage,
    manifest,
    candidates: variants.map((_, v) => ({ variant: `v${v}`, models: `${root}v${v}/` })),
    out: metrics,
  };
  logger.info('training planned', {
    runId,
    stage: req.stage,
    cases: cases.length,
    folds: splits.length,
    variants: variants.length,
  });
  return { runId, stage: req.stage, minFolds, items, evaluate, metrics };
}

export async function registerEnsemble(
  deps: Pick<TrainingDeps, 's3' | 'registry' | 'now'>,
  input: RegisterInput,
): Promise<{ runId: string; stage: string; valDice: number; promoted: boolean }> {
  const metrics: EnsembleMetrics = parseEvent(
    ensembleMetrics,
    await getJson(deps.s3, input.metrics),
    'ensemble metrics',
  );
  if (metrics.runId !== input.runId || metrics.stage !== input.stage) {
    throw new InputError(
      `metrics are for run ${metrics.runId} stage ${metrics.stage}, expected ${input.runId} ${input.stage}`,
      'BAD_ARGUMENT',
    );
  }
  const at = (deps.now?.() ?? new Date()).toISOString();
  const run = {
    stage: metrics.stage,
    runId: metrics.runId,
    models: metrics.models,
    valDice: metrics.valDice,
    variant: metrics.variant,
    createdAt: at,
    ...(metrics.hyper ? { hyper: metrics.hyper } : {}),
    ...(input.folds ? { folds: input.folds } : {}),
  };
  await deps.registry.putRun(run);
  const promoted = await deps.registry.promoteIfBetter(run, at);
  logger.info('ensemble registered', { runId: run.runId, stage: run.stage, valDice: run.valDice, promoted });
  return { runId: run.runId, stage: run.stage, valDice: run.valDice, promoted };
}
