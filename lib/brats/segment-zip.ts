/**
 * A BraTS subject dropped as one `.zip` (the cloud's brain prefix): its sequence and label files are
 * unpacked, by base name only (no path from the archive is used), into one folder that
 * `readBratsSubject` then reads. Hidden files and macOS resource forks are skipped; the archive's size
 * after inflation is capped as for every other input (`unzipCapped`).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { InputError } from '../errors.ts';
import { unzipCapped } from '../volume/decompress.ts';

const SUBJECT_ENTRY = /_(t1|t1ce|t2|flair|seg)\.nii(\.gz)?$/i;

/** Unpack the subject files of `bytes` (the zip named `name`) into `dir`; returns `dir`. */
export async function unpackBratsSubjectZip(bytes: Uint8Array, name: string, dir: string): Promise<string> {
  const entries = unzipCapped(bytes, name, undefined, {
    keep: (entry) =>
      !entry.startsWith('__MACOSX/') && !basename(entry).startsWith('.') && SUBJECT_ENTRY.test(entry),
  });
  if (entries.length === 0) {
    throw new InputError(
      'no BraTS files (<id>_t1, _t1ce, _t2, _flair.nii[.gz]) in the archive',
      'NOT_FOUND',
      name,
    );
  }
  await mkdir(dir, { recursive: true });
  const seen = new Set<string>();
  for (const e of entries) {
    const file = basename(e.name);
    if (seen.has(file)) throw new InputError(`the archive holds ${file} twice`, 'BAD_ARGUMENT', name);
    seen.add(file);
    await writeFile(join(dir, file), e.bytes);
  }
  return dir;
}
