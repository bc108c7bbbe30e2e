/**
 * `raunet demo`: segment held-out phantoms with the bundled demo models and print LiTS metrics;
 * `raunet demo --train` reproduces the demo models.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { BRAIN_DEMO, runBrainDemo, trainBrainDemoModels } from '../../brats/demo.ts';
import { loadBratsModels } from '../../brats/segment-files.ts';
import { InputError } from '../../errors.ts';
import type { Evaluation } from '../../metrics/lits.ts';
import { formatEvaluation } from '../../metrics/report.ts';
import { initBackend } from '../../model/backend.ts';
import { STAGES, type Stage } from '../../model/storage.ts';
import { disposeModels, loadModels } from '../../pipeline/models.ts';
import { DEMO, defaultDemoJobs, runDemo, trainDemoModels } from '../../training/demo.ts';
import { BUNDLED_DEMO_BRAIN_MODELS, BUNDLED_DEMO_MODELS, CLI_LAUNCHER } from '../paths.ts';
import { createProgress } from '../progress.ts';
import { viewHint } from '../view-hint.ts';
import { abortOnSigint, parseCount } from './train.ts';

interface DemoFlags {
  out: string;
  models?: string;
  task: string;
  cases?: string;
  json?: boolean;
  train?: boolean;
  resume?: boolean;
  work?: string;
  stage?: string;
  jobs?: string;
  engine?: 'onnx' | 'tfjs';
  backend?: string;
  quiet?: boolean;
}

export function register(program: Command): void {
  program
    .command('demo')
    .description(
      'segment held-out synthetic phantoms with the bundled demo models and print LiTS metrics ' +
        '(no data or AWS needed); --train reproduces the demo models',
    )
    .option('--out <dir>', 'where label maps, reports and previews go', './demo-out')
    .option(
      '--task <task>',
      'liver (CT phantoms, LiTS metrics) or brats (brain MRI phantoms, whole-tumour Dice)',
      'liver',
    )
    .option(
      '--models <dir>',
      'demo models folder (default: the bundled models/demo, or models/demo-brain for brats)',
    )
    .option('--cases <n>', `number of held-out phantoms (default ${DEMO.testCases})`)
    .option('--json', 'print the evaluation object of `raunet evaluate --json`')
    .option('--engine <kind>', 'onnx (default when model.onnx is present) or tfjs')
    .option('--train', 'train the demo models from scratch into --models (then evaluate them)')
    .option('--resume', 'with --train: continue an interrupted training run')
    .option(
      '--stage <names>',
      'with --train: only these stages, comma-separated (localize,liver,tumor; e.g. to train them in parallel processes)',
    )
    .option(
      '--jobs <n>',
      'with --train: stages trained at once in separate processes (default: CPU cores, at most 3)',
    )
    .option('--work <dir>', 'with --train: scratch folder for the training phantoms (default: a temp folder)')
    .option('--backend <name>', 'tfjs backend for --train (tensorflow, wasm, cpu)')
    .option('--quiet', 'no progress output')
    .action(async (flags: DemoFlags) => {
      const progress = createProgress({ quiet: flags.quiet || flags.json });
      const log = (line: string) => progress.log(line);
      if (flags.task !== 'liver' && flags.task !== 'brats') {
        throw new InputError(`--task must be liver or brats, got "${flags.task}"`, 'BAD_ARGUMENT');
      }
      if (flags.task === 'brats')
        return brainDemo({ ...flags, models: flags.models ?? BUNDLED_DEMO_BRAIN_MODELS }, log);
      const models = flags.models ?? BUNDLED_DEMO_MODELS;
      if (flags.train) {
        await initBackend(flags.backend);
        const work = flags.work ?? (await mkdtemp(join(tmpdir(), 'raunet-demo-train-')));
        const { signal, release } = abortOnSigint(() => log('stopping after the current step'));
        try {
          const stages = flags.stage === undefined ? undefined : parseStages(flags.stage);
          const jobs = flags.jobs === undefined ? defaultDemoJobs() : parseCount('--jobs', flags.jobs);
          await trainDemoModels({
            work,
            out: models,
            resume: flags.resume,
            signal,
            log,
            stages,
            jobs,
            cli: CLI_LAUNCHER,
            backend: flags.backend,
          });
          if (signal.aborted || stages) return;
        } finally {
          release();
          if (!flags.work) await rm(work, { recursive: true, force: true });
        }
      }
      if (!existsSync(join(models, 'localize'))) {
        throw new InputError(
          'no demo models here; train them with `raunet demo --train --models <dir>` (see docs/training.md)',
          'NOT_FOUND',
          models,
        );
      }
      if (!flags.train) await initBackend(flags.backend);
      const loaded = await loadModels(models, { engine: flags.engine });
      let evaluation: Evaluation;
      try {
        evaluation = await runDemo({
          models: loaded,
          out: flags.out,
          cases: flags.cases === undefined ? undefined : parseCount('--cases', flags.cases),
          log,
        });
      } finally {
        await disposeModels(loaded);
      }
      if (flags.json) process.stdout.write(`${JSON.stringify(evaluation, null, 2)}\n`);
      else {
        process.stdout.write(`${formatEvaluation(evaluation)}\n`);
        process.stdout.write(`outputs in ${flags.out}; ${DEMO.note}\n`);
        process.stdout.write(`${viewHint(flags.out)}\n`);
      }
    });
}

/**
 * `demo --task brats`: held-out brain phantoms segmented with the demo brain model, whole-tumour Dice per
 * subject (`--json`: the result object); `--train` first reproduces the model into `--models`.
 */
async function brainDemo(flags: DemoFlags & { models: string }, log: (line: string) => void): Promise<void> {
  if (flags.stage !== undefined || flags.jobs !== undefined) {
    throw new InputError(
      '--stage and --jobs are for the liver demo (the brain demo trains one network)',
      'BAD_ARGUMENT',
    );
  }
  await initBackend(flags.backend);
  if (flags.train) {
    const work = flags.work ?? (await mkdtemp(join(tmpdir(), 'raunet-demo-brain-')));
    const { signal, release } = abortOnSigint(() => log('stopping after the current step'));
    try {
      await trainBrainDemoModels({ work, out: flags.models, resume: flags.resume, signal, log });
      if (signal.aborted) return;
    } finally {
      release();
      if (!flags.work) await rm(work, { recursive: true, force: true });
    }
  }
  if (!existsSync(join(flags.models, 'brats'))) {
    throw new InputError(
      'no demo brain model here; train it with `raunet demo --task brats --train --models <dir>`',
      'NOT_FOUND',
      flags.models,
    );
  }
  const models = await loadBratsModels(flags.models, { engine: flags.engine });
  try {
    const result = await runBrainDemo({
      models,
      out: flags.out,
      subjects: flags.cases === undefined ? undefined : parseCount('--cases', flags.cases),
      log,
    });
    if (flags.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else {
      for (const c of result.cases) {
        process.stdout.write(
          `${c.subject}  whole-tumour Dice ${c.dice.toFixed(3)}  (${c.truthMl.toFixed(1)} mL true, ${c.predictedMl.toFixed(1)} mL found)\n`,
        );
      }
      process.stdout.write(
        `mean Dice ${result.meanDice.toFixed(3)}, min ${result.minDice.toFixed(3)}; outputs in ${flags.out}; ${BRAIN_DEMO.note}\n`,
      );
    }
  } finally {
    for (const m of models) await m.engine.dispose();
  }
}

/** `--stage localize,liver`: known stage names, in pipeline order, without repeats. */
export function parseStages(value: string): Stage[] {
  const names = value.split(',').map((s) => s.trim());
  const unknown = names.filter((n) => !(STAGES as readonly string[]).includes(n));
  if (unknown.length > 0 || names.length === 0) {
    throw new InputError(
      `--stage: unknown stage '${unknown.join(',')}' (use ${STAGES.join(', ')})`,
      'BAD_ARGUMENT',
    );
  }
  return STAGES.filter((s) => names.includes(s));
}
