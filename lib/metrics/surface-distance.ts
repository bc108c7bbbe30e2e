/**
 * Symmetric surface distances between two binary masks, in mm: ASSD, MSD (maximum symmetric surface
 * distance, the Hausdorff distance between the surfaces) and HD95.
 *
 * Surfaces are `surfaceVoxels` (18-connectivity erosion, array-border voxels are surface). The directed
 * distances from P's surface to R's are the exact Euclidean distance transform of R's surface (voxel
 * spacing applied) read at P's surface voxels, and vice versa. A voxel on both surfaces has distance 0.
 * - ASSD = (sum d(S_P -> S_R) + sum d(S_R -> S_P)) / (|S_P| + |S_R|)
 * - MSD = max of both directed maxima
 * - HD95 = 95th percentile of both directed distance sets pooled together (`percentile`, linear
 *   interpolation between closest ranks, the default of numpy.percentile)
 */
import type { Vec3 } from '../volume/volume.ts';
import { squaredDistanceTransform } from './edt.ts';
import { surfaceVoxels } from './surface.ts';

export interface SurfaceDistances {
  assd: number;
  msd: number;
  hd95: number;
}

/**
 * The p-th percentile (0..100) of ascending-sorted values, by linear interpolation between closest ranks
 * (numpy's default): rank h = (N - 1) * p / 100, value = x[floor h] + (h - floor h) * (x[floor h + 1] -
 * x[floor h]). NaN for no values.
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be in [0, 100], got ${p}`);
  const h = ((n - 1) * p) / 100;
  const lo = Math.floor(h);
  if (lo >= n - 1) return sorted[n - 1];
  return sorted[lo] + (h - lo) * (sorted[lo + 1] - sorted[lo]);
}

/** Distances (mm) from each voxel of `from` to the nearest voxel of `to`, appended to `out` at `at`. */
function directed(
  from: Uint8Array,
  to: Uint8Array,
  dims: Vec3,
  spacing: Vec3,
  out: Float64Array,
  at: number,
): number {
  const d2 = squaredDistanceTransform(to, dims, spacing);
  for (let i = 0; i < from.length; i++) if (from[i] !== 0) out[at++] = Math.sqrt(d2[i]);
  return at;
}

/**
 * ASSD, MSD and HD95 between masks `pred` and `ref` (non-zero = inside) on one grid; `null` when either
 * mask is empty (surface distances are not defined then).
 *
 * For speed, pass the masks cropped to their union bounding box grown by one voxel (clamped to the
 * array): the result is the same, because every mask voxel on the crop border is then also on the array
 * border, and the nearest surface voxel always lies inside the box.
 */
export function surfaceDistances(
  pred: Uint8Array,
  ref: Uint8Array,
  dims: Vec3,
  spacing: Vec3,
): SurfaceDistances | null {
  const sp = surfaceVoxels(pred, dims);
  const sr = surfaceVoxels(ref, dims);
  let np = 0;
  let nr = 0;
  for (let i = 0; i < sp.length; i++) {
    np += sp[i];
    nr += sr[i];
  }
  if (np === 0 || nr === 0) return null;
  const all = new Float64Array(np + nr);
  directed(sr, sp, dims, spacing, all, directed(sp, sr, dims, spacing, all, 0));
  let sum = 0;
  for (let i = 0; i < all.length; i++) sum += all[i];
  all.sort();
  return { assd: sum / all.length, msd: all[all.length - 1], hd95: percentile(all, 95) };
}
