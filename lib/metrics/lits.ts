/**
 * Per-case LiTS evaluation of a predicted label map against a reference, and aggregates over cases.
 * Full definitions and conventions: docs/metrics.md.
 *
 * Structures: liver = label >= 1 (liver and tumor), tumor = label == 2. Non-integer label data are read
 * by value range (liver: v >= 0.5; tumor: 1.5 <= v < 2.5), which is the same for integer labels.
 * With P the predicted and R the reference voxel set:
 * - dice = 2|P n R| / (|P| + |R|), jaccard = |P n R| / |P u R|, voe = 1 - jaccard,
 *   rvd = (|P| - |R|) / |R| (over-segmentation positive);
 * - assd, msd, hd95 in mm: see `surfaceDistances` (voxel spacing of the reference).
 * Empty masks:
 * - both empty: dice 1, jaccard 1, voe 0, rvd 0, assd/msd/hd95 null (not defined);
 * - one empty: dice 0, jaccard 0, voe 1, assd/msd/hd95 null; rvd = -1 when P is empty, null when R is.
 * Only the union bounding box of P and R (grown by one voxel) is examined for surfaces and distances.
 */
import { InputError } from '../errors.ts';
import { type Box3, boxSize, expandBox } from '../preprocess/crop.ts';
import { orientationCode } from '../volume/affine.ts';
import type { Vec3, Volume, VoxelArray } from '../volume/volume.ts';
import { surfaceDistances } from './surface-distance.ts';

export interface StructureMetrics {
  dice: number;
  jaccard: number;
  voe: number;
  rvd: number | null;
  assd: number | null;
  msd: number | null;
  hd95: number | null;
  /** |P|, |R| and |P n R| in voxels (used by dice_global). */
  pred_voxels: number;
  ref_voxels: number;
  overlap_voxels: number;
}

export interface CaseResult {
  id: string;
  liver: StructureMetrics;
  tumor: StructureMetrics;
}

export interface AggregateMetrics {
  /** Number of cases aggregated. */
  cases: number;
  /** Mean of the per-case Dice. */
  dice_per_case: number | null;
  /** 2 * sum |P n R| / sum (|P| + |R|) over all cases (1 when every mask is empty). */
  dice_global: number | null;
  /** Means over the cases where the value is defined (see `defined`); null when defined nowhere. */
  jaccard: number | null;
  voe: number | null;
  rvd: number | null;
  assd: number | null;
  msd: number | null;
  hd95: number | null;
  /** How many cases each mean is taken over. */
  defined: { rvd: number; assd: number; msd: number; hd95: number };
}

export interface Evaluation {
  cases: CaseResult[];
  liver: AggregateMetrics;
  tumor: AggregateMetrics;
}

/** Inclusive-exclusive value range that selects a structure from a label map. */
interface LabelRange {
  lo: number;
  hi: number;
}

export const LIVER: Readonly<LabelRange> = { lo: 0.5, hi: Number.POSITIVE_INFINITY };
export const TUMOR: Readonly<LabelRange> = { lo: 1.5, hi: 2.5 };

function cropMask(data: VoxelArray, dims: Vec3, box: Box3, r: LabelRange): Uint8Array {
  const [bx, by, bz] = boxSize(box);
  const out = new Uint8Array(bx * by * bz);
  let j = 0;
  for (let z = box.start[2]; z < box.end[2]; z++) {
    for (let y = box.start[1]; y < box.end[1]; y++) {
      const row = (z * dims[1] + y) * dims[0];
      for (let x = box.start[0]; x < box.end[0]; x++, j++) {
        const v = data[row + x];
        if (v >= r.lo && v < r.hi) out[j] = 1;
      }
    }
  }
  return out;
}

/** Metrics of one structure (the voxels whose value lies in `range`) between two label arrays on one grid. */
export function structureMetrics(
  pred: VoxelArray,
  ref: VoxelArray,
  dims: Vec3,
  spacing: Vec3,
  range: LabelRange = LIVER,
): StructureMetrics {
  const [nx, ny, nz] = dims;
  const { lo, hi } = range;
  let np = 0;
  let nr = 0;
  let ni = 0;
  const start: Vec3 = [nx, ny, nz];
  const end: Vec3 = [0, 0, 0];
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      const row = (z * ny + y) * nx;
      let first = -1;
      let last = -1;
      for (let x = 0; x < nx; x++) {
        const pv = pred[row + x];
        const rv = ref[row + x];
        const a = pv >= lo && pv < hi;
        const b = rv >= lo && rv < hi;
        if (a || b) {
          if (a) np++;
          if (b) nr++;
          if (a && b) ni++;
          if (first < 0) first = x;
          last = x;
        }
      }
      if (first < 0) continue;
      if (first < start[0]) start[0] = first;
      if (last + 1 > end[0]) end[0] = last + 1;
      if (y < start[1]) start[1] = y;
      if (y + 1 > end[1]) end[1] = y + 1;
      if (z < start[2]) start[2] = z;
      end[2] = z + 1;
    }
  }
  const counts = { pred_voxels: np, ref_voxels: nr, overlap_voxels: ni };
  if (np === 0 && nr === 0) {
    return { dice: 1, jaccard: 1, voe: 0, rvd: 0, assd: null, msd: null, hd95: null, ...counts };
  }
  const jaccard = ni / (np + nr - ni);
  const overlap = {
    dice: (2 * ni) / (np + nr),
    jaccard,
    voe: 1 - jaccard,
    rvd: nr === 0 ? null : (np - nr) / nr,
  };
  if (np === 0 || nr === 0) return { ...overlap, assd: null, msd: null, hd95: null, ...counts };
  const box = expandBox({ start, end }, 1, dims);
  const sub = boxSize(box);
  const d = surfaceDistances(cropMask(pred, dims, box, range), cropMask(ref, dims, box, range), sub, spacing);
  return { ...overlap, assd: d?.assd ?? null, msd: d?.msd ?? null, hd95: d?.hd95 ?? null, ...counts };
}

/** Refuse (InputError naming `id`) two label maps that are not on one grid: shape, spacing, then affine. */
export function checkPair(pred: Volume, ref: Volume, id: string): void {
  if (pred.dims.some((d, a) => d !== ref.dims[a])) {
    throw new InputError(
      `prediction is ${pred.dims.join('x')} voxels but the reference is ${ref.dims.join('x')}`,
      'SIZE_MISMATCH',
      id,
    );
  }
  const close = (a: number, b: number) => Math.abs(a - b) <= 1e-3 * Math.max(Math.abs(a), Math.abs(b), 1e-6);
  if (pred.spacing.some((s, a) => !close(s, ref.spacing[a]))) {
    throw new InputError(
      `prediction spacing ${pred.spacing.map((s) => s.toPrecision(4)).join('x')} mm differs from the reference ${ref.spacing.map((s) => s.toPrecision(4)).join('x')} mm`,
      'SIZE_MISMATCH',
      id,
    );
  }
  // Same shape and spacing is not enough: a flipped or shifted grid would be scored voxel by voxel
  // against the wrong anatomy. Tolerance: 1e-3 of the largest voxel size, in mm.
  const tol = 1e-3 * Math.max(...ref.spacing);
  const worst = pred.affine.reduce((m, v, i) => Math.max(m, Math.abs(v - (ref.affine[i] ?? Number.NaN))), 0);
  if (!(worst <= tol)) {
    const origin = (a: readonly number[]) =>
      `(${[a[3], a[7], a[11]].map((v) => (v ?? 0).toFixed(2)).join(', ')})`;
    throw new InputError(
      `prediction and reference grids differ in position or orientation (affines differ by up to ${worst.toPrecision(3)} mm; ` +
        `origins ${origin(pred.affine)} vs ${origin(ref.affine)} mm, orientation ${orientationCode(pred.affine)} vs ${orientationCode(ref.affine)}); ` +
        'resample the prediction onto the reference grid first',
      'SIZE_MISMATCH',
      id,
    );
  }
}

/**
 * Evaluate one case. `id` names the case (and the pair in errors). Throws `InputError` (SIZE_MISMATCH)
 * when the two volumes differ in shape or voxel spacing (relative tolerance 1e-3), or in their affines
 * (more than 1e-3 of the largest voxel size, in mm). Distances use the
 * reference's spacing.
 */
export function evaluateCase(pred: Volume, ref: Volume, id: string): CaseResult {
  checkPair(pred, ref, id);
  return {
    id,
    liver: structureMetrics(pred.data, ref.data, ref.dims, ref.spacing, LIVER),
    tumor: structureMetrics(pred.data, ref.data, ref.dims, ref.spacing, TUMOR),
  };
}

function mean(values: Array<number | null>): { mean: number | null; n: number } {
  let s = 0;
  let n = 0;
  for (const v of values) {
    if (v === null || Number.isNaN(v)) continue;
    s += v;
    n++;
  }
  return { mean: n > 0 ? s / n : null, n };
}

/** Aggregate one structure over cases. */
export function aggregateStructure(metrics: StructureMetrics[]): AggregateMetrics {
  let inter = 0;
  let total = 0;
  for (const m of metrics) {
    inter += m.overlap_voxels;
    total += m.pred_voxels + m.ref_voxels;
  }
  const pick = (k: 'dice' | 'jaccard' | 'voe' | 'rvd' | 'assd' | 'msd' | 'hd95') =>
    mean(metrics.map((m) => m[k]));
  const rvd = pick('rvd');
  const assd = pick('assd');
  const msd = pick('msd');
  const hd95 = pick('hd95');
  return {
    cases: metrics.length,
    dice_per_case: pick('dice').mean,
    dice_global: metrics.length === 0 ? null : total === 0 ? 1 : (2 * inter) / total,
    jaccard: pick('jaccard').mean,
    voe: pick('voe').mean,
    rvd: rvd.mean,
    assd: assd.mean,
    msd: msd.mean,
    hd95: hd95.mean,
    defined: { rvd: rvd.n, assd: assd.n, msd: msd.n, hd95: hd95.n },
  };
}

/** The `raunet evaluate --json` object: per-case results and the liver and tumor aggregates. */
export function aggregateCases(cases: CaseResult[]): Evaluation {
  return {
    cases,
    liver: aggregateStructure(cases.map((c) => c.liver)),
    tumor: aggregateStructure(cases.map((c) => c.tumor)),
  };
}
