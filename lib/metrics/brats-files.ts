/**
 * `raunet evaluate --task brats`: predicted label maps (a file or a folder, named by subject id:
 * `<id>.nii.gz`, `<id>_seg.nii.gz`, ...; pairing rules of `pairing.ts`) against references, which are
 * either a brain-tumour dataset (BraTS subject folders or MSD Task01_BrainTumour: labels read as the
 * dataset reads them, and the brain mask from the four sequences, so specificity is over the brain) or
 * plain label files (specificity over the whole grid). Pairs are read one at a time.
 */
import { bratsBrainMask } from '../brats/normalise.ts';
import { bratsLabelConvention } from '../brats/subject.ts';
import type { BratsLabelConvention, BratsTarget } from '../brats/types.ts';
import { type BratsDataset, openBratsDataset } from '../datasets/brats.ts';
import { isBratsDataset } from '../datasets/index.ts';
import { InputError } from '../errors.ts';
import { readVolume } from '../volume/read.ts';
import { createVolume, type Volume } from '../volume/volume.ts';
import {
  aggregateBrats,
  BRATS_HD95_MAX_MM,
  type BratsEvaluation,
  type BratsSubjectResult,
  evaluateBratsSubject,
} from './brats.ts';
import { caseKey, listNiftiFiles, type Pairing, pairPaths } from './pairing.ts';

export interface BratsFilesOptions {
  regions?: readonly BratsTarget[];
  hd95Max?: number;
  onSubject?: (r: BratsSubjectResult, index: number, total: number) => void;
}

interface Reference {
  labels: Volume;
  convention: BratsLabelConvention;
  brain?: Uint8Array;
}

async function datasetPairing(
  predPath: string,
  ds: BratsDataset,
): Promise<{ pairing: Pairing; entries: Map<string, BratsDataset['subjects'][number]> }> {
  const preds = new Map((await listNiftiFiles(predPath, 'prediction')).files.map((f) => [caseKey(f), f]));
  const labelled = ds.subjects.filter((s) => s.labels);
  const entries = new Map(labelled.map((s) => [s.id, s]));
  return {
    pairing: {
      pairs: labelled
        .filter((s) => preds.has(s.id))
        .map((s) => ({ id: s.id, pred: preds.get(s.id)!, ref: s.path })),
      unpairedPred: [...preds].filter(([k]) => !entries.has(k)).map(([, f]) => f),
      unpairedRef: labelled.filter((s) => !preds.has(s.id)).map((s) => s.path),
    },
    entries,
  };
}

export async function evaluateBratsFiles(
  predPath: string,
  refPath: string,
  opts: BratsFilesOptions = {},
): Promise<{ evaluation: BratsEvaluation; pairing: Pairing }> {
  const regions = opts.regions ?? ['whole'];
  let pairing: Pairing;
  let readRef: (id: string, path: string) => Promise<Reference>;
  if (await isBratsDataset(refPath)) {
    const ds = await openBratsDataset(refPath);
    const made = await datasetPairing(predPath, ds);
    pairing = made.pairing;
    readRef = async (id) => {
      const s = await ds.readSubject(made.entries.get(id)!);
      const { dims, spacing, affine } = s.grid;
      return {
        labels: createVolume(s.labels!, dims, spacing, affine),
        convention: s.labelConvention ?? 'brats-4',
        brain: bratsBrainMask(s.channels),
      };
    };
  } else {
    pairing = await pairPaths(predPath, refPath);
    readRef = async (_id, path) => {
      const labels = await readVolume(path);
      return { labels, convention: bratsLabelConvention(labels.data, path) };
    };
  }
  if (pairing.pairs.length === 0) {
    throw new InputError(
      `no prediction pairs with a reference subject by name (${pairing.unpairedPred.length} predictions, ${pairing.unpairedRef.length} references; name predictions <subject id>[_seg].nii.gz)`,
      'NOT_FOUND',
      predPath,
    );
  }
  const subjects: BratsSubjectResult[] = [];
  for (const [i, p] of pairing.pairs.entries()) {
    const [pred, ref] = await Promise.all([readVolume(p.pred), readRef(p.id, p.ref)]);
    const predConvention = bratsLabelConvention(pred.data, p.pred);
    const r = evaluateBratsSubject(
      pred,
      ref.labels,
      `${p.id} (${p.pred} vs ${p.ref})`,
      { pred: predConvention, ref: ref.convention },
      { regions, brain: ref.brain, hd95Max: opts.hd95Max },
    );
    r.id = p.id;
    subjects.push(r);
    opts.onSubject?.(r, i, pairing.pairs.length);
  }
  return { evaluation: aggregateBrats(subjects, regions, opts.hd95Max ?? BRATS_HD95_MAX_MM), pairing };
}
