/**
 * The training stages of the Batch entrypoint over the training library: `train-fold` runs `trainStage`
 * (lib/training/train-stage.ts; `trainBrats` of lib/brats/train.ts for the brain task, the same trainer
 * with the brats stage) for one fold of one sweep variant; `evaluate-ensemble` scores each
 * variant's ensemble by its cross-validated Dice (the mean over folds of each fold's best validation Dice,
 * read from the folds' `train-state.json`) and picks the best variant.
 */
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { trainBrats } from '../brats/train.ts';
import { InputError } from '../errors.ts';
import { initBackend } from '../model/backend.ts';
import { trainStage } from '../training/train-stage.ts';
import type { FoldTrainingOptions, StageArgs, TrainingLibrary } from './batch-stages.ts';
import type { EnsembleMetrics } from './events.ts';

interface Manifest {
  seed?: number;
  variants?: Array<{ variant: string; hyper: { lr: number; width: number; epochs: number } }>;
}

async function foldDice(dir: string, stage: string): Promise<number[]> {
  const { readdir } = await import('node:fs/promises');
  const stageDir = path.join(dir, stage);
  const folds = (await readdir(stageDir, { withFileTypes: true }).catch(() => []))
    .filter((e) => e.isDirectory() && /^fold-\d+$/.test(e.name))
    .map((e) => e.name)
    .sort();
  const out: number[] = [];
  for (const f of folds) {
    const state = JSON.parse(await readFile(path.join(stageDir, f, 'train-state.json'), 'utf8')) as {
      bestDice: number;
    };
    out.push(state.bestDice);
  }
  return out;
}

export const trainingLibrary: TrainingLibrary = {
  startBackend: () => initBackend(),

  async trainFold(
    args: StageArgs<'train-fold'>,
    manifest: unknown,
    outDir: string,
    dataDir?: string,
    options?: FoldTrainingOptions,
  ) {
    if (!dataDir) throw new Error('train-fold needs the dataset folder');
    const m = manifest as Manifest;
    const { normalisation, ...schedule } = args.schedule ?? {};
    const common = {
      data: dataDir,
      out: outDir,
      folds: args.folds,
      fold: args.fold,
      epochs: args.hyper.epochs,
      width: args.hyper.width,
      initialLr: args.hyper.lr,
      ...schedule,
      seed: m.seed ?? 1,
      note: `run ${args.runId} variant ${args.variant}`,
      resume: options?.resume ?? false,
      afterEpoch: options?.afterEpoch
        ? (_fold: number, epoch: number, dir: string) => options.afterEpoch!(epoch, dir)
        : undefined,
      log: (line: string) => process.stderr.write(`${line}\n`),
    };
    // The brain task: the same trainer fed from the BraTS subjects (trainBrats is trainStage, stage brats).
    if (args.stage === 'brats') await trainBrats({ ...common, normalisation });
    else await trainStage({ ...common, stage: args.stage });
  },

  async evaluateEnsemble(args: StageArgs<'evaluate-ensemble'>, manifest: unknown, candidateDirs: string[]) {
    const m = manifest as Manifest;
    let best: EnsembleMetrics | undefined;
    for (const [i, c] of args.candidates.entries()) {
      const perFold = await foldDice(candidateDirs[i], args.stage);
      if (perFold.length === 0) continue;
      const valDice = perFold.reduce((a, b) => a + b, 0) / perFold.length;
      if (!best || valDice > best.valDice) {
        const hyper = m.variants?.find((v) => v.variant === c.variant)?.hyper;
        best = {
          runId: args.runId,
          stage: args.stage,
          variant: c.variant,
          models: c.models,
          valDice,
          perFold,
          hyper,
        };
      }
    }
    if (!best)
      throw new InputError(`no trained folds found for run ${args.runId} stage ${args.stage}`, 'NOT_FOUND');
    return best;
  },
};
