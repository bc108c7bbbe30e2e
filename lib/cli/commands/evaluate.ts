/**
 * `raunet evaluate --pred <file|dir> --ref <file|dir> [--json] [--csv out.csv] [--ref-label liver=5]`:
 * LiTS metrics of predicted label maps against references (definitions and pairing rules: docs/metrics.md).
 * `--task brats [--regions whole,core,enhancing]`: the BraTS metrics (Dice, sensitivity, specificity,
 * HD95) of brain-tumour label maps against a BraTS dataset or label files.
 */
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { parseBratsTarget } from '../../brats/targets.ts';
import type { BratsTarget } from '../../brats/types.ts';
import { InputError } from '../../errors.ts';
import { bratsEvaluationCsv, formatBratsEvaluation } from '../../metrics/brats.ts';
import { evaluateBratsFiles } from '../../metrics/brats-files.ts';
import { evaluateFiles } from '../../metrics/evaluate-files.ts';
import { type LabelMapping, parseLabelMapping } from '../../metrics/labels.ts';
import { listNiftiFiles, type Pairing, pairPaths } from '../../metrics/pairing.ts';
import { evaluationCsv, formatEvaluation } from '../../metrics/report.ts';
import {
  checkOutputTargets,
  OutputBatch,
  prepareOutputFolder,
  releaseOutputFolder,
} from '../../output/safe-output.ts';

interface EvaluateOptions {
  pred: string;
  ref: string;
  json?: boolean;
  csv?: string;
  overwrite?: boolean;
  refLabel?: LabelMapping;
  task: string;
  regions?: BratsTarget[];
}

function parseTask(text: string): 'liver' | 'brats' {
  if (text !== 'liver' && text !== 'brats')
    throw new InputError(`--task must be liver or brats, got "${text}"`);
  return text;
}

function parseRegions(text: string): BratsTarget[] {
  const regions = text.split(',').map((r) => parseBratsTarget(r.trim()));
  return [...new Set(regions)];
}

export function register(program: Command): void {
  program
    .command('evaluate')
    .description('compare predicted label maps with references: Dice, Jaccard, VOE, RVD, ASSD, MSD, HD95')
    .requiredOption('--pred <path>', 'predicted label map (.nii/.nii.gz) or a folder of them')
    .requiredOption(
      '--ref <path>',
      'reference label map, a folder of them, or a dataset (MSD, nnU-Net raw, 3D-IRCADb)',
    )
    .option('--json', 'print one JSON object with per-case results and aggregates')
    .option('--csv <file>', 'also write the per-case table as CSV')
    .option('--overwrite', 'replace an existing --csv file (never one of the label maps)')
    .option(
      '--ref-label <spec>',
      'reference labels of other conventions: liver=5 or liver=5+6,tumor=7 (other labels: background)',
      parseLabelMapping,
    )
    .option('--task <liver|brats>', 'liver (LiTS metrics) or brats (brain tumour: BraTS metrics)', 'liver')
    .option(
      '--regions <list>',
      'brats: regions to score, from whole,core,enhancing (default whole; core and enhancing need BraTS label maps)',
      parseRegions,
    )
    .action(async (opts: EvaluateOptions) => {
      const task = parseTask(opts.task);
      if (task === 'brats') {
        if (opts.refLabel) throw new InputError('--ref-label applies to --task liver only');
        await evaluateBratsAndReport(opts);
        return;
      }
      if (opts.regions) throw new InputError('--regions applies to --task brats only');
      const pairing = await pairPaths(opts.pred, opts.ref);
      const inputs = pairing.pairs.flatMap((p) => [p.pred, p.ref]);
      // Check the CSV target before the (possibly long) evaluation, and never write it over a label map.
      if (opts.csv) await checkOutputTargets([opts.csv], { overwrite: opts.overwrite, inputs });
      const folder = opts.csv ? await prepareOutputFolder(dirname(opts.csv)) : undefined;
      try {
        await evaluateAndReport(opts, pairing);
      } finally {
        if (folder) await releaseOutputFolder(folder);
      }
    });
}

async function evaluateAndReport(opts: EvaluateOptions, pairing: Pairing): Promise<void> {
  const { evaluation } = await evaluateFiles(opts.pred, opts.ref, {
    pairing,
    refLabels: opts.refLabel,
    onWarning: (line) => process.stderr.write(`${line}\n`),
    onCase: opts.json
      ? undefined
      : (c, i, n) => process.stderr.write(`[${i + 1}/${n}] ${c.id}: liver dice ${c.liver.dice.toFixed(4)}\n`),
  });
  for (const f of pairing.unpairedPred) process.stderr.write(`unpaired prediction: ${f}\n`);
  for (const f of pairing.unpairedRef) process.stderr.write(`unpaired reference: ${f}\n`);
  if (opts.csv) {
    const out = new OutputBatch({ overwrite: opts.overwrite });
    await out.write(opts.csv, evaluationCsv(evaluation));
    await out.commit();
  }
  process.stdout.write(opts.json ? `${JSON.stringify(evaluation, null, 2)}\n` : formatEvaluation(evaluation));
}

async function evaluateBratsAndReport(opts: EvaluateOptions): Promise<void> {
  const inputs = (await listNiftiFiles(opts.pred, 'prediction')).files;
  if (opts.csv) await checkOutputTargets([opts.csv], { overwrite: opts.overwrite, inputs });
  const folder = opts.csv ? await prepareOutputFolder(dirname(opts.csv)) : undefined;
  try {
    const { evaluation, pairing } = await evaluateBratsFiles(opts.pred, opts.ref, {
      regions: opts.regions,
      onSubject: opts.json
        ? undefined
        : (r, i, n) =>
            process.stderr.write(
              `[${i + 1}/${n}] ${r.id}: whole tumour dice ${r.whole?.dice.toFixed(4) ?? '-'}\n`,
            ),
    });
    for (const f of pairing.unpairedPred) process.stderr.write(`unpaired prediction: ${f}\n`);
    for (const f of pairing.unpairedRef) process.stderr.write(`unpaired reference: ${f}\n`);
    if (opts.csv) {
      const out = new OutputBatch({ overwrite: opts.overwrite });
      await out.write(opts.csv, bratsEvaluationCsv(evaluation));
      await out.commit();
    }
    process.stdout.write(
      opts.json ? `${JSON.stringify(evaluation, null, 2)}\n` : formatBratsEvaluation(evaluation),
    );
  } finally {
    if (folder) await releaseOutputFolder(folder);
  }
}
