/**
 * The volume operations the cloud steps need, behind one small interface so the stage logic can be tested
 * without real multi-hundred-megabyte scans. `libraryCodec` is the real one: the io engineer's readers and
 * writers, the numerics engineer's windowing and the pipeline's preview.
 */
import { type PreviewOptions, renderPreviewPng } from '../pipeline/preview.ts';
import { windowAndNormalize } from '../preprocess/window.ts';
import { decodeNifti, encodeNifti } from '../volume/nifti.ts';
import { decodeVolumeBytes, decodeVolumeBytesWithInfo, type VolumeWithInfo } from '../volume/read.ts';
import type { Volume } from '../volume/volume.ts';

export interface VolumeCodec {
  /** A dropped scan (`.nii`, `.nii.gz`, `.zip` of a DICOM series); throws `InputError` on bad input. */
  decodeScan(name: string, bytes: Uint8Array): Promise<Volume>;
  /** `decodeScan` that also keeps a DICOM series' references (for the results' DICOM SEG). */
  decodeScanWithInfo(name: string, bytes: Uint8Array): Promise<VolumeWithInfo>;
  /** A NIfTI written by the pipeline itself (preprocessed volume, masks). */
  decodeNifti(name: string, bytes: Uint8Array): Volume;
  /** gzip-compressed NIfTI-1 bytes. */
  encodeNifti(vol: Volume): Uint8Array;
  windowAndNormalize(vol: Volume): Volume<Float32Array>;
  /**
   * The CLI's preview (`renderPreviewPng`); `options` carry the header the report gives (case name,
   * demo-model mark, plausibility flags: `previewOptionsOf(report)`), as `raunet segment` passes them.
   */
  previewPng(ct: Volume, labels: Volume<Uint8Array>, options: PreviewOptions): Uint8Array;
}

export const libraryCodec: VolumeCodec = {
  decodeScan: (name, bytes) => decodeVolumeBytes(name, bytes),
  decodeScanWithInfo: (name, bytes) => decodeVolumeBytesWithInfo(name, bytes),
  decodeNifti: (name, bytes) => decodeNifti(bytes, name),
  encodeNifti: (vol) => encodeNifti(vol, { gzip: true, level: 1 }),
  windowAndNormalize: (vol) => windowAndNormalize(vol),
  previewPng: (ct, labels, options) => renderPreviewPng(ct, labels, options),
};
