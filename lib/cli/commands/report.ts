/** `raunet report <dir> --html`: an HTML summary of a segmentation or training output folder. */
import { join } from 'node:path';
import type { Command } from 'commander';
import { InputError } from '../../errors.ts';
import { folderReportHtml } from '../../pipeline/html-report.ts';
import { writeFileAtomic } from '../../volume/nifti.ts';

export function register(program: Command): void {
  program
    .command('report')
    .description(
      'summarise a segmentation output (volumes, Dice, previews) or a training output (folds, curves)',
    )
    .argument('<dir>', 'output folder of raunet segment / demo, or of raunet train')
    .option('--html', 'write an HTML page (the only format so far)')
    .option('--ref <dir>', 'reference label maps (<name>.nii.gz or <name>_truth.nii.gz) for Dice')
    .option('--out <file>', 'where the page goes (default <dir>/report.html)')
    .action(async (dir: string, o: { html?: boolean; ref?: string; out?: string }) => {
      if (!o.html) throw new InputError('say --html (the only output format so far)', 'BAD_ARGUMENT');
      const out = o.out ?? join(dir, 'report.html');
      const { html, kind, count } = await folderReportHtml(dir, out, o.ref);
      await writeFileAtomic(out, new TextEncoder().encode(html));
      process.stdout.write(
        `wrote ${out} (${kind} summary of ${count} ${kind === 'training' ? 'fold' : 'case'}(s))\n`,
      );
    });
}
