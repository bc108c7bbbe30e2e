/**
 * `raunet view <out-dir | case_seg.nii.gz>`: the interactive viewer page (CT with the label map, three
 * planes and 3D, legend, window presets, report and tumor list) served on loopback, or with `--static`
 * written to a self-contained folder.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { InputError } from '../../errors.ts';
import { resolveViewerCases } from '../../viewer/cases.ts';
import {
  type SiteFile,
  serveSite,
  staticFolderSite,
  viewerSite,
  writeStaticViewer,
} from '../../viewer/site.ts';
import { VIEWER_MANIFEST, VIEWER_PAGE } from '../../viewer/static-layout.ts';

/** A folder that already is a viewer page (`--static` output, an AWS job's `viewer/` downloaded). */
function isViewerFolder(target: string): boolean {
  return existsSync(join(target, VIEWER_MANIFEST)) && existsSync(join(target, VIEWER_PAGE));
}

interface ViewFlags {
  ct?: string;
  port: string;
  host: string;
  open?: boolean;
  static?: string;
  overwrite?: boolean;
}

function openInBrowser(url: string): void {
  const cmd = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  const child = spawn(cmd, [url], { stdio: 'ignore', detached: true });
  child.on('error', () => process.stderr.write(`could not start ${cmd}; open ${url} yourself\n`));
  child.unref();
}

export function register(program: Command): void {
  program
    .command('view')
    .description(
      'look at segmentations in the browser: CT and label map in three planes and 3D, with the report',
    )
    .argument(
      '<target>',
      'an output folder of `raunet segment`/`raunet demo`, one <name>_seg.nii.gz, or a viewer folder ' +
        "(`--static` output, an AWS job's viewer/ downloaded)",
    )
    .option(
      '--ct <scan>',
      'the CT (NIfTI or DICOM folder) when it is not beside the label map or in its report',
    )
    .option('--port <n>', 'port (0: any free one)', '8470')
    .option('--host <addr>', 'address to listen on (default loopback only)', '127.0.0.1')
    .option('--open', 'open the page in the default browser')
    .option(
      '--static <dir>',
      'write the page as a self-contained folder (HTML + JS + data) instead of serving',
    )
    .option('--overwrite', 'with --static: replace a folder that holds anything (never one holding an input)')
    .action(async (target: string, flags: ViewFlags) => {
      if (flags.overwrite && !flags.static) {
        throw new InputError('--overwrite applies to --static only', 'BAD_ARGUMENT');
      }
      if (isViewerFolder(target)) {
        if (flags.static || flags.ct) {
          throw new InputError(
            'is already a viewer folder: --static and --ct do not apply',
            'BAD_ARGUMENT',
            target,
          );
        }
        await serve(await staticFolderSite(target), flags);
        return;
      }
      const cases = await resolveViewerCases(target, flags.ct);
      if (flags.static) {
        const written = await writeStaticViewer(cases, flags.static, { overwrite: flags.overwrite });
        process.stdout.write(
          `wrote ${written.length} files to ${flags.static} (${cases.length} case(s)); open it with ` +
            `\`raunet view ${flags.static}\` or any static web server (browsers do not load data from file:// pages)\n`,
        );
        return;
      }
      await serve(await viewerSite(cases), flags);
    });
}

/** Serve the page until Ctrl-C. */
async function serve(files: Map<string, SiteFile>, flags: ViewFlags): Promise<void> {
  const port = Number(flags.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InputError(`--port: expected 0..65535, got '${flags.port}'`, 'BAD_ARGUMENT');
  }
  if (!['127.0.0.1', 'localhost', '::1'].includes(flags.host)) {
    process.stderr.write(
      `warning: listening on ${flags.host}: anyone who can reach this machine can see these scans\n`,
    );
  }
  const viewer = await serveSite(files, { host: flags.host, port });
  process.stdout.write(`viewer at ${viewer.url} (Ctrl-C to stop)\n`);
  if (flags.open) openInBrowser(viewer.url);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await viewer.close();
}
