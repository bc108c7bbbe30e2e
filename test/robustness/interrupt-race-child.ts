/**
 * Child of interrupt-race.test.ts: starts one output operation and, in the same task, delivers SIGTERM
 * to this process's handlers, while libuv's thread pool (one thread here: UV_THREADPOOL_SIZE=1) is held
 * by a slow job. An operation that changes a directory entry through the pool is therefore still queued
 * when the handler cleans up, and lands afterwards: what it leaves is what a real signal leaves when it
 * arrives during that syscall, made certain instead of rare. `process.exit` is held back until a marker
 * queued behind everything has run, so every queued operation has landed before the process ends.
 * `folder` makes three levels one after another: the signal comes as soon as the first one exists.
 *
 * argv: <mode: write | lock | folder> <folder>
 */
import { pbkdf2 } from 'node:crypto';
import { existsSync, stat } from 'node:fs';
import { join } from 'node:path';
import { lockCase, OutputBatch, prepareOutputFolder, undoOnInterrupt } from '../../lib/output/safe-output.ts';

const [mode, dir] = process.argv.slice(2);
const realExit = process.exit.bind(process);
process.exit = ((code?: number) => {
  // FIFO on one thread: when this marker's callback runs, every operation queued before it has run.
  stat(dir, () => realExit(code));
}) as typeof process.exit;

/** Hold the only pool thread for a while (a key derivation of many rounds). */
const holdPool = () => pbkdf2('hold', 'the pool', 300_000, 32, 'sha256', () => {});

// Something already tracked, as a run has by then (its output folder, an earlier batch): the handler
// is installed and runs, whatever the operation under test has recorded.
undoOnInterrupt(() => {});
holdPool();
if (mode === 'write') {
  void new OutputBatch().write(join(dir, 'case_seg.nii.gz'), 'bytes');
  process.emit('SIGTERM');
} else if (mode === 'lock') {
  void lockCase(dir, 'case');
  process.emit('SIGTERM');
} else if (mode === 'folder') {
  // Three levels to make: the signal comes as soon as the first exists, with the others still to come.
  void prepareOutputFolder(join(dir, 'made', 'by', 'run'));
  const signalOnFirst = () =>
    existsSync(join(dir, 'made')) ? process.emit('SIGTERM') : setImmediate(signalOnFirst);
  signalOnFirst();
} else throw new Error(`unknown mode ${mode}`);
