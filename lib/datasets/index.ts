/**
 * Open a dataset folder in any layout the project reads, recognised from its content:
 * `dataset.json` + `imagesTr/` -> MSD (or nnU-Net raw when images carry a `_0000` channel suffix);
 * `3Dircadb1.N/` folders (or one of them) -> 3D-IRCADb; otherwise LiTS (`volume-N` + `segmentation-N`).
 * Brain-tumour datasets (BraTS subject folders, MSD Task01_BrainTumour) open with `openBratsDataset`;
 * `openDataset` refuses them with a line saying so, and `openAnyDataset` tells the two tasks apart.
 */
import { stat } from 'node:fs/promises';
import { InputError } from '../errors.ts';
import { type BratsDataset, isBratsFolder, isMsdBrats, openBratsDataset } from './brats.ts';
import { isIrcadb, openIrcadb } from './ircadb.ts';
import { openLits } from './lits.ts';
import { isMsdLike, openMsd } from './msd.ts';
import type { Dataset } from './types.ts';

export type { BratsDataset, BratsLayout, BratsSubjectEntry } from './brats.ts';
export type { CaseFiles, Dataset, DatasetLayout } from './types.ts';

/** True when `dir` holds a brain-tumour dataset (MSD Task01_BrainTumour, or BraTS subject folders). */
export async function isBratsDataset(dir: string): Promise<boolean> {
  return (
    (await isMsdBrats(dir)) ||
    (!(await isMsdLike(dir)) && !(await isIrcadb(dir)) && (await isBratsFolder(dir)))
  );
}

export async function openDataset(dir: string): Promise<Dataset> {
  if (await isBratsDataset(dir)) {
    throw new InputError(
      'a brain-tumour (BraTS) dataset of four MRI sequences, not CT: use the BraTS task (--task brats)',
      'BAD_ARGUMENT',
      dir,
    );
  }
  if (await isMsdLike(dir)) return openMsd(dir);
  if (await isIrcadb(dir)) return openIrcadb(dir);
  return openLits(dir);
}

/** A dataset of either task: CT (liver) cases or brain-tumour subjects. */
export type AnyDataset = { task: 'liver'; dataset: Dataset } | { task: 'brats'; dataset: BratsDataset };

export async function openAnyDataset(dir: string): Promise<AnyDataset> {
  if (await isBratsDataset(dir)) return { task: 'brats', dataset: await openBratsDataset(dir) };
  return { task: 'liver', dataset: await openDataset(dir) };
}

/** The dataset a reference folder for `evaluate` is, when it is in a non-LiTS layout; else undefined. */
export async function referenceDataset(path: string): Promise<Dataset | undefined> {
  const st = await stat(path).catch(() => null);
  if (!st?.isDirectory()) return undefined;
  if ((await isMsdLike(path)) || (await isIrcadb(path))) return openDataset(path);
  return undefined;
}
