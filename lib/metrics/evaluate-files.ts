/**
 * Evaluate prediction files against reference files (the work behind `raunet evaluate`): pair them by
 * name, read each pair, compute the LiTS metrics, aggregate. Pairs are read one at a time.
 */

import { referenceDataset } from '../datasets/index.ts';
import { InputError } from '../errors.ts';
import { readVolume } from '../volume/read.ts';
import type { Volume } from '../volume/volume.ts';
import { aggregateCases, type CaseResult, type Evaluation, evaluateCase } from './lits.ts';
import { caseKey, listNiftiFiles, type Pairing, pairPaths } from './pairing.ts';

export interface FileEvaluation {
  evaluation: Evaluation;
  pairing: Pairing;
}

export async function evaluateFiles(
  predPath: string,
  refPath: string,
  opts: { onCase?: (c: CaseResult, index: number, total: number) => void } = {},
): Promise<FileEvaluation> {
  // a reference folder in a dataset layout (MSD, nnU-Net raw, 3D-IRCADb): its cases by id
  const dataset = await referenceDataset(refPath);
  let readRef: (path: string) => Promise<Volume> = (path) => readVolume(path);
  let pairing: Pairing;
  if (dataset) {
    const preds = new Map((await listNiftiFiles(predPath, 'prediction')).files.map((f) => [caseKey(f), f]));
    const byRef = new Map(dataset.cases.map((c) => [c.segmentation, c]));
    pairing = {
      pairs: dataset.cases
        .filter((c) => preds.has(c.id))
        .map((c) => ({ id: c.id, pred: preds.get(c.id) as string, ref: c.segmentation })),
      unpairedPred: [...preds].filter(([k]) => !dataset.cases.some((c) => c.id === k)).map(([, f]) => f),
      unpairedRef: dataset.cases.filter((c) => !preds.has(c.id)).map((c) => c.segmentation),
    };
    readRef = (path) => dataset.readLabels(byRef.get(path) as (typeof dataset.cases)[number]);
  } else {
    pairing = await pairPaths(predPath, refPath);
  }
  if (pairing.pairs.length === 0) {
    throw new InputError(
      `no prediction file pairs with a reference file by name (${pairing.unpairedPred.length} predictions, ${pairing.unpairedRef.length} references; see docs/metrics.md for the naming rules)`,
      'NOT_FOUND',
      predPath,
    );
  }
  const cases: CaseResult[] = [];
  for (const [i, p] of pairing.pairs.entries()) {
    const [pred, ref] = await Promise.all([readVolume(p.pred), readRef(p.ref)]);
    const c = evaluateCase(pred, ref, `${p.id} (${p.pred} vs ${p.ref})`);
    c.id = p.id;
    cases.push(c);
    opts.onCase?.(c, i, pairing.pairs.length);
  }
  return { evaluation: aggregateCases(cases), pairing };
}
