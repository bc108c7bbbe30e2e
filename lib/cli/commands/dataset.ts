/** `raunet dataset info <dir> [--json]`: what a dataset folder holds, in any layout `openDataset` reads. */
import type { Command } from 'commander';
import { formatBratsSummary, summarizeBratsDataset } from '../../datasets/brats-summary.ts';
import { openAnyDataset } from '../../datasets/index.ts';
import { formatSummary, summarizeDataset } from '../../datasets/summary.ts';

export function register(program: Command): void {
  const dataset = program
    .command('dataset')
    .description('datasets: LiTS, MSD / nnU-Net raw, 3D-IRCADb; brain tumour: BraTS, MSD Task01_BrainTumour');
  dataset
    .command('info')
    .description('layout, cases, dims and spacing ranges, label counts and problems of a dataset folder')
    .argument('<dir>', 'dataset folder')
    .option('--json', 'print one JSON object')
    .action(async (dir: string, o: { json?: boolean }) => {
      const opened = await openAnyDataset(dir);
      const progress = o.json
        ? undefined
        : (id: string, i: number, n: number) => {
            process.stderr.write(`[${i + 1}/${n}] ${id}\n`);
          };
      if (opened.task === 'brats') {
        const summary = await summarizeBratsDataset(opened.dataset, progress);
        process.stdout.write(o.json ? `${JSON.stringify(summary)}\n` : formatBratsSummary(summary));
        return;
      }
      const summary = await summarizeDataset(opened.dataset, progress);
      process.stdout.write(o.json ? `${JSON.stringify(summary)}\n` : formatSummary(summary));
    });
}
