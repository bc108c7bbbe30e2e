/**
 * Evaluate prediction files against reference files (the work behind `raunet evaluate`): pair them by
 * name, read each pair, compute the LiTS metrics, aggregate. Pairs are read one at a time.
 */

import { InputError } from '../errors.ts';
import { readVolume } from '../volume/read.ts';
import { aggregateCases, type CaseResult, type Evaluation, evaluateCase } from './lits.ts';
import { type Pairing, pairPaths } from './pairing.ts';

export interface FileEvaluation {
  evaluation: Evaluation;
  pairing: Pairing;
}

export async function evaluateFiles(
  predPath: string,
  refPath: string,
  opts: { onCase?: (c: CaseResult, index: number, total: number) => void } = {},
): Promise<FileEvaluation> {
  const pairing = await pairPaths(predPath, refPath);
  if (pairing.pairs.length === 0) {
    throw new InputError(
      `no prediction file pairs with a reference file by name (${pairing.unpairedPred.length} predictions, ${pairing.unpairedRef.length} references; see docs/metrics.md for the naming rules)`,
      'NOT_FOUND',
      predPath,
    );
  }
  const cases: CaseResult[] = [];
  for (const [i, p] of pairing.pairs.entries()) {
    const [pred, ref] = await Promise.all([readVolume(p.pred), readVolume(p.ref)]);
    const c = evaluateCase(pred, ref, `${p.id} (${p.pred} vs ${p.ref})`);
    c.id = p.id;
    cases.push(c);
    opts.onCase?.(c, i, pairing.pairs.length);
  }
  return { evaluation: aggregateCases(cases), pairing };
}
