/**
 * Writing a model folder (`model.json`, `weights.bin`, `model.onnx`, `manifest.json`) so that it is never
 * half-written (docs/robustness.md): every byte goes to a staging folder beside the target first, so a
 * failed write (a full disk, an export error) leaves the earlier model untouched; only then are the files
 * moved in by renames, which need no new space. `manifest.json` marks a complete model for every loader:
 * it is removed before the first rename and moved in after the last one, so even a crash during the
 * moves leaves a folder that loaders refuse ("manifest.json: not found"), never new weights described by
 * an old manifest or an old `model.onnx` standing in for new weights.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { outputError } from './safe-output.ts';

/** The file whose presence marks a complete model (`lib/model/storage.ts` writes and reads it). */
export const MODEL_MARKER = 'manifest.json';
/** Every file a checkpoint consists of; one missing from the staged set is removed from the target. */
export const MODEL_FILES = ['model.json', 'weights.bin', 'model.onnx', MODEL_MARKER] as const;

/**
 * Write a model into `dir` through a staging folder: `writeModel(staging)` writes the files there
 * (anything not in MODEL_FILES is ignored), then they replace the model files of `dir`. On any failure
 * the staging folder is removed; `dir` keeps its earlier model when the failure came before the moves.
 */
export async function replaceModelFiles(
  dir: string,
  writeModel: (staging: string) => Promise<void>,
): Promise<void> {
  await mkdir(dir, { recursive: true });
  // A sibling, hidden, and not named fold-<k>: no fold listing or folder upload ever sees it.
  const staging = join(
    dirname(dir),
    `.${basename(dir)}.staging-${process.pid}-${randomBytes(4).toString('hex')}`,
  );
  try {
    await mkdir(staging);
    try {
      await writeModel(staging);
    } catch (e) {
      throw outputError(e, join(dir, MODEL_MARKER));
    }
    const staged = new Set(await readdir(staging));
    if (!staged.has(MODEL_MARKER)) throw new Error(`${staging}: the model writer wrote no ${MODEL_MARKER}`);
    await rm(join(dir, MODEL_MARKER), { force: true });
    for (const name of MODEL_FILES) {
      if (name === MODEL_MARKER) continue;
      if (staged.has(name)) await rename(join(staging, name), join(dir, name));
      else await rm(join(dir, name), { force: true });
    }
    await rename(join(staging, MODEL_MARKER), join(dir, MODEL_MARKER));
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
