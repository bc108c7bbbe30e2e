/** Whole-file reads with user-facing errors, and atomic writes (temp file in the same folder + rename). */
import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { InputError } from '../errors.ts';

/** Read a whole input file; a missing file, a folder or a file too big for memory is an InputError. */
export async function readInputFile(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new InputError('no such file', 'NOT_FOUND', path);
    if (code === 'EISDIR') throw new InputError('is a folder, expected a file', 'BAD_ARGUMENT', path);
    if (code === 'ERR_FS_FILE_TOO_LARGE' || e instanceof RangeError) {
      throw new InputError('file too large to read into memory', 'TOO_LARGE', path);
    }
    throw e;
  }
}

/** Write `bytes` to `path` so that readers see either the old file or the complete new one. */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}
