/**
 * Binary targets from raw BraTS labels, in the BraTS evaluation's regions:
 * - whole tumour (WT): necrotic/non-enhancing core 1 + oedema 2 + enhancing tumour; the paper's target;
 * - tumour core (TC): 1 + enhancing tumour;
 * - enhancing tumour (ET): 4, or 3 in the BraTS 2021+ convention.
 */
import { InputError } from '../errors.ts';
import type { BratsLabelConvention, BratsSubject, BratsTarget } from './types.ts';

/** The enhancing-tumour label of a convention. */
export function enhancingLabel(convention: BratsLabelConvention): 3 | 4 {
  return convention === 'brats-3' ? 3 : 4;
}

/** The raw label values a target region is made of. */
export function targetLabels(target: BratsTarget, convention: BratsLabelConvention): number[] {
  const et = enhancingLabel(convention);
  if (target === 'whole') return [1, 2, et];
  if (target === 'core') return [1, et];
  return [et];
}

/** 1 where the raw label belongs to `target`, else 0. */
export function bratsTargetMask(
  labels: ArrayLike<number>,
  convention: BratsLabelConvention,
  target: BratsTarget = 'whole',
): Uint8Array {
  const lookup = new Uint8Array(256);
  for (const l of targetLabels(target, convention)) lookup[l] = 1;
  const out = new Uint8Array(labels.length);
  for (let v = 0; v < labels.length; v++) out[v] = lookup[labels[v] & 0xff];
  return out;
}

/** The target mask of a labelled subject; refuses a subject without labels. */
export function subjectTarget(subject: BratsSubject, target: BratsTarget = 'whole'): Uint8Array {
  if (!subject.labels) {
    throw new InputError(
      `subject ${subject.id} has no label file (<id>_seg.nii[.gz])`,
      'NOT_FOUND',
      subject.dir,
    );
  }
  return bratsTargetMask(subject.labels, subject.labelConvention ?? 'brats-4', target);
}

export function parseBratsTarget(text: string): BratsTarget {
  if (text !== 'whole' && text !== 'core' && text !== 'enhancing') {
    throw new InputError(`target must be whole, core or enhancing, got "${text}"`);
  }
  return text;
}
