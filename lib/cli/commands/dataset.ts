/** `raunet dataset info <dir> [--json]`: what a dataset folder holds, in any layout `openDataset` reads. */
import type { Command } from 'commander';
import { openDataset } from '../../datasets/index.ts';
import { formatSummary, summarizeDataset } from '../../datasets/summary.ts';

export function register(program: Command): void {
  const dataset = program.command('dataset').description('datasets: LiTS, MSD / nnU-Net raw, 3D-IRCADb');
  dataset
    .command('info')
    .description('layout, cases, dims and spacing ranges, label counts and problems of a dataset folder')
    .argument('<dir>', 'dataset folder')
    .option('--json', 'print one JSON object')
    .action(async (dir: string, o: { json?: boolean }) => {
      const ds = await openDataset(dir);
      const summary = await summarizeDataset(
        ds,
        o.json
          ? undefined
          : (id, i, n) => {
              process.stderr.write(`[${i + 1}/${n}] ${id}\n`);
            },
      );
      process.stdout.write(o.json ? `${JSON.stringify(summary)}\n` : formatSummary(summary));
    });
}
