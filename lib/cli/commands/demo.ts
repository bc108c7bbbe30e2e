/**
 * `raunet demo`: segment held-out phantoms with the bundled demo models and print LiTS metrics;
 * `raunet demo --train` reproduces the demo models.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { InputError } from '../../errors.ts';
import type { Evaluation } from '../../metrics/lits.ts';
import { formatEvaluation } from '../../metrics/report.ts';
import { initBackend } from '../../model/backend.ts';
import { STAGES, type Stage } from '../../model/storage.ts';
import { disposeModels, loadModels } from '../../pipeline/models.ts';
import { DEMO, defaultDemoJobs, runDemo, trainDemoModels } from '../../training/demo.ts';
import { BUNDLED_DEMO_MODELS, CLI_LAUNCHER } from '../paths.ts';
import { createProgress } from '../progress.ts';
import { viewHint } from '../view-hint.ts';
import { abortOnSigint, parseCount } from './train.ts';

interface DemoFlags {
  out: string;
  models: string;
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
    .option('--models <dir>', 'demo models folder', BUNDLED_DEMO_MODELS)
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
      if (flags.train) {
        await initBackend(flags.backend);
        const work = flags.work ?? (await mkdtemp(join(tmpdir(), 'raunet-demo-train-')));
        const { signal, release } = abortOnSigint(() => log('stopping after the current step'));
        try {
          const stages = flags.stage === undefined ? undefined : parseStages(flags.stage);
          const jobs = flags.jobs === undefined ? defaultDemoJobs() : parseCount('--jobs', flags.jobs);
          await trainDemoModels({
            work,
            out: flags.models,
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
      if (!existsSync(join(flags.models, 'localize'))) {
        throw new InputError(
          'no demo models here; train them with `raunet demo --train --models <dir>` (see docs/training.md)',
          'NOT_FOUND',
          flags.models,
        );
      }
      if (!flags.train) await initBackend(flags.backend);
      const models = await loadModels(flags.models, { engine: flags.engine });
      let evaluation: Evaluation;
      try {
        evaluation = await runDemo({
          models,
          out: flags.out,
          cases: flags.cases === undefined ? undefined : parseCount('--cases', flags.cases),
          log,
        });
      } finally {
        await disposeModels(models);
      }
      if (flags.json) process.stdout.write(`${JSON.stringify(evaluation, null, 2)}\n`);
      else {
        process.stdout.write(`${formatEvaluation(evaluation)}\n`);
        process.stdout.write(`outputs in ${flags.out}; ${DEMO.note}\n`);
        process.stdout.write(`${viewHint(flags.out)}\n`);
      }
    });
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
