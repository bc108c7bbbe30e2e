/**
 * Open a dataset folder in any layout the project reads, recognised from its content:
 * `dataset.json` + `imagesTr/` -> MSD (or nnU-Net raw when images carry a `_0000` channel suffix);
 * `3Dircadb1.N/` folders (or one of them) -> 3D-IRCADb; otherwise LiTS (`volume-N` + `segmentation-N`).
 */
import { stat } from 'node:fs/promises';
import { isIrcadb, openIrcadb } from './ircadb.ts';
import { openLits } from './lits.ts';
import { isMsdLike, openMsd } from './msd.ts';
import type { Dataset } from './types.ts';

export type { CaseFiles, Dataset, DatasetLayout } from './types.ts';

export async function openDataset(dir: string): Promise<Dataset> {
  if (await isMsdLike(dir)) return openMsd(dir);
  if (await isIrcadb(dir)) return openIrcadb(dir);
  return openLits(dir);
}

/** The dataset a reference folder for `evaluate` is, when it is in a non-LiTS layout; else undefined. */
export async function referenceDataset(path: string): Promise<Dataset | undefined> {
  const st = await stat(path).catch(() => null);
  if (!st?.isDirectory()) return undefined;
  if ((await isMsdLike(path)) || (await isIrcadb(path))) return openDataset(path);
  return undefined;
}
