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
import { readInputFile } from './files.ts';
import { decodeNifti } from './nifti.ts';
import type { Volume } from './volume.ts';

export type { ReadOptions } from './decompress.ts';

/** Decode `.nii`, `.nii.gz`, a `.zip` of one DICOM series, or one DICOM file (recognised by content). */
export async function decodeVolumeBytes(
  name: string,
  bytes: Uint8Array,
  opts?: ReadOptions,
): Promise<Volume> {
  if (isZip(bytes)) {
    const entries = unzipCapped(bytes, name, opts).filter((e) => {
      const base = basename(e.name);
      return !e.name.startsWith('__MACOSX/') && !base.startsWith('.');
    });
    return decodeDicomSeries(entries, name, opts);
  }
  if (hasDicmPreamble(bytes)) return decodeDicomSeries([{ name: basename(name), bytes }], name, opts);
  return decodeNifti(bytes, name, opts);
}

/** Read a volume from a file (NIfTI, zip of DICOM, one DICOM file) or a folder (a DICOM series). */
export async function readVolume(path: string, opts?: ReadOptions): Promise<Volume> {
  let isDir: boolean;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT')
      throw new InputError('no such file or folder', 'NOT_FOUND', path);
    throw e;
  }
  if (isDir) return readDicomSeries(path, opts);
  return decodeVolumeBytes(path, await readInputFile(path), opts);
}
