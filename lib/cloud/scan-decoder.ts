/**
 * Decoding of a dropped scan by file name. Delegates to `decodeVolumeBytes` of `lib/volume/read.ts` once
 * the io engineer's reader lands; until then NIfTI is decoded here and a DICOM `.zip` is refused with a
 * clear UNSUPPORTED error (never silently accepted).
 */
import { InputError } from '../errors.ts';
import { decodeNifti } from '../volume/nifti.ts';
import type { Volume } from '../volume/volume.ts';

export async function decodeScanBytes(name: string, bytes: Uint8Array): Promise<Volume> {
  const lower = name.toLowerCase();
  if (lower.endsWith('.nii') || lower.endsWith('.nii.gz')) return decodeNifti(bytes, name);
  if (lower.endsWith('.zip')) {
    throw new InputError('DICOM .zip input is not supported by this build yet', 'UNSUPPORTED', name);
  }
  throw new InputError('unsupported file type (expected .nii, .nii.gz or .zip)', 'UNSUPPORTED', name);
}
