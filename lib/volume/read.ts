/**
 * One entry point for input volumes: a NIfTI file, a folder holding a DICOM series, a .zip of a DICOM
 * series, or a single DICOM file; from disk (`readVolume`) or from bytes in memory (`decodeVolumeBytes`,
 * used on S3 objects).
 */
import { stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { InputError } from '../errors.ts';
import { isZip, type ReadOptions, unzipCapped } from './decompress.ts';
import {
  type DicomSeriesInfo,
  decodeDicomSeriesWithInfo,
  hasDicmPreamble,
  readDicomSeriesWithInfo,
} from './dicom.ts';
import { readInputFile } from './files.ts';
import { decodeNifti } from './nifti.ts';
import { decodeMetaImage, decodeNrrd, isMetaImage, isNrrd } from './nrrd-mha.ts';
import type { Volume } from './volume.ts';

export type { ReadOptions } from './decompress.ts';

/** Decode `.nii`, `.nii.gz`, a `.zip` of one DICOM series, or one DICOM file (recognised by content). */
export async function decodeVolumeBytes(
  name: string,
  bytes: Uint8Array,
  opts?: ReadOptions,
): Promise<Volume> {
  return (await decodeVolumeBytesWithInfo(name, bytes, opts)).volume;
}

/** A volume and, when it came from DICOM, the series' references (for writing a DICOM SEG of it). */
export interface VolumeWithInfo {
  volume: Volume;
  dicom?: DicomSeriesInfo;
}

function asDicom(r: { volume: Volume; info: DicomSeriesInfo }): VolumeWithInfo {
  return { volume: r.volume, dicom: r.info };
}

/** `decodeVolumeBytes` that keeps a DICOM series' references. */
export async function decodeVolumeBytesWithInfo(
  name: string,
  bytes: Uint8Array,
  opts?: ReadOptions,
): Promise<VolumeWithInfo> {
  if (isZip(bytes)) {
    const entries = unzipCapped(bytes, name, opts).filter((e) => {
      const base = basename(e.name);
      return !e.name.startsWith('__MACOSX/') && !base.startsWith('.');
    });
    return asDicom(await decodeDicomSeriesWithInfo(entries, name, opts));
  }
  if (hasDicmPreamble(bytes)) {
    return asDicom(await decodeDicomSeriesWithInfo([{ name: basename(name), bytes }], name, opts));
  }
  // NRRD / MetaImage: a detached header's data file is read beside it
  const load = (file: string) => readInputFile(join(dirname(name), file));
  if (isNrrd(bytes)) return { volume: await decodeNrrd(bytes, name, load, opts) };
  if (isMetaImage(bytes)) return { volume: await decodeMetaImage(bytes, name, load, opts) };
  return { volume: await decodeNifti(bytes, name, opts) };
}

/** Read a volume from a file (NIfTI, zip of DICOM, one DICOM file) or a folder (a DICOM series). */
export async function readVolume(path: string, opts?: ReadOptions): Promise<Volume> {
  return (await readVolumeWithInfo(path, opts)).volume;
}

/** `readVolume` that keeps a DICOM series' references. */
export async function readVolumeWithInfo(path: string, opts?: ReadOptions): Promise<VolumeWithInfo> {
  let isDir: boolean;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT')
      throw new InputError('no such file or folder', 'NOT_FOUND', path);
    throw e;
  }
  if (isDir) return asDicom(await readDicomSeriesWithInfo(path, opts));
  return decodeVolumeBytesWithInfo(path, await readInputFile(path), opts);
}
