/**
 * `raunet train`: train one RA-UNet stage with K-fold cross-validation (a shell over `trainStage`).
 */
import type { Command } from 'commander';
import { parseBratsNormalisation } from '../../brats/segment-input.ts';
import { bratsStageSamples } from '../../brats/train.ts';
import { InputError } from '../../errors.ts';
import { initBackend } from '../../model/backend.ts';
import { STAGES } from '../../model/storage.ts';
import { DEFAULT_RECIPE, parseRecipeName } from '../../training/recipe.ts';
import type { TrainStage } from '../../training/samplers.ts';
import { trainStage } from '../../training/train-stage.ts';
import { createProgress } from '../progress.ts';

/** "64x64x32" -> [64, 64, 32] (x-y-z). */
export function parseSize(text: string): number[] {
  const parts = text.toLowerCase().split('x');
  const nums = parts.map((p) => Number(p));
  if (parts.length < 2 || parts.length > 3 || nums.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new InputError(`--patch must look like 128x128x32 (x-y-z) or 256x256, got "${text}"`);
  }
  return nums;
}

export function parseCount(name: string, text: string, min = 1): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min)
    throw new InputError(`${name} must be an integer >= ${min}, got "${text}"`);
  return n;
}

/**
 * Ctrl-C aborts training cleanly (the best checkpoint stays); a second Ctrl-C exits at once.
 * Returns the signal and a function that removes the handler.
 */
export function abortOnSigint(onFirst: () => void): { signal: AbortSignal; release: () => void } {
  const controller = new AbortController();
  const handler = () => {
    if (controller.signal.aborted) process.exit(130);
    onFirst();
    controller.abort();
  };
  process.on('SIGINT', handler);
  return { signal: controller.signal, release: () => process.off('SIGINT', handler) };
}

interface TrainFlags {
  data: string;
  task: string;
  stage?: string;
  normalisation?: string;
  out: string;
  folds?: string;
  fold?: string;
  recipe: string;
  epochs?: string;
  stepsPerEpoch?: string;
  batchSize?: string;
  microBatch?: string;
  width: string;
  patch?: string;
  perCase?: string;
  seed: string;
  resume?: boolean;
  mirror?: boolean;
  backend?: string;
  quiet?: boolean;
}

export function register(program: Command): void {
  program
    .command('train')
    .description(
      'train one RA-UNet stage (localize | liver | tumor), or the brain-tumour network (--task brats), with K-fold cross-validation',
    )
    .requiredOption(
      '--data <dir>',
      'dataset folder: LiTS (volume-N + segmentation-N), MSD / nnU-Net raw, or 3D-IRCADb; --task brats: BraTS subject folders',
    )
    .option(
      '--task <task>',
      'liver (the three CT stages) or brats (whole brain tumour, 4-channel MRI)',
      'liver',
    )
    .option('--stage <stage>', 'liver task: localize (RA-UNet-I), liver or tumor (RA-UNet-II)')
    .option(
      '--normalisation <mode>',
      'brats: per-sequence minmax over the brain (default, the paper) or zscore',
    )
    .requiredOption(
      '--out <dir>',
      'models folder; the stage goes to <out>/<stage>/fold-<k>/ (brats: <out>/brats/)',
    )
    .option('--folds <n>', 'number of cross-validation folds (default 1 for localize, 5 otherwise)')
    .option('--fold <k>', 'train only fold k (default: every fold in turn)')
    .option(
      '--recipe <name>',
      "schedule and sampling preset: paper (the authors' recipe, an epoch = one pass) or fast (100 steps per epoch)",
      DEFAULT_RECIPE,
    )
    .option('--epochs <n>', "epochs per fold (default: the recipe's, 50)")
    .option('--steps-per-epoch <n>', 'training batches per epoch (default: paper one pass, fast 100)')
    .option('--batch-size <n>', 'samples per batch (default paper 90 / 2 / 6, fast 8 / 1 / 2)')
    .option('--micro-batch <n>', 'gradient accumulation: at most n samples per forward/backward pass')
    .option('--width <w>', 'width multiplier of the network (1 = the paper)', '1')
    .option(
      '--patch <size>',
      'network input x-y(-z), e.g. 256x256, 224x224x32, 128x128x32 (default: the paper)',
    )
    .option('--per-case <n>', 'samples per case (liver windows / tumor patches; localize: max slices)')
    .option('--seed <n>', 'seed of the split, the samplers and the initial weights', '1')
    .option('--mirror', 'random mirroring of the training samples along every axis (for segment --tta)')
    .option('--resume', 'continue from the saved model and epoch count in <out>')
    .option('--backend <name>', 'tfjs backend (tensorflow, wasm, cpu); default the fastest present')
    .option('--quiet', 'no progress output')
    .action(async (flags: TrainFlags) => {
      if (flags.task !== 'liver' && flags.task !== 'brats') {
        throw new InputError(`--task must be liver or brats, got "${flags.task}"`, 'BAD_ARGUMENT');
      }
      const brats = flags.task === 'brats';
      if (brats && flags.stage !== undefined && flags.stage !== 'brats') {
        throw new InputError('--task brats trains one network: leave out --stage', 'BAD_ARGUMENT');
      }
      if (!brats && !STAGES.includes(flags.stage as TrainStage)) {
        throw new InputError(`--stage must be localize, liver or tumor, got "${flags.stage ?? ''}"`);
      }
      if (!brats && flags.normalisation !== undefined) {
        throw new InputError('--normalisation is for --task brats', 'BAD_ARGUMENT');
      }
      const stage = brats ? 'brats' : (flags.stage as TrainStage);
      const samples = brats
        ? bratsStageSamples({
            normalisation:
              flags.normalisation === undefined ? undefined : parseBratsNormalisation(flags.normalisation),
          })
        : undefined;
      const width = Number(flags.width);
      if (!(width > 0 && width <= 4)) throw new InputError(`--width must be in (0, 4], got "${flags.width}"`);
      const recipe = parseRecipeName(flags.recipe);
      const progress = createProgress({ quiet: flags.quiet });
      await initBackend(flags.backend);
      const { signal, release } = abortOnSigint(() =>
        progress.log('stopping after the current step (Ctrl-C again to quit at once)'),
      );
      try {
        const results = await trainStage({
          data: flags.data,
          stage,
          samples,
          out: flags.out,
          folds: flags.folds === undefined ? undefined : parseCount('--folds', flags.folds),
          fold: flags.fold === undefined ? undefined : parseCount('--fold', flags.fold, 0),
          recipe,
          epochs: flags.epochs === undefined ? undefined : parseCount('--epochs', flags.epochs),
          stepsPerEpoch:
            flags.stepsPerEpoch === undefined
              ? undefined
              : parseCount('--steps-per-epoch', flags.stepsPerEpoch),
          batchSize: flags.batchSize === undefined ? undefined : parseCount('--batch-size', flags.batchSize),
          microBatch:
            flags.microBatch === undefined ? undefined : parseCount('--micro-batch', flags.microBatch),
          width,
          patch: flags.patch === undefined ? undefined : parseSize(flags.patch),
          perCase: flags.perCase === undefined ? undefined : parseCount('--per-case', flags.perCase),
          seed: parseCount('--seed', flags.seed, 0),
          resume: flags.resume,
          mirror: flags.mirror,
          signal,
          log: (line) => progress.log(line),
          onStep: (fold, epoch, step, steps) => {
            if (step === 1) progress.start(`${stage} fold ${fold} epoch ${epoch}`, steps);
            progress.update(step - 1, steps);
          },
          onEpoch: (_fold, _epoch, _epochs, line) => progress.finish(`val Dice ${line.valDice.toFixed(4)}`),
        });
        for (const r of results) {
          progress.log(
            `${stage} fold ${r.fold}: best val Dice ${r.bestDice.toFixed(4)} at epoch ${r.bestEpoch} ` +
              `of ${r.epochsDone}${r.aborted ? ' (stopped early)' : ''} -> ${r.dir}`,
          );
        }
      } finally {
        release();
      }
    });
}
