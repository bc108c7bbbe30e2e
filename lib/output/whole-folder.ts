/**
 * Writing a whole output folder (a static viewer page: HTML, script, manifest, data/) so that it is
 * never half-written and never mixed with what was there (docs/robustness.md):
 * - `checkOutputFolderTarget`, before any work: a folder that holds anything is refused unless
 *   `overwrite`; a folder that holds one of the inputs is refused even then; a file in the way is refused;
 * - `writeWholeFolder`: everything is written into a hidden staging folder beside the target, which is
 *   renamed to the target only once complete. Without `overwrite` the rename cannot replace a folder that
 *   holds anything (the kernel refuses it), so a folder that filled up meanwhile is left as it is. With
 *   `overwrite` the earlier folder is moved aside, the new one moved in, and only then the earlier one
 *   removed. Any failure (a full disk, an interrupt) removes the staging folder.
 * As in safe-output.ts, the folder moves an interrupt must undo are synchronous, so its handler sees them
 * as they are on disk.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { lstat, readdir, realpath } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { InputError } from '../errors.ts';
import { outputError, prepareOutputFolder, releaseOutputFolder, undoOnInterrupt } from './safe-output.ts';

const errno = (e: unknown) => (e as NodeJS.ErrnoException).code ?? '';
const WRITE_ERRORS = ['ENOSPC', 'EDQUOT', 'EFBIG', 'EROFS'];

export interface FolderTargetOptions {
  /** Replace a folder that holds anything (never one that holds an input). */
  overwrite?: boolean;
  /** Files read by the command: the target may not hold any of them, whatever its spelling or links. */
  inputs?: readonly string[];
}

/** Whether `inner` is `outer` or lies inside it (both absolute, links resolved). */
function within(inner: string, outer: string): boolean {
  return inner === outer || inner.startsWith(outer.endsWith(sep) ? outer : outer + sep);
}

/**
 * Refuse, with an InputError naming the target: a file in the way, a folder that holds one of `inputs`
 * (even with `overwrite`), a folder that holds anything (without `overwrite`).
 */
export async function checkOutputFolderTarget(target: string, opts: FolderTargetOptions = {}): Promise<void> {
  let st: Awaited<ReturnType<typeof lstat>>;
  try {
    st = await lstat(target);
  } catch (e) {
    if (errno(e) === 'ENOENT') return;
    if (errno(e) === 'ENOTDIR') {
      throw new InputError('a path component of the output folder is a file', 'BAD_ARGUMENT', target);
    }
    throw outputError(e, target);
  }
  if (st.isSymbolicLink()) {
    // The rename would replace the link, not the folder it names: ask for the folder itself.
    throw new InputError('output folder is a symbolic link; give the folder itself', 'BAD_ARGUMENT', target);
  }
  if (!st.isDirectory()) throw new InputError('output folder is a file', 'BAD_ARGUMENT', target);
  const real = await realpath(target);
  for (const input of opts.inputs ?? []) {
    const inputReal = await realpath(input).catch(() => resolve(input));
    if (within(inputReal, real)) {
      throw new InputError(
        `output folder holds the input ${input}; refusing even with --overwrite (choose another folder)`,
        'BAD_ARGUMENT',
        target,
      );
    }
  }
  const entries = await readdir(target);
  if (entries.length && !opts.overwrite) {
    throw new InputError(
      `output folder is not empty (${entries.length} entries); use --overwrite to replace it`,
      'BAD_ARGUMENT',
      target,
    );
  }
}

function hiddenSibling(target: string, kind: string): string {
  const abs = resolve(target);
  return join(dirname(abs), `.${basename(abs)}.${kind}-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/**
 * Have `fill(staging)` write the folder's contents into a staging folder, then put it at `target` whole
 * (see the module comment). Call `checkOutputFolderTarget` first, before any costly work. Resolves to
 * what `fill` resolved to.
 */
export async function writeWholeFolder<T>(
  target: string,
  fill: (staging: string) => Promise<T>,
  opts: { overwrite?: boolean } = {},
): Promise<T> {
  const parent = await prepareOutputFolder(dirname(resolve(target)));
  const staging = hiddenSibling(target, 'staging');
  let aside: string | undefined;
  // On an interrupt: drop the staging folder; an earlier folder moved aside goes back when the new one
  // is not in place yet, and is deleted when it is.
  // The retries: a file `fill` is creating right then (in the thread pool) can land while the folder is
  // being emptied; the handler holds the JS thread, so nothing new starts and a retry removes it.
  const removeStaging = () =>
    rmSync(staging, { recursive: true, force: true, maxRetries: 5, retryDelay: 20 });
  const release = undoOnInterrupt(() => {
    removeStaging();
    if (!aside || !existsSync(aside)) return;
    if (existsSync(target)) rmSync(aside, { recursive: true, force: true });
    else renameSync(aside, target);
  });
  try {
    let result: T;
    try {
      mkdirSync(staging);
      result = await fill(staging);
    } catch (e) {
      // A full disk and its kin are named by the target; anything else (an input that does not read)
      // speaks for itself.
      throw WRITE_ERRORS.includes(errno(e)) ? outputError(e, target) : e;
    }
    if (opts.overwrite && (await readdir(target).catch(() => [])).length) {
      aside = hiddenSibling(target, 'replaced');
      renameSync(target, aside);
    }
    try {
      renameSync(staging, target);
    } catch (e) {
      if (aside) renameSync(aside, target);
      aside = undefined;
      if (['ENOTEMPTY', 'EEXIST', 'ENOTDIR', 'EISDIR'].includes(errno(e))) {
        throw new InputError(
          'output folder appeared (or filled) while this run was writing it (another run?); left it untouched',
          'BAD_ARGUMENT',
          target,
        );
      }
      throw outputError(e, target);
    }
    if (aside) rmSync(aside, { recursive: true, force: true });
    aside = undefined;
    return result;
  } finally {
    removeStaging();
    release();
    await releaseOutputFolder(parent);
  }
}
