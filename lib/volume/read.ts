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
import { inputPathError, readInputFile } from './files.ts';
import { assertFinite } from './finite.ts';
import { decodeNifti } from './nifti.ts';
import { decodeMetaImage, decodeNrrd, isMetaImage, isNrrd } from './nrrd-mha.ts';
import type { Volume } from './volume.ts';

export type { ReadOptions } from './decompress.ts';

/** A DICOM series whose geometry or rescaled values are not finite is refused (NIfTI: in decodeNifti). */
function finite(vol: Volume, name: string, scaling?: string): Volume {
  assertFinite(vol, name, scaling);
  return vol;
}

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

function asDicom(r: { volume: Volume; info: DicomSeriesInfo }, name: string): VolumeWithInfo {
  return { volume: finite(r.volume, name, 'RescaleSlope/RescaleIntercept'), dicom: r.info };
}

/** `decodeVolumeBytes` that keeps a DICOM series' references. */
export async function decodeVolumeBytesWithInfo(
  name: string,
  bytes: Uint8Array,
  opts?: ReadOptions,
): Promise<VolumeWithInfo> {
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
    return asDicom(await decodeDicomSeriesWithInfo(entries, name, opts), name);
  }
  if (hasDicmPreamble(bytes)) {
    return asDicom(await decodeDicomSeriesWithInfo([{ name: basename(name), bytes }], name, opts), name);
  }
  // NRRD / MetaImage: a detached header's data file is read beside it
  const load = (file: string) => readInputFile(join(dirname(name), file), opts);
  if (isNrrd(bytes)) return { volume: finite(await decodeNrrd(bytes, name, load, opts), name) };
  if (isMetaImage(bytes)) return { volume: finite(await decodeMetaImage(bytes, name, load, opts), name) };
  return { volume: await decodeNifti(bytes, name, opts) }; // checks its own values
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
    throw inputPathError(e, path);
  }
  if (isDir) return asDicom(await readDicomSeriesWithInfo(path, opts), path);
  return decodeVolumeBytesWithInfo(path, await readInputFile(path, opts), opts);
}
