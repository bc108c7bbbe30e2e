/**
 * `raunet evaluate --pred <file|dir> --ref <file|dir> [--json] [--csv out.csv]`: LiTS metrics of
 * predicted label maps against references (definitions and pairing rules: docs/metrics.md).
 */
import type { Command } from 'commander';
import { evaluateFiles } from '../../metrics/evaluate-files.ts';
import { evaluationCsv, formatEvaluation } from '../../metrics/report.ts';
import { writeFileAtomic } from '../../volume/nifti.ts';

interface EvaluateOptions {
  pred: string;
  ref: string;
  json?: boolean;
  csv?: string;
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
    .action(async (opts: EvaluateOptions) => {
      const { evaluation, pairing } = await evaluateFiles(opts.pred, opts.ref, {
        onCase: opts.json
          ? undefined
          : (c, i, n) =>
              process.stderr.write(`[${i + 1}/${n}] ${c.id}: liver dice ${c.liver.dice.toFixed(4)}\n`),
      });
      for (const f of pairing.unpairedPred) process.stderr.write(`unpaired prediction: ${f}\n`);
      for (const f of pairing.unpairedRef) process.stderr.write(`unpaired reference: ${f}\n`);
      if (opts.csv) await writeFileAtomic(opts.csv, new TextEncoder().encode(evaluationCsv(evaluation)));
      process.stdout.write(
        opts.json ? `${JSON.stringify(evaluation, null, 2)}\n` : formatEvaluation(evaluation),
      );
    });
}
