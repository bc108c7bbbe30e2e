/**
 * Deterministic case-level K-fold split.
 *
 * Rule (documented in docs/training.md): the case ids are sorted (natural order, so "2" < "10"),
 * shuffled with the seeded generator of `random.ts`, and dealt round-robin into `folds` groups; fold k
 * validates on group k and trains on all the others. So every case is validated in exactly one fold, a
 * case is never in both the training and the validation set of one fold, fold sizes differ by at most
 * one, and the split depends only on the set of ids and the seed (not on the order they were listed in).
 *
 * `folds = 1` (the paper's stage 1, which trains one model) cannot cross-validate: it holds out
 * `holdout` (default 20 %) of the shuffled cases, at least one, for validation. With a single case the
 * case is used for both (and `overlap` is set so callers can warn).
 */
import { InputError } from '../errors.ts';
import { createRng, deriveSeed, shuffleInPlace } from './random.ts';

export interface FoldSplit {
  fold: number;
  train: string[];
  validation: string[];
  /** True only in the degenerate one-case, one-fold split where train and validation coincide. */
  overlap: boolean;
}

const naturalOrder = new Intl.Collator('en', { numeric: true }).compare;

export function kFoldSplit(
  ids: readonly string[],
  folds: number,
  seed: number,
  opts: { holdout?: number } = {},
): FoldSplit[] {
  if (!Number.isInteger(folds) || folds < 1) {
    throw new InputError(`--folds must be a positive integer, got ${folds}`, 'BAD_ARGUMENT');
  }
  if (new Set(ids).size !== ids.length) throw new InputError('case ids must be unique', 'BAD_ARGUMENT');
  if (ids.length === 0) throw new InputError('no cases to split', 'NOT_FOUND');
  const order = shuffleInPlace([...ids].sort(naturalOrder), createRng(deriveSeed(seed, 'kfold')));
  if (folds === 1) {
    if (order.length === 1) return [{ fold: 0, train: [...order], validation: [...order], overlap: true }];
    const holdout = opts.holdout ?? 0.2;
    const nVal = Math.min(order.length - 1, Math.max(1, Math.round(order.length * holdout)));
    return [
      {
        fold: 0,
        train: order.slice(nVal).sort(naturalOrder),
        validation: order.slice(0, nVal).sort(naturalOrder),
        overlap: false,
      },
    ];
  }
  if (ids.length < folds) {
    throw new InputError(`${folds}-fold cross-validation needs at least ${folds} cases, found ${ids.length}`);
  }
  const groups: string[][] = Array.from({ length: folds }, () => []);
  for (let i = 0; i < order.length; i++) groups[i % folds].push(order[i]);
  return groups.map((validation, fold) => ({
    fold,
    train: groups
      .filter((_, g) => g !== fold)
      .flat()
      .sort(naturalOrder),
    validation: [...validation].sort(naturalOrder),
    overlap: false,
  }));
}
