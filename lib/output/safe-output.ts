/**
 * Writing outputs without destroying or half-writing anything (docs/robustness.md). Every command that
 * writes files goes through here:
 * - `checkOutputTargets`: before any work, refuse a target that is one of the inputs (always) or that
 *   already exists (unless `overwrite`), or that is a folder;
 * - `prepareOutputFolder`: create the output folder up front, failing at once with one line when it
 *   cannot be (a file in the way, /proc, no permission), and remember what it created so that a run
 *   that wrote nothing leaves no empty folder (`releaseOutputFolder`);
 * - `OutputBatch`: the files of one case go to hidden temporary names beside their targets and are
 *   renamed into place together at `commit()` (without `overwrite`, by a no-clobber link, so a file that
 *   appeared meanwhile is never replaced); any failure removes what the batch wrote;
 * - `lockCase`: an exclusive-create lock file per case, so two runs cannot write one case at once;
 * - on SIGINT/SIGTERM every open batch, lock and created-but-empty folder is removed, then the process
 *   exits with 130 (SIGINT) or 143 (SIGTERM).
 *
 * Every directory entry an interrupt may have to undo (a temporary file, a placed target, a lock, a
 * created folder) is created, renamed or removed synchronously, in the same task that records it. Node
 * runs a signal handler between tasks, so the handler always finds a record that matches the disk. An
 * asynchronous create still queued in libuv's thread pool would land after the handler's cleanup and be
 * left behind (CI saw a `.part` file survive SIGTERM that way). File contents are still written
 * asynchronously, through a descriptor opened synchronously: writing bytes creates no entry.
 */
import { randomBytes } from 'node:crypto';
import {
  accessSync,
  closeSync,
  constants,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFile as writeFd,
  writeFileSync,
} from 'node:fs';
import { lstat, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { InputError } from '../errors.ts';

const errno = (e: unknown) => (e as NodeJS.ErrnoException).code ?? '';

// --- cleanup on interrupt -----------------------------------------------------------------------------

/** Something to undo synchronously if the process is interrupted. */
interface Undo {
  undoSync(): void;
}

const pending = new Set<Undo>();
const SIGNAL_EXIT: Record<'SIGINT' | 'SIGTERM', number> = { SIGINT: 130, SIGTERM: 143 };

function onSignal(sig: 'SIGINT' | 'SIGTERM'): void {
  // Newest first: a case's files before its lock, the lock before the folder holding it.
  for (const u of [...pending].reverse()) {
    try {
      u.undoSync();
    } catch {
      // best effort: keep undoing the rest
    }
  }
  pending.clear();
  process.stderr.write(`interrupted (${sig}): removed this run's unfinished outputs\n`);
  process.exit(SIGNAL_EXIT[sig]);
}
const onInt = () => onSignal('SIGINT');
const onTerm = () => onSignal('SIGTERM');

function track(u: Undo): void {
  if (pending.size === 0) {
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  }
  pending.add(u);
}

function untrack(u: Undo): void {
  if (!pending.delete(u) || pending.size > 0) return;
  process.off('SIGINT', onInt);
  process.off('SIGTERM', onTerm);
}

/**
 * Run `undoSync` if the process is interrupted (SIGINT/SIGTERM) before the returned function is called;
 * for writers outside this module (lib/output/whole-folder.ts).
 */
export function undoOnInterrupt(undoSync: () => void): () => void {
  const u: Undo = { undoSync };
  track(u);
  return () => untrack(u);
}

// --- checks before any work ---------------------------------------------------------------------------

/** `dev:ino` of what `path` names (following links), undefined when nothing is there. */
async function identity(path: string): Promise<string | undefined> {
  try {
    const s = await stat(path);
    return `${s.dev}:${s.ino}`;
  } catch {
    return undefined;
  }
}

export interface TargetCheckOptions {
  /** Replace existing files (never the inputs). */
  overwrite?: boolean;
  /** Files read by the command: no target may be one of them, whatever its spelling or link. */
  inputs?: readonly string[];
}

/**
 * Refuse, with an InputError naming the target, any target that is one of `inputs` (same file by
 * device and inode, even with `overwrite`), that is a folder, or that exists without `overwrite`.
 */
export async function checkOutputTargets(
  targets: readonly string[],
  opts: TargetCheckOptions = {},
): Promise<void> {
  const inputIds = new Map<string, string>();
  for (const p of opts.inputs ?? []) {
    const id = await identity(p);
    if (id) inputIds.set(id, p);
  }
  const existing: string[] = [];
  for (const t of targets) {
    let st: Awaited<ReturnType<typeof lstat>>;
    try {
      st = await lstat(t);
    } catch (e) {
      if (errno(e) === 'ENOENT') continue;
      if (errno(e) === 'ENOTDIR') {
        throw new InputError('a path component of the output is a file, not a folder', 'BAD_ARGUMENT', t);
      }
      throw e;
    }
    const id = await identity(t);
    const input = id === undefined ? undefined : inputIds.get(id);
    if (input !== undefined) {
      throw new InputError(
        `output would overwrite the input ${input}; refusing even with --overwrite (choose another output)`,
        'BAD_ARGUMENT',
        t,
      );
    }
    if (st.isDirectory()) {
      throw new InputError('output path is a folder, expected a file name', 'BAD_ARGUMENT', t);
    }
    existing.push(t);
  }
  if (existing.length && !opts.overwrite) {
    const more = existing.length > 1 ? ` (and ${existing.length - 1} more output file(s))` : '';
    throw new InputError(`output exists${more}; use --overwrite to replace it`, 'BAD_ARGUMENT', existing[0]);
  }
}

/** An output folder made ready by `prepareOutputFolder`. */
export interface OutputFolder {
  path: string;
  /** The topmost folder this run created (undefined when `path` existed). */
  created?: string;
}

function describeFsError(e: unknown): string {
  const code = errno(e);
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'read-only file system';
    case 'ENOTDIR':
    case 'EEXIST':
      return 'a file is in the way';
    case 'ENOENT':
      return 'a folder cannot be created there';
    case 'ENOSPC':
      return 'no space left on device';
    case 'EDQUOT':
      return 'disk quota exceeded';
    case 'EFBIG':
      return 'file too large (file size limit)';
    case 'ELOOP':
      return 'too many levels of symbolic links';
    case 'ENAMETOOLONG':
      return 'name too long';
    default:
      return code || (e instanceof Error ? e.message : String(e));
  }
}

/**
 * Create the output folder (and missing parents), or fail at once with one line: a file in the way,
 * a place where folders cannot be made (/proc, /dev/null/x), no permission. The result says what was
 * created, for `releaseOutputFolder`.
 */
export async function prepareOutputFolder(dir: string): Promise<OutputFolder> {
  const abs = resolve(dir);
  // The first missing folder on the way down: the one this run creates (and may remove again).
  let created: string | undefined;
  for (let p = abs; ; p = dirname(p)) {
    try {
      const st = statSync(p);
      if (!st.isDirectory()) {
        throw new InputError(
          p === abs ? 'output folder is a file' : `cannot create the output folder: ${p} is a file`,
          'BAD_ARGUMENT',
          dir,
        );
      }
      break;
    } catch (e) {
      if (e instanceof InputError) throw e;
      if (errno(e) === 'ENOTDIR') {
        throw new InputError('cannot create the output folder: a file is in the way', 'BAD_ARGUMENT', dir);
      }
      if (errno(e) !== 'ENOENT') {
        throw new InputError(`cannot use the output folder: ${describeFsError(e)}`, 'BAD_ARGUMENT', dir);
      }
      created = p;
    }
    if (dirname(p) === p) break;
  }
  const folder: OutputFolder = { path: dir, created };
  // Tracked before the first mkdir, which (like every mkdir here) is synchronous: an interrupt at any
  // point removes exactly the empty folders made so far.
  if (created) track(folderUndo(folder));
  try {
    // One level at a time from the first missing folder down, never `recursive`: Node's recursive mkdir
    // can spin on places that refuse folders without a clear error (/proc).
    if (created) {
      const missing: string[] = [];
      for (let p = abs; p !== dirname(created); p = dirname(p)) missing.unshift(p);
      for (const p of missing) mkdirSync(p);
    }
    accessSync(abs, constants.W_OK);
  } catch (e) {
    removeEmptyChainSync(folder);
    const u = folderUndos.get(folder);
    if (u) untrack(u);
    throw new InputError(
      `cannot ${created ? 'create' : 'write to'} the output folder: ${describeFsError(e)}`,
      'BAD_ARGUMENT',
      dir,
    );
  }
  return folder;
}

const folderUndos = new WeakMap<OutputFolder, Undo>();

function folderUndo(f: OutputFolder): Undo {
  const u: Undo = { undoSync: () => removeEmptyChainSync(f) };
  folderUndos.set(f, u);
  return u;
}

function removeEmptyChainSync(f: OutputFolder): void {
  if (!f.created) return;
  const top = f.created;
  for (let p = resolve(f.path); p.startsWith(top); p = dirname(p)) {
    try {
      rmdirSync(p); // refuses (ENOTEMPTY) once a folder holds anything: then we are done
    } catch (e) {
      // ENOENT: an interrupt before this level was made; its parents may still be ours and empty
      if (errno(e) !== 'ENOENT') return;
    }
    if (p === top) return;
  }
}

/** Done with the folder: remove the folders this run created if they are still empty. */
export async function releaseOutputFolder(f: OutputFolder): Promise<void> {
  removeEmptyChainSync(f);
  const u = folderUndos.get(f);
  if (u) untrack(u);
}

// --- one case's files, all or nothing ------------------------------------------------------------------

function tempName(target: string): string {
  return join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.part`);
}

/** Write all of `bytes` to the open descriptor `fd` (asynchronously: no directory entry changes). */
function writeAll(fd: number, bytes: Uint8Array | string): Promise<void> {
  return new Promise((done, fail) => writeFd(fd, bytes, (e) => (e ? fail(e) : done())));
}

/**
 * The output files of one case: `write` puts each under a temporary name beside its target, `commit`
 * moves them all into place, `abort` (or any failure of `write`/`commit`) removes everything the batch
 * wrote. Without `overwrite`, `commit` never replaces a file that exists by then.
 */
export class OutputBatch implements Undo {
  private readonly staged = new Map<string, string>();
  private readonly placed: string[] = [];
  private open = true;

  constructor(private readonly opts: { overwrite?: boolean } = {}) {
    track(this);
  }

  /** Write `bytes` for `target` (under a temporary name until `commit`). */
  async write(target: string, bytes: Uint8Array | string): Promise<void> {
    if (!this.open) throw new Error('output batch already closed');
    const tmp = tempName(target);
    let fd: number;
    try {
      fd = openSync(tmp, 'wx');
    } catch (e) {
      await this.abort();
      throw outputError(e, target);
    }
    this.staged.set(target, tmp); // in the task that created it (see the module comment)
    try {
      try {
        await writeAll(fd, bytes);
      } finally {
        closeSync(fd);
      }
    } catch (e) {
      await this.abort();
      throw outputError(e, target);
    }
  }

  /** Move every written file to its target; on failure nothing of the batch is left. */
  async commit(): Promise<string[]> {
    try {
      for (const [target, tmp] of this.staged) {
        if (this.opts.overwrite) renameSync(tmp, target);
        else placeNoClobber(tmp, target);
        this.placed.push(target);
      }
    } catch (e) {
      await this.abort();
      throw outputError(e, this.staged.size ? [...this.staged.keys()][this.placed.length] : '');
    }
    this.open = false;
    untrack(this);
    return [...this.placed];
  }

  /** Remove the temporary files and whatever `commit` already placed. */
  async abort(): Promise<void> {
    this.open = false;
    this.undoSync();
    untrack(this);
    this.staged.clear();
    this.placed.length = 0;
  }

  undoSync(): void {
    for (const p of [...this.staged.values(), ...this.placed]) rmSync(p, { force: true });
  }
}

/** rename(tmp, target) that fails instead of replacing an existing target (hard link, then unlink). */
function placeNoClobber(tmp: string, target: string): void {
  try {
    linkSync(tmp, target);
  } catch (e) {
    if (errno(e) === 'EEXIST') {
      throw new InputError(
        'output appeared while this run was writing it (another run?); left it untouched',
        'BAD_ARGUMENT',
        target,
      );
    }
    // File systems without hard links: check, then rename (a small window, but never a silent replace
    // of a file that was there when we looked).
    if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EXDEV', 'EMLINK'].includes(errno(e))) throw e;
    try {
      lstatSync(target);
      throw new InputError(
        'output appeared while this run was writing it; left it untouched',
        'BAD_ARGUMENT',
        target,
      );
    } catch (e2) {
      if (errno(e2) !== 'ENOENT') throw e2;
    }
    renameSync(tmp, target);
    return;
  }
  unlinkSync(tmp);
}

/** A write failure as one line naming the file: InputErrors pass through; ENOSPC and friends get a message. */
export function outputError(e: unknown, target: string): Error {
  if (e instanceof InputError || !errno(e)) return e as Error;
  const err = new Error(`${target}: cannot write: ${describeFsError(e)}`);
  (err as NodeJS.ErrnoException).code = errno(e);
  return err;
}

// --- one writer per case -------------------------------------------------------------------------------

export interface CaseLock {
  release(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errno(e) === 'EPERM';
  }
}

/**
 * Take the lock of case `name` in `dir` (exclusive create of `.<name>.raunet-lock` holding our pid).
 * A lock held by a live process is an InputError; one left by a dead process is taken over.
 */
export async function lockCase(dir: string, name: string): Promise<CaseLock> {
  const path = join(dir, `.${name}.raunet-lock`);
  const undo: Undo = {
    undoSync: () => {
      try {
        if (lstatSync(path).isFile()) rmSync(path, { force: true });
      } catch {
        // already gone
      }
    },
  };
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: 'wx' });
      track(undo); // in the task that created it (see the module comment)
      break;
    } catch (e) {
      if (errno(e) !== 'EEXIST') throw outputError(e, path);
      let pid = Number.NaN;
      try {
        pid = Number(readFileSync(path, 'utf8').trim());
      } catch {
        // vanished meanwhile: try again
      }
      if (attempt > 0 || (Number.isInteger(pid) && pid > 0 && alive(pid))) {
        throw new InputError(
          `another raunet run${pid > 0 ? ` (pid ${pid})` : ''} is writing this case's outputs (lock ${path}); wait for it or choose another --out`,
          'BAD_ARGUMENT',
          join(dir, name),
        );
      }
      rmSync(path, { force: true }); // stale: its process is gone
    }
  }
  return {
    async release() {
      undo.undoSync();
      untrack(undo);
    },
  };
}
