/**
 * Checkpoints of a training fold in S3, so that a fold job Batch retries on a new host (Spot reclaim,
 * instance failure) continues where the lost attempt stopped instead of starting over.
 *
 * A checkpoint is the fold's local output folder as `trainStage` keeps it (best model, manifest, ONNX
 * export, `metrics.jsonl`, `train-state.json`); `trainStage({ resume: true })` continues from such a
 * folder, so restoring one is all a retry needs. Two slots under the checkpoint prefix alternate
 * (`slot-a/`, `slot-b/`), and `latest.json` names the slot, its epoch and its files; it is written last.
 * A job killed while uploading leaves the previous checkpoint intact and still named by `latest.json`.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { isInputError } from '../errors.ts';
import { getJson, getUriBytes, putJson, putObjectBytes } from './object-store.ts';

export const CHECKPOINT_POINTER = 'latest.json';

const pointerSchema = z.object({
  slot: z.enum(['a', 'b']),
  /** Epochs done when the checkpoint was taken. */
  epoch: z.number().int().nonnegative(),
  /** Paths relative to the fold folder ('/'-separated), every file of the checkpoint. */
  files: z.array(z.string().regex(/^(?!\/)(?!.*(?:^|\/)\.\.(?:\/|$)).+$/, 'not a relative path')),
  at: z.string(),
});
export type CheckpointPointer = z.infer<typeof pointerSchema>;

const withSlash = (uri: string) => (uri.endsWith('/') ? uri : `${uri}/`);

/** `getJson` reports a missing object as an InputError NOT_FOUND. */
const isMissing = (e: unknown) => isInputError(e) && e.code === 'NOT_FOUND';

/** The checkpoint pointer under `uri`, or null when no checkpoint was taken yet. */
export async function readCheckpointPointer(s3: S3Client, uri: string): Promise<CheckpointPointer | null> {
  let raw: unknown;
  try {
    raw = await getJson(s3, `${withSlash(uri)}${CHECKPOINT_POINTER}`);
  } catch (e) {
    if (isMissing(e)) return null;
    throw e;
  }
  const parsed = pointerSchema.safeParse(raw);
  if (!parsed.success)
    throw new Error(`checkpoint pointer ${withSlash(uri)}${CHECKPOINT_POINTER} is malformed`);
  return parsed.data;
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && !e.name.endsWith('.tmp'))
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .sort();
}

/**
 * Upload the fold folder `dir` as the checkpoint of `epoch`: into the slot `latest.json` does not name,
 * then `latest.json`. Resolves to the new pointer.
 */
export async function saveFoldCheckpoint(
  s3: S3Client,
  uri: string,
  dir: string,
  epoch: number,
  now: () => Date = () => new Date(),
): Promise<CheckpointPointer> {
  const root = withSlash(uri);
  const previous = await readCheckpointPointer(s3, root);
  const slot = previous?.slot === 'a' ? 'b' : 'a';
  const files = await filesUnder(dir);
  for (const rel of files) {
    await putObjectBytes(s3, `${root}slot-${slot}/${rel}`, await readFile(path.join(dir, rel)));
  }
  const pointer: CheckpointPointer = { slot, epoch, files, at: now().toISOString() };
  await putJson(s3, `${root}${CHECKPOINT_POINTER}`, pointer);
  return pointer;
}

/**
 * Download the latest checkpoint under `uri` into the fold folder `dir` (created). Resolves to its
 * pointer (the epoch to resume after), or null when there is none (nothing is written then).
 */
export async function restoreFoldCheckpoint(
  s3: S3Client,
  uri: string,
  dir: string,
): Promise<CheckpointPointer | null> {
  const root = withSlash(uri);
  const pointer = await readCheckpointPointer(s3, root);
  if (!pointer) return null;
  await mkdir(dir, { recursive: true });
  for (const rel of pointer.files) {
    const dest = path.join(dir, ...rel.split('/'));
    await mkdir(path.dirname(dest), { recursive: true });
    await writeFile(dest, await getUriBytes(s3, `${root}slot-${pointer.slot}/${rel}`));
  }
  return pointer;
}

/** True at the epochs a checkpoint is due: every `every` epochs (never when `every` is 0). */
export function checkpointDue(epoch: number, every: number): boolean {
  return every > 0 && epoch > 0 && epoch % every === 0;
}
