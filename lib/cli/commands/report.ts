/** `raunet report <dir> --html`: an HTML summary of a segmentation or training output folder. */
import type { Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { InputError } from '../../errors.ts';
import {
  checkOutputTargets,
  OutputBatch,
  prepareOutputFolder,
  releaseOutputFolder,
} from '../../output/safe-output.ts';
import { folderReportHtml } from '../../pipeline/html-report.ts';

/**
 * The files a page may be made from: everything in `dir` down to `<stage>/fold-<k>/` (reports, label
 * maps, metrics.jsonl, curves), except earlier HTML pages, which are outputs, not inputs. None of them
 * may be the page's target, even with --overwrite.
 */
async function pageInputs(dir: string, depth = 3): Promise<string[]> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return []; // not a folder: folderReportHtml says so for <dir>, and for --ref
  }
  const files: string[] = [];
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory() && depth > 1) files.push(...(await pageInputs(p, depth - 1)));
    else if (!e.isDirectory() && !/\.html?$/i.test(e.name)) files.push(p);
  }
  return files;
}

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
    .option('--overwrite', 'replace an existing page (never one of the files it is made from)')
    .action(async (dir: string, o: { html?: boolean; ref?: string; out?: string; overwrite?: boolean }) => {
      if (!o.html) throw new InputError('say --html (the only output format so far)', 'BAD_ARGUMENT');
      // Before the target check, which would name <dir>/report.html for a <dir> that is a file.
      if (!(await stat(dir).catch(() => undefined))?.isDirectory()) {
        throw new InputError('not a folder', 'NOT_FOUND', dir);
      }
      const out = o.out ?? join(dir, 'report.html');
      const inputs = [...(await pageInputs(dir)), ...(o.ref ? await pageInputs(o.ref, 1) : [])];
      await checkOutputTargets([out], { overwrite: o.overwrite, inputs });
      const { html, kind, count } = await folderReportHtml(dir, out, o.ref);
      const folder = await prepareOutputFolder(dirname(out));
      try {
        const batch = new OutputBatch({ overwrite: o.overwrite });
        await batch.write(out, html);
        await batch.commit();
      } finally {
        await releaseOutputFolder(folder);
      }
      process.stdout.write(
        `wrote ${out} (${kind} summary of ${count} ${kind === 'training' ? 'fold' : 'case'}(s))\n`,
      );
    });
}
