/**
 * One entry point for input volumes: a NIfTI file, a folder holding a DICOM series, a .zip of a DICOM
 * series, or a single DICOM file; from disk (`readVolume`) or from bytes in memory (`decodeVolumeBytes`,
 * used on S3 objects).
 */
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { InputError } from '../errors.ts';
import { isZip, type ReadOptions, unzipCapped } from './decompress.ts';
import { decodeDicomSeries, hasDicmPreamble, readDicomSeries } from './dicom.ts';
import { inputPathError, readInputFile } from './files.ts';
import { assertFinite } from './finite.ts';
import { decodeNifti } from './nifti.ts';
import type { Volume } from './volume.ts';

export type { ReadOptions } from './decompress.ts';

/** A DICOM series whose geometry or rescaled values are not finite is refused (NIfTI: in decodeNifti). */
function finiteDicom(vol: Volume, name: string): Volume {
  assertFinite(vol, name, 'RescaleSlope/RescaleIntercept');
  return vol;
}

/** Decode `.nii`, `.nii.gz`, a `.zip` of one DICOM series, or one DICOM file (recognised by content). */
export async function decodeVolumeBytes(
  name: string,
  bytes: Uint8Array,
  opts?: ReadOptions,
): Promise<Volume> {
  if (isZip(bytes)) {
    // Entries that are not DICOM (macOS resource forks, hidden files, no DICM preamble) are skipped
    // before they are inflated, so a bomb entry among them costs nothing.
    const entries = unzipCapped(bytes, name, opts, {
      keep: (entry, head) =>
        !entry.startsWith('__MACOSX/') && !basename(entry).startsWith('.') && hasDicmPreamble(head),
    });
    if (entries.length === 0) {
      throw new InputError(
        'no DICOM files in the archive (no entry has the DICM preamble)',
        'BAD_SERIES',
        name,
      );
    }
    return finiteDicom(await decodeDicomSeries(entries, name, opts), name);
  }
  if (hasDicmPreamble(bytes)) {
    return finiteDicom(await decodeDicomSeries([{ name: basename(name), bytes }], name, opts), name);
  }
  return decodeNifti(bytes, name, opts); // checks its own values
}

/** Read a volume from a file (NIfTI, zip of DICOM, one DICOM file) or a folder (a DICOM series). */
export async function readVolume(path: string, opts?: ReadOptions): Promise<Volume> {
  let isDir: boolean;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT')
      throw new InputError('no such file or folder', 'NOT_FOUND', path);
    throw inputPathError(e, path);
  }
  if (isDir) return finiteDicom(await readDicomSeries(path, opts), path);
  return decodeVolumeBytes(path, await readInputFile(path, opts), opts);
}
