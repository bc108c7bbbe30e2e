/**
 * The three inference stages of RA-UNet (paper Section III E-G), each on the `InferenceEngine` interface:
 *
 * 1. `localizeLiver`: RA-UNet-I on axial slices resized to 256x256 -> coarse liver -> padded bounding box.
 * 2. `segmentLiver`: RA-UNet-II on the box resized in-plane to 224x224, 32-slice windows along z.
 * 3. `segmentTumor`: RA-UNet-II on the liver VOI at native resolution, 128x128x32 windows.
 *
 * All stages read the windowed and normalised CT (`windowAndNormalize`); pass it as `opts.normalized` to
 * compute it once for the three stages. Masks are returned on the full input grid as Uint8Array (0/1).
 */
import { InputError } from '../errors.ts';
import type { InferenceEngine } from '../inference/engine.ts';
import { keepLargestComponent } from '../postprocess/components.ts';
import { type Box3, boundingBox, boxSize, cropArray, pasteInto } from '../preprocess/crop.ts';
import { resample3D } from '../preprocess/resample.ts';
import { windowAndNormalize } from '../preprocess/window.ts';
import type { Vec3, Volume } from '../volume/volume.ts';
import {
  BlendAccumulator,
  type BlendMode,
  blockHasVoxel,
  evenWindowStarts,
  extractPatch,
  predictEnsemble,
  slidingWindowStarts,
} from './windows.ts';

/** Paper values (Section III E-G, IV A): slice size, patch sizes, box margin. */
export const LOCALIZE_SLICE: [number, number] = [256, 256];
export const LIVER_PATCH: Vec3 = [224, 224, 32];
export const TUMOR_PATCH: Vec3 = [128, 128, 32];
export const BOX_MARGIN = 10;

export interface StageOptions {
  /** Probability at or above which a voxel is foreground (default 0.5). */
  threshold?: number;
  /** Fractional overlap of neighbouring windows, 0 <= overlap < 1 (default 0.5). */
  overlap?: number;
  /**
   * Stages 2 and 3: place the fewest windows whose neighbours overlap by at least this fraction, evenly
   * (`evenWindowStarts`), instead of stepping by `window * (1 - overlap)`. Opt-in: not exact (voxels blend
   * other windows), measured in docs/inference.md.
   */
  minOverlap?: number;
  /** Slices (stage 1) or patches (stages 2, 3) per forward pass (defaults 8 and 1). */
  batchSize?: number;
  /** How overlapping windows are combined (default 'gaussian'). */
  blend?: BlendMode;
  /** Average over mirrorings of the spatial axes (default false). */
  tta?: boolean;
  /** The CT after `windowAndNormalize`, if already computed (same grid as `ct`). */
  normalized?: Volume<Float32Array>;
  /**
   * Stages 2 and 3 only: the normalised CT cropped to `box` (which must hold the stage's region), used
   * instead of a whole normalised volume to save memory.
   */
  normalizedRegion?: { data: Float32Array; box: Box3 };
  /** Called after each forward pass with the work done so far. */
  onProgress?: (done: number, total: number) => void;
}

export interface LocalizeOptions extends StageOptions {
  /** Slice size [x, y] the network sees (default 256x256). */
  slice?: [number, number];
  /** Voxels added to the coarse liver's bounding box on every side, clamped to the volume (default 10). */
  margin?: number;
}

export interface PatchStageOptions extends StageOptions {
  /** Patch size [x, y, z] (defaults 224x224x32 for the liver, 128x128x32 for tumors). */
  patch?: Vec3;
  /** Receives the blended probability map of the stage's region (before thresholding). */
  onProbability?: (probability: Float32Array, box: Box3) => void;
}

export interface TumorOptions extends PatchStageOptions {
  /** Voxels added around the liver for the tumor VOI (default 10). */
  margin?: number;
  /**
   * Run only the windows that hold at least one liver voxel (default true). Exact: tumor is kept inside
   * the liver only, and every window covering a liver voxel holds one, so each liver voxel blends the
   * same windows in the same order. Only the saved probability map (`onProbability`) changes: 0 where no
   * window ran.
   */
  skipWindowsWithoutLiver?: boolean;
}

/** What `slidingWindowPredict` needs beyond the common stage options. */
export interface SlidingWindowOptions extends StageOptions {
  /** A mask on the volume's grid: windows without a nonzero voxel of it are not run (their voxels blend to 0). */
  onlyWindowsTouching?: Uint8Array;
}

function normalizedOf(ct: Volume, opts: StageOptions): Float32Array {
  const n = opts.normalized ?? windowAndNormalize(ct);
  if (n.dims.some((d, i) => d !== ct.dims[i]))
    throw new RangeError('normalized volume is not on the CT grid');
  return n.data;
}

/** The normalised CT inside `box`, from `opts.normalizedRegion` when given. */
function normalizedCrop(ct: Volume, box: Box3, opts: StageOptions): Float32Array {
  const r = opts.normalizedRegion;
  if (!r) return cropArray(normalizedOf(ct, opts), ct.dims, box);
  const start = box.start.map((v, a) => v - r.box.start[a]) as Vec3;
  const end = box.end.map((v, a) => v - r.box.start[a]) as Vec3;
  return cropArray(r.data, boxSize(r.box), { start, end });
}

function checkCommon(opts: StageOptions): { threshold: number; overlap: number } {
  const threshold = opts.threshold ?? 0.5;
  const overlap = opts.overlap ?? 0.5;
  if (!(threshold >= 0 && threshold <= 1))
    throw new RangeError(`threshold must be in [0, 1], got ${threshold}`);
  if (!(overlap >= 0 && overlap < 1)) throw new RangeError(`overlap must be in [0, 1), got ${overlap}`);
  if (opts.batchSize !== undefined && !(Number.isInteger(opts.batchSize) && opts.batchSize >= 1)) {
    throw new RangeError(`batch size must be a positive integer, got ${opts.batchSize}`);
  }
  return { threshold, overlap };
}

/**
 * What a scan in which stage 1 finds no liver is: a failed case (a cloud job FAILED with this reason, a
 * `raunet segment` case failed with it), not an empty result. `segmentCt` itself returns the empty label
 * map (the demo and evaluation score it as Dice 0).
 */
export function noLiverFound(file?: string): InputError {
  return new InputError('no liver found in the scan (is it an abdominal CT?)', 'NOT_CT', file);
}

/**
 * Stage 1. Every axial slice of the normalised CT is resized to `slice` (bilinear) and segmented by the
 * 2D ensemble in batches; the thresholded slices are stacked, the largest 26-connected component kept, and
 * the result mapped back to the CT grid (nearest neighbour). `box` is its bounding box plus `margin`
 * voxels on every axis (clamped), or null when no liver was found. `coarse` is that mask on the CT grid.
 */
export async function localizeLiver(
  ct: Volume,
  engines: readonly InferenceEngine[],
  opts: LocalizeOptions = {},
): Promise<{ box: Box3 | null; coarse: Uint8Array }> {
  const { threshold } = checkCommon(opts);
  const [sx, sy] = opts.slice ?? LOCALIZE_SLICE;
  const batch = opts.batchSize ?? 8;
  const margin = opts.margin ?? BOX_MARGIN;
  const norm = normalizedOf(ct, opts);
  const [nx, ny, nz] = ct.dims;
  const plane = nx * ny;
  const small = sx * sy;
  const stack = new Uint8Array(small * nz);
  for (let z0 = 0; z0 < nz; z0 += batch) {
    const n = Math.min(batch, nz - z0);
    const slab = norm.subarray(z0 * plane, (z0 + n) * plane);
    const input = resample3D(
      slab,
      [nx, ny, n],
      [sx, sy, n],
      'linear',
      new Float32Array(small * n),
    ) as Float32Array;
    const prob = await predictEnsemble(engines, input, [n, sy, sx, 1], opts.tta);
    const dst = z0 * small;
    for (let i = 0; i < prob.length; i++) stack[dst + i] = prob[i] >= threshold ? 1 : 0;
    opts.onProgress?.(z0 + n, nz);
  }
  const largest = keepLargestComponent(stack, [sx, sy, nz], 26);
  const coarse = resample3D(
    largest,
    [sx, sy, nz],
    ct.dims,
    'nearest',
    new Uint8Array(plane * nz),
  ) as Uint8Array;
  return { box: boundingBox(coarse, ct.dims, margin), coarse };
}

/**
 * Run the ensemble over `vol` (dims [x, y, z]) in overlapping windows of size `patch`, padding with 0
 * where the volume is smaller than a window, and blend the window probabilities. Returns the blended
 * probability map on `dims`.
 */
export async function slidingWindowPredict(
  vol: Float32Array,
  dims: Vec3,
  patch: Vec3,
  engines: readonly InferenceEngine[],
  opts: SlidingWindowOptions = {},
): Promise<Float32Array> {
  const { overlap } = checkCommon(opts);
  const batch = opts.batchSize ?? 1;
  const place = (a: number) =>
    opts.minOverlap === undefined
      ? slidingWindowStarts(dims[a], patch[a], overlap)
      : evenWindowStarts(dims[a], patch[a], opts.minOverlap);
  const xs = place(0);
  const ys = place(1);
  const zs = place(2);
  const only = opts.onlyWindowsTouching;
  if (only && only.length !== dims[0] * dims[1] * dims[2]) {
    throw new RangeError('the window mask is not on the volume grid');
  }
  const starts: Vec3[] = [];
  for (const z of zs)
    for (const y of ys)
      for (const x of xs) {
        const start: Vec3 = [x, y, z];
        if (!only || blockHasVoxel(only, dims, start, patch)) starts.push(start);
      }
  const acc = new BlendAccumulator(dims, patch, opts.blend ?? 'gaussian');
  const per = patch[0] * patch[1] * patch[2];
  for (let b0 = 0; b0 < starts.length; b0 += batch) {
    const group = starts.slice(b0, b0 + batch);
    const input = new Float32Array(per * group.length);
    group.forEach((s, i) => {
      extractPatch(vol, dims, s, patch, input, i * per, 0);
    });
    const prob = await predictEnsemble(
      engines,
      input,
      [group.length, patch[2], patch[1], patch[0], 1],
      opts.tta,
    );
    group.forEach((s, i) => {
      acc.add(prob, s, i * per);
    });
    opts.onProgress?.(b0 + group.length, starts.length);
  }
  return acc.finish();
}

function thresholdInto(prob: Float32Array, threshold: number, out = new Uint8Array(prob.length)): Uint8Array {
  for (let i = 0; i < prob.length; i++) out[i] = prob[i] >= threshold ? 1 : 0;
  return out;
}

/**
 * Stage 2. The box of the normalised CT is resized in-plane to the patch's in-plane size (z unchanged),
 * segmented in overlapping windows along z, blended and averaged over the ensemble; the probability is
 * resized back to the box (trilinear) and thresholded, the largest 26-connected component kept and pasted
 * into a mask on the CT grid.
 */
export async function segmentLiver(
  ct: Volume,
  box: Box3,
  engines: readonly InferenceEngine[],
  opts: PatchStageOptions = {},
): Promise<Uint8Array> {
  const { threshold } = checkCommon(opts);
  const patch = opts.patch ?? LIVER_PATCH;
  const bd = boxSize(box);
  const crop = normalizedCrop(ct, box, opts);
  const rd: Vec3 = [patch[0], patch[1], bd[2]];
  const resized = resample3D(crop, bd, rd, 'linear', new Float32Array(rd[0] * rd[1] * rd[2])) as Float32Array;
  const probSmall = await slidingWindowPredict(resized, rd, patch, engines, opts);
  const prob = resample3D(probSmall, rd, bd, 'linear', new Float32Array(crop.length)) as Float32Array;
  opts.onProbability?.(prob, box);
  const mask = keepLargestComponent(thresholdInto(prob, threshold), bd, 26);
  const full = new Uint8Array(ct.data.length);
  pasteInto(full, ct.dims, mask, box);
  return full;
}

/**
 * Stage 3. The liver VOI (bounding box of `liver` plus `margin`) of the normalised CT is segmented at
 * native resolution in overlapping windows, blended, averaged over the ensemble and thresholded; tumor is
 * kept only inside the liver. Returns the tumor mask on the CT grid.
 */
export async function segmentTumor(
  ct: Volume,
  liver: Uint8Array,
  engines: readonly InferenceEngine[],
  opts: TumorOptions = {},
): Promise<Uint8Array> {
  const { threshold } = checkCommon(opts);
  const patch = opts.patch ?? TUMOR_PATCH;
  const full = new Uint8Array(liver.length);
  let box = boundingBox(liver, ct.dims, opts.margin ?? BOX_MARGIN);
  if (!box) return full;
  const region = opts.normalizedRegion?.box;
  if (region) {
    // the VOI's context beyond the normalised region is dropped (tumor is kept inside the liver only)
    box = {
      start: box.start.map((v, a) => Math.max(v, region.start[a])) as Vec3,
      end: box.end.map((v, a) => Math.min(v, region.end[a])) as Vec3,
    };
  }
  const bd = boxSize(box);
  const crop = normalizedCrop(ct, box, opts);
  const inLiver = cropArray(liver, ct.dims, box) as Uint8Array;
  const skip = opts.skipWindowsWithoutLiver ?? true;
  const prob = await slidingWindowPredict(crop, bd, patch, engines, {
    ...opts,
    onlyWindowsTouching: skip ? inLiver : undefined,
  });
  opts.onProbability?.(prob, box);
  const tumor = thresholdInto(prob, threshold);
  for (let i = 0; i < tumor.length; i++) if (!inLiver[i]) tumor[i] = 0;
  pasteInto(full, ct.dims, tumor, box);
  return full;
}
