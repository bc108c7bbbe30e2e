/**
 * Intensity normalisation of a BraTS subject, each sequence on its own (MRI intensities have no absolute
 * unit, so one scale per sequence and subject). The brain is the voxels > 0 in all four sequences: BraTS
 * data is skull-stripped with the background set to 0, so this is the brain mask its curators made.
 *
 * - `minmax` (default, the paper's "normalized to [0, 1]"): v -> (v - lo) / (hi - lo), clamped to [0, 1],
 *   where lo and hi are the `percentile`-th and (100 - `percentile`)-th percentiles of the sequence over
 *   the brain (default 0.5 %, linear interpolation between order statistics). The paper does not say
 *   which extremes it took; plain min-max (`percentile: 0`) lets a handful of hyperintense voxels (vessels,
 *   artefacts, the odd bright spot a scanner writes) squeeze all tissue into a narrow band, which 0.5 %
 *   clipping avoids at the cost of saturating those few voxels.
 * - `zscore` (what current BraTS methods such as nnU-Net use): (v - mean) / std over the brain; not bounded.
 * In both, voxels outside the brain are 0. A sequence constant over the brain maps to 0 there.
 */
import { InputError } from '../errors.ts';
import { BRATS_MODALITIES, type BratsModality, type BratsSubject } from './types.ts';

export type BratsNormalisation = 'minmax' | 'zscore';

export interface NormaliseOptions {
  /** Default `minmax`. */
  mode?: BratsNormalisation;
  /** `minmax`: percent clipped at each end, 0 <= p < 50 (default 0.5). */
  percentile?: number;
}

export const DEFAULT_CLIP_PERCENTILE = 0.5;

/** What was applied to one sequence: v -> (v - offset) / scale (then clamped to [0, 1] for minmax). */
export interface SequenceScaling {
  offset: number;
  scale: number;
}

export interface NormalisedSubject {
  channels: Record<BratsModality, Float32Array>;
  /** 1 where the voxel is brain (> 0 in all four sequences). */
  brain: Uint8Array;
  brainVoxels: number;
  scaling: Record<BratsModality, SequenceScaling>;
}

/** 1 where every sequence is > 0. */
export function bratsBrainMask(channels: Record<BratsModality, Float32Array>): Uint8Array {
  const n = channels[BRATS_MODALITIES[0]].length;
  const mask = new Uint8Array(n).fill(1);
  for (const m of BRATS_MODALITIES) {
    const d = channels[m];
    for (let v = 0; v < n; v++) if (!(d[v] > 0)) mask[v] = 0;
  }
  return mask;
}

/**
 * The p-th percentile (0..100) of `sorted` (ascending), by linear interpolation between the order
 * statistics at rank p/100 * (n - 1) (numpy's default rule).
 */
export function percentileOfSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) throw new RangeError('percentile of no values');
  const rank = (p / 100) * (n - 1);
  const lo = Math.floor(rank);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
}

/** Rearranges `a` so that a[k] is the k-th smallest, smaller-or-equal values before it, greater-or-equal after. */
function selectKth(a: Float32Array, k: number): void {
  let lo = 0;
  let hi = a.length - 1;
  while (hi > lo) {
    // Median of three as the pivot keeps sorted and constant runs from going quadratic.
    const mid = (lo + hi) >>> 1;
    const x = a[lo];
    const y = a[mid];
    const z = a[hi];
    const pivot = Math.max(Math.min(x, y), Math.min(Math.max(x, y), z));
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return;
  }
}

/**
 * The same percentile as `percentileOfSorted`, by selection instead of a full sort (linear time: the four
 * sequences of a BraTS subject hold about 1.5 M brain voxels each). Reorders `values`.
 */
export function percentileBySelection(values: Float32Array, p: number): number {
  const n = values.length;
  if (n === 0) throw new RangeError('percentile of no values');
  const rank = (p / 100) * (n - 1);
  const lo = Math.floor(rank);
  selectKth(values, lo);
  const a = values[lo];
  if (lo + 1 >= n || rank === lo) return a;
  // After the selection the next order statistic is the smallest value above index lo.
  let b = values[lo + 1];
  for (let i = lo + 2; i < n; i++) if (values[i] < b) b = values[i];
  return a + (b - a) * (rank - lo);
}

function brainValues(data: Float32Array, brain: Uint8Array, count: number): Float32Array {
  const out = new Float32Array(count);
  let w = 0;
  for (let v = 0; v < data.length; v++) if (brain[v]) out[w++] = data[v];
  return out;
}

function scalingOf(values: Float32Array, mode: BratsNormalisation, percentile: number): SequenceScaling {
  if (mode === 'zscore') {
    let sum = 0;
    for (const x of values) sum += x;
    const mean = sum / values.length;
    let ss = 0;
    for (const x of values) ss += (x - mean) * (x - mean);
    return { offset: mean, scale: Math.sqrt(ss / values.length) };
  }
  const lo = percentileBySelection(values, percentile);
  const hi = percentileBySelection(values, 100 - percentile);
  return { offset: lo, scale: hi - lo };
}

/** Normalise the four sequences of `subject` (see the module comment); the subject is not changed. */
export function normaliseBratsSubject(subject: BratsSubject, opts: NormaliseOptions = {}): NormalisedSubject {
  const mode = opts.mode ?? 'minmax';
  const percentile = opts.percentile ?? DEFAULT_CLIP_PERCENTILE;
  if (!(percentile >= 0 && percentile < 50)) {
    throw new InputError(`the clipping percentile must be in [0, 50), got ${percentile}`);
  }
  const brain = bratsBrainMask(subject.channels);
  let brainVoxels = 0;
  for (const b of brain) brainVoxels += b;
  if (brainVoxels === 0) {
    throw new InputError('no brain voxels (none is > 0 in all four sequences)', 'BAD_VALUES', subject.dir);
  }
  const channels = {} as Record<BratsModality, Float32Array>;
  const scaling = {} as Record<BratsModality, SequenceScaling>;
  for (const m of BRATS_MODALITIES) {
    const data = subject.channels[m];
    const s = scalingOf(brainValues(data, brain, brainVoxels), mode, percentile);
    scaling[m] = s;
    const out = new Float32Array(data.length);
    if (s.scale > 0) {
      const clamp = mode === 'minmax';
      for (let v = 0; v < data.length; v++) {
        if (!brain[v]) continue;
        const x = (data[v] - s.offset) / s.scale;
        out[v] = clamp ? Math.min(1, Math.max(0, x)) : x;
      }
    }
    channels[m] = out;
  }
  return { channels, brain, brainVoxels, scaling };
}

/**
 * The four channels interleaved, channel fastest ([z, y, x, c] with c in `BRATS_MODALITIES` order): the
 * layout of a network input (`lib/inference/engine.ts`).
 */
export function interleaveChannels(channels: Record<BratsModality, Float32Array>): Float32Array {
  const n = channels[BRATS_MODALITIES[0]].length;
  const c = BRATS_MODALITIES.length;
  const out = new Float32Array(n * c);
  for (const [k, m] of BRATS_MODALITIES.entries()) {
    const d = channels[m];
    for (let v = 0; v < n; v++) out[v * c + k] = d[v];
  }
  return out;
}
