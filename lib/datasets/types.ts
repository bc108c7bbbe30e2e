/** One interface over the dataset layouts the project reads (LiTS, MSD / nnU-Net raw, 3D-IRCADb). */
import type { Volume } from '../volume/volume.ts';

export type DatasetLayout = 'lits' | 'msd' | 'nnunet' | 'ircadb';

/** Where a case lives: `volume` the CT (file, DICOM folder or zip), `segmentation` its labels. */
export interface CaseFiles {
  id: string;
  volume: string;
  segmentation: string;
}

export interface Dataset {
  layout: DatasetLayout;
  root: string;
  cases: CaseFiles[];
  /** Cases found but unusable (missing label, ...), each with its reason. */
  problems: Array<{ id: string; reason: string }>;
  /** The CT in HU and the labels (0 background, 1 liver, 2 tumour) on the same grid. */
  readCase(c: CaseFiles): Promise<{ ct: Volume; labels: Volume }>;
  /** The labels alone (for evaluation). */
  readLabels(c: CaseFiles): Promise<Volume>;
}
