/**
 * Whole-file reads with user-facing errors (regular files only, size-capped), and atomic writes (temp
 * file in the same folder + rename).
 */
import { randomBytes } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { type FileHandle, open, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { InputError } from '../errors.ts';
import { decompressionCap, formatBytes, type ReadOptions } from './decompress.ts';

/** Room above the cap for headers around capped voxel data (a .nii file is its voxels plus 352+ bytes). */
const HEADER_SLACK = 1024 ** 2;

/** What a path that is not a regular file is, for messages. */
export function fileKind(st: Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** An fs error of an input path as an InputError naming it (other errors pass through). */
export function inputPathError(e: unknown, path: string): unknown {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new InputError('no such file', 'NOT_FOUND', path);
  if (code === 'EISDIR') return new InputError('is a folder, expected a file', 'BAD_ARGUMENT', path);
  if (code === 'ELOOP')
    return new InputError('too many levels of symbolic links (a link loop?)', 'BAD_ARGUMENT', path);
  if (code === 'EACCES' || code === 'EPERM') return new InputError('permission denied', 'BAD_ARGUMENT', path);
  if (code === 'ENOTDIR') return new InputError('a path component is not a folder', 'NOT_FOUND', path);
  if (code === 'ENAMETOOLONG') return new InputError('name too long', 'BAD_ARGUMENT', path);
  if (code === 'ERR_FS_FILE_TOO_LARGE' || e instanceof RangeError) {
    return new InputError('file too large to read into memory', 'TOO_LARGE', path);
  }
  return e;
}

/**
 * Read a whole input file. Only regular files are read: a FIFO, device or socket is refused before it
 * is opened (it could block forever or never end), and so is a file larger than the decompression cap.
 * A missing file, a folder, a link loop or a file too big for memory is an InputError.
 */
export async function readInputFile(path: string, opts?: ReadOptions): Promise<Uint8Array> {
  let fh: FileHandle | undefined;
  try {
    const st = await stat(path);
    if (!st.isFile()) {
      throw new InputError(`is ${fileKind(st)}, expected a regular file`, 'BAD_ARGUMENT', path);
    }
    const cap = decompressionCap(opts);
    if (st.size > cap + HEADER_SLACK) {
      throw new InputError(
        `file is ${formatBytes(st.size)}, more than the cap of ${formatBytes(cap)}; raise maxDecompressedBytes or RAUNET_MAX_DECOMPRESSED_BYTES if it is genuine`,
        'TOO_LARGE',
        path,
      );
    }
    // O_NONBLOCK: should the path have become a FIFO since the stat, opening it must not wait for a writer.
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const st2 = await fh.stat();
    if (!st2.isFile()) {
      throw new InputError(`is ${fileKind(st2)}, expected a regular file`, 'BAD_ARGUMENT', path);
    }
    return await fh.readFile();
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw inputPathError(e, path);
  } finally {
    await fh?.close();
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
