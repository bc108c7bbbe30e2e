/**
 * The brain-tumour (BraTS) task's data types: one subject is four co-registered MRI sequences on one grid
 * and, for training, a label map in the BraTS conventions.
 *
 * Raw BraTS labels: 0 background, 1 necrotic / non-enhancing tumour core (NCR/NET), 2 peritumoral oedema
 * (ED), 4 enhancing tumour (ET). BraTS 2021 and later number ET 3 instead of 4 (`'brats-3'`).
 */
import type { Volume } from '../volume/volume.ts';

export type BratsModality = 't1' | 't1ce' | 't2' | 'flair';

/** The four sequences in channel order: channel c of a network input is `BRATS_MODALITIES[c]`. */
export const BRATS_MODALITIES: readonly BratsModality[] = ['t1', 't1ce', 't2', 'flair'] as const;

/** The geometry shared by a subject's volumes (the project's `Volume` without its voxels). */
export type BratsGrid = Pick<Volume, 'dims' | 'spacing' | 'affine'>;

/** Which number the enhancing tumour has: 4 (BraTS 2012-2020) or 3 (BraTS 2021+). */
export type BratsLabelConvention = 'brats-4' | 'brats-3';

/** Raw BraTS label values. */
export const BRATS_LABEL = { background: 0, necrotic: 1, edema: 2, enhancing4: 4, enhancing3: 3 } as const;

export interface BratsSubject {
  id: string;
  /** Where the subject was read from (its folder, or the MSD image file). */
  dir: string;
  grid: BratsGrid;
  /** Voxel intensities of each sequence on `grid` (x fastest, as `Volume.data`), as read (not normalised). */
  channels: Record<BratsModality, Float32Array>;
  /** Raw BraTS labels on `grid` (0/1/2/4 or 0/1/2/3, see `labelConvention`); absent without a label file. */
  labels?: Uint8Array;
  /**
   * The convention the labels were found in. A label map with neither 3 nor 4 (no enhancing tumour) reads
   * the same in both; it is reported as `'brats-4'`, the convention of BraTS 2018 the paper used.
   */
  labelConvention?: BratsLabelConvention;
}

/** Whole tumour (1+2+ET, the paper's target), tumour core (1+ET), enhancing tumour (ET). */
export type BratsTarget = 'whole' | 'core' | 'enhancing';

export const BRATS_TARGETS: readonly BratsTarget[] = ['whole', 'core', 'enhancing'] as const;
