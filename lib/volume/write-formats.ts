/**
 * One entry point for writing a volume in the format its file name asks for: NIfTI-1 (`.nii`,
 * `.nii.gz`), NRRD (`.nrrd` attached, `.nhdr` + data file) or MetaImage (`.mha` attached, `.mhd` + data
 * file). Returns every file to write as [path, bytes] (a detached header and its data file together), so
 * callers write them all or none (`lib/output/safe-output.ts`). No file system access here.
 */
import { encodeNifti } from './nifti.ts';
import { encodeMetaImage, encodeNrrd } from './nrrd-mha-write.ts';
import type { Volume } from './volume.ts';

export const WRITABLE_SUFFIXES = ['.nii', '.nii.gz', '.nrrd', '.nhdr', '.mha', '.mhd'] as const;
const WRITABLE = /\.(nii|nii\.gz|nrrd|nhdr|mha|mhd)$/i;

export function isWritableVolumeName(path: string): boolean {
  return WRITABLE.test(path);
}

export interface VolumeWriteOptions {
  /** gzip / zlib the voxel data (`.nii` is never compressed, `.nii.gz` always); default true. */
  compress?: boolean;
}

/** The data file a detached header (`.nhdr`, `.mhd`) names: beside it, same base name. */
export function detachedDataPath(path: string, compress = true): string | undefined {
  if (/\.nhdr$/i.test(path)) return path.replace(/\.nhdr$/i, compress ? '.raw.gz' : '.raw');
  if (/\.mhd$/i.test(path)) return path.replace(/\.mhd$/i, compress ? '.zraw' : '.raw');
  return undefined;
}

/** The files of `vol` written as `path` says; a RangeError when the name has no writable suffix. */
export function encodeVolumeFiles(
  path: string,
  vol: Volume,
  opts: VolumeWriteOptions = {},
): Array<[string, Uint8Array]> {
  const compress = opts.compress ?? true;
  if (/\.nii(\.gz)?$/i.test(path)) return [[path, encodeNifti(vol, { gzip: /\.gz$/i.test(path) })]];
  const dataPath = detachedDataPath(path, compress);
  // the header names its data file relative to its own folder
  const dataFile = dataPath?.slice(Math.max(dataPath.lastIndexOf('/'), dataPath.lastIndexOf('\\')) + 1);
  let encoded: ReturnType<typeof encodeNrrd>;
  if (/\.(nrrd|nhdr)$/i.test(path)) encoded = encodeNrrd(vol, { compress, dataFile });
  else if (/\.(mha|mhd)$/i.test(path)) encoded = encodeMetaImage(vol, { compress, dataFile });
  else throw new RangeError(`${path}: not a writable volume name (${WRITABLE_SUFFIXES.join(', ')})`);
  const files: Array<[string, Uint8Array]> = [[path, encoded.header]];
  if (dataPath && encoded.data) files.push([dataPath, encoded.data]);
  return files;
}
