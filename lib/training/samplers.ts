/**
 * Training samples for the three RA-UNet stages (paper Section IV A-C), drawn from prepared cases
 * (`dataset.ts`: windowed and normalised CT plus labels) with a seeded generator.
 *
 * - `localize` (RA-UNet-I, 2D): every axial slice that contains liver plus a third as many randomly
 *   chosen slices without liver, each resized (bilinear; labels nearest) to the network's slice size
 *   (256x256 in the paper). Label: liver or tumor (labels >= 1).
 * - `liver` (RA-UNet-II, 3D): the ground-truth liver box grown by `margin` (10) voxels is resized
 *   in-plane to the patch's x-y size (224x224), z unchanged, and random windows of the patch's z size (32
 *   slices) are cut from it. Label: liver or tumor.
 * - `tumor` (RA-UNet-II, 3D): patches of the patch size (128x128x32) at native resolution inside the
 *   liver box + margin; a fraction is centred on random tumor voxels (plus a uniform jitter), the rest on
 *   random liver voxels. Label: tumor only.
 *
 * The 3D samples are cut exactly as the inference pipeline (`lib/pipeline/stages.ts`) cuts windows: from
 * the crop of the box, with zeros after the end of an axis where the box is shorter than the patch.
 * Samples are x-fastest arrays, i.e. tensors [z, y, x] (or [y, x]); `stackBatch` adds n and c to make
 * the [n, z, y, x, c] layout of `lib/inference/engine.ts`.
 *
 * With `mirror` (not in the paper; nnU-Net's default), each training sample is flipped along each spatial
 * axis with probability 1/2, input and target together, so the networks see the mirrored inputs that
 * test-time mirroring (`segment --tta`) feeds them. Validation samples are never mirrored.
 */

import type { Stage } from '../model/storage.ts';
import { extractPatch, flipBatch } from '../pipeline/windows.ts';
import { type Box3, boxSize, cropArray, expandBox } from '../preprocess/crop.ts';
import { resample3D } from '../preprocess/resample.ts';
import type { Vec3 } from '../volume/volume.ts';
import type { PreparedCase } from './case.ts';
import { createRng, deriveSeed, type Rng, shuffleInPlace } from './random.ts';
import type { Batch } from './trainer.ts';

/** The stage a sampler feeds (the `Stage` of the model manifests). */
export type TrainStage = Stage;

export interface SamplerOptions {
  stage: TrainStage;
  /** Network input size in voxels, x-y(-z) order: [x, y] for `localize`, [x, y, z] for the 3D stages. */
  patch: number[];
  /**
   * `liver`: windows per case (default 8); `tumor`: patches per case (default 16; the paper drew 150);
   * `localize`: at most this many slices per case (default: all liver slices plus a third).
   */
  perCase?: number;
  /** `localize`: slices without liver per slice with liver (default 1/3). */
  negativeRatio?: number;
  /**
   * `localize`: the share of the slices without liver that is drawn (the paper recipe's 1/3, rounded);
   * when set it replaces `negativeRatio`.
   */
  negativeShare?: number;
  /**
   * `liver`: how many windows a case gives. `perCase` (default): `perCase` random windows. `authors`
   * (the paper recipe, when `perCase` is not set): floor(depth / 10) * 4 random windows plus one window
   * every 25 slices from slice 0 (the last one ending at the box's end), depth = the box's z size.
   */
  liverWindows?: 'perCase' | 'authors';
  /** `tumor`: fraction of patches centred on tumor voxels (default 0.5; 0 when a case has no tumor). */
  tumorFraction?: number;
  /**
   * `tumor`: maximum jitter of tumor-centred patches per axis, as a fraction of the patch size (0.25):
   * the centre moves by up to floor(jitter * size / 2) voxels (1: up to half the patch).
   */
  jitter?: number;
  /** `tumor`: a case with fewer tumor voxels than this gives no patches at all (default 0: never skipped). */
  minTumorVoxels?: number;
  /** Voxels added to the liver box on every side (default 10, the paper's value). */
  margin?: number;
  /** Training batches only: flip each sample along each spatial axis with probability 1/2. */
  mirror?: boolean;
}

export interface Sample {
  /** Input values, x fastest ([z, y, x] or [y, x]). */
  x: Float32Array;
  /** Binary target on the same grid. */
  y: Float32Array;
  /** Where the sample was cut, in voxels of the case grid (`localize`: the slice, z only meaningful). */
  origin: Vec3;
  /** What the sample was centred on (`brain`: a BraTS patch centred on brain outside the target). */
  kind: 'liver' | 'background' | 'tumor' | 'brain';
}

/**
 * A drawn sample before its arrays are cut: where and what, and `cut()` to make them. Drawing consumes
 * the generator; cutting does not, so a pool of draws holds positions, not patches.
 */
export interface Draw {
  origin: Vec3;
  kind: Sample['kind'];
  cut(): { x: Float32Array; y: Float32Array };
}

const materialize = (d: Draw): Sample => ({ ...d.cut(), origin: d.origin, kind: d.kind });

export const DEFAULT_PER_CASE = { liver: 8, tumor: 16 } as const;

function checkPatch(opts: SamplerOptions): void {
  const need = opts.stage === 'localize' ? 2 : 3;
  if (opts.patch.length !== need || opts.patch.some((v) => !Number.isInteger(v) || v < 1)) {
    throw new RangeError(
      `stage ${opts.stage} needs a ${need}-number patch size, got ${opts.patch.join('x')}`,
    );
  }
}

/** Draw the samples of one case. Deterministic for a given generator state. */
export function sampleCase(c: PreparedCase, opts: SamplerOptions, rng: Rng): Sample[] {
  return drawCase(c, opts, rng).map(materialize);
}

/** The samples of one case as positions (`sampleCase` without cutting them yet). */
export function drawCase(c: PreparedCase, opts: SamplerOptions, rng: Rng): Draw[] {
  checkPatch(opts);
  if (opts.stage === 'localize') return drawSlices(c, opts, rng);
  if (opts.stage === 'liver') return drawLiverWindows(c, opts, rng);
  return drawTumorPatches(c, opts, rng);
}

/** How many samples `sampleCase` gives for this case (the count does not depend on the generator). */
export function countSamples(c: PreparedCase, opts: SamplerOptions): number {
  return drawCase(c, opts, createRng(0)).length;
}

function drawSlices(c: PreparedCase, opts: SamplerOptions, rng: Rng): Draw[] {
  const [nx, ny, nz] = c.dims;
  const [sx, sy] = opts.patch;
  const plane = nx * ny;
  const withLiver: number[] = [];
  const without: number[] = [];
  for (let z = 0; z < nz; z++) {
    let liver = false;
    for (let i = z * plane, end = i + plane; i < end; i++) {
      if (c.labels[i] >= 1) {
        liver = true;
        break;
      }
    }
    (liver ? withLiver : without).push(z);
  }
  const nNeg =
    opts.negativeShare !== undefined
      ? Math.round(without.length * opts.negativeShare)
      : Math.min(without.length, Math.round(withLiver.length * (opts.negativeRatio ?? 1 / 3)));
  let chosen = [
    ...withLiver.map((z) => ({ z, kind: 'liver' as const })),
    ...shuffleInPlace(without, rng)
      .slice(0, nNeg)
      .map((z) => ({ z, kind: 'background' as const })),
  ];
  if (opts.perCase !== undefined && chosen.length > opts.perCase) {
    chosen = shuffleInPlace(chosen, rng).slice(0, opts.perCase);
  }
  return chosen.map(({ z, kind }) => ({
    origin: [0, 0, z] as Vec3,
    kind,
    cut: () => {
      const resize = (src: Float32Array | Uint8Array, mode: 'linear' | 'nearest') =>
        resample3D(src, [nx, ny, 1], [sx, sy, 1], mode, new Float32Array(sx * sy)) as Float32Array;
      const mask = new Uint8Array(plane);
      for (let i = 0; i < plane; i++) mask[i] = c.labels[z * plane + i] >= 1 ? 1 : 0;
      const x = resize(c.image.subarray(z * plane, (z + 1) * plane), 'linear');
      const y = resize(mask, 'nearest');
      return { x, y };
    },
  }));
}

/** The liver box grown by the margin (clamped), or null when the case has no liver. */
export function marginBox(c: PreparedCase, margin = 10): Box3 | null {
  return c.liverBox ? expandBox(c.liverBox, margin, c.dims) : null;
}

/** Per-case memo of the crops and resized boxes (they do not depend on the generator). */
const memo = new WeakMap<
  PreparedCase,
  Map<string, { image: Float32Array; target: Float32Array; dims: Vec3; box: Box3 }>
>();

function region(
  c: PreparedCase,
  key: string,
  make: () => { image: Float32Array; target: Float32Array; dims: Vec3; box: Box3 },
) {
  let m = memo.get(c);
  if (!m) memo.set(c, (m = new Map()));
  let r = m.get(key);
  if (!r) m.set(key, (r = make()));
  return r;
}

function binary(labels: Uint8Array, predicate: (v: number) => boolean): Float32Array {
  const out = new Float32Array(labels.length);
  for (let i = 0; i < labels.length; i++) out[i] = predicate(labels[i]) ? 1 : 0;
  return out;
}

function cut(src: Float32Array, dims: Vec3, start: Vec3, size: Vec3): Float32Array {
  const out = new Float32Array(size[0] * size[1] * size[2]);
  extractPatch(src, dims, start, size, out, 0, 0);
  return out;
}

/** The window starts (z) the authors' sampler takes from a box of `depth` slices, besides the random ones. */
export function strideWindowStarts(depth: number, windowZ: number, stride = 25): number[] {
  const starts: number[] = [];
  // windows from slice 0 every `stride` slices while one still starts inside the box; one that would
  // end after the box's end is moved back to end there (at 0 when the box is shorter than a window)
  for (let z = 0; z - stride < depth - windowZ; z += stride)
    starts.push(Math.max(0, Math.min(z, depth - windowZ)));
  return starts;
}

function drawLiverWindows(c: PreparedCase, opts: SamplerOptions, rng: Rng): Draw[] {
  const margin = opts.margin ?? 10;
  const box = marginBox(c, margin);
  if (!box) return [];
  const patch = opts.patch as Vec3;
  const bd = boxSize(box);
  const rd: Vec3 = [patch[0], patch[1], bd[2]];
  const r = () =>
    region(c, `liver:${margin}:${patch[0]}x${patch[1]}`, () => {
      const n = rd[0] * rd[1] * rd[2];
      const crop = cropArray(c.image, c.dims, box) as Float32Array;
      const lab = cropArray(c.labels, c.dims, box) as Uint8Array;
      const image = resample3D(crop, bd, rd, 'linear', new Float32Array(n)) as Float32Array;
      const labels = resample3D(lab, bd, rd, 'nearest', new Uint8Array(n)) as Uint8Array;
      return { image, target: binary(labels, (v) => v >= 1), dims: rd, box };
    });
  const authors = opts.liverWindows === 'authors' && opts.perCase === undefined;
  const count = authors ? Math.floor(bd[2] / 10) * 4 : (opts.perCase ?? DEFAULT_PER_CASE.liver);
  const maxStart = Math.max(0, bd[2] - patch[2]);
  const starts = Array.from({ length: count }, () => rng.int(0, maxStart));
  if (authors) starts.push(...strideWindowStarts(bd[2], patch[2]));
  return starts.map((z) => {
    const start: Vec3 = [0, 0, z];
    return {
      origin: [box.start[0], box.start[1], box.start[2] + z] as Vec3,
      kind: 'liver' as const,
      cut: () => ({ x: cut(r().image, rd, start, patch), y: cut(r().target, rd, start, patch) }),
    };
  });
}

function drawTumorPatches(c: PreparedCase, opts: SamplerOptions, rng: Rng): Draw[] {
  const margin = opts.margin ?? 10;
  const box = marginBox(c, margin);
  if (!box) return [];
  const patch = opts.patch as Vec3;
  const r = region(c, `tumor:${margin}`, () => {
    const lab = cropArray(c.labels, c.dims, box) as Uint8Array;
    return {
      image: cropArray(c.image, c.dims, box) as Float32Array,
      target: binary(lab, (v) => v === 2),
      dims: boxSize(box),
      box,
    };
  });
  const tumor: number[] = [];
  const liver: number[] = [];
  for (let i = 0; i < r.target.length; i++) {
    if (r.target[i] > 0) tumor.push(i);
  }
  const lab = cropArray(c.labels, c.dims, box) as Uint8Array;
  for (let i = 0; i < lab.length; i++) if (lab[i] === 1) liver.push(i);
  if (tumor.length < (opts.minTumorVoxels ?? 0)) return [];
  const count = opts.perCase ?? DEFAULT_PER_CASE.tumor;
  const nTumor =
    tumor.length === 0 ? 0 : liver.length === 0 ? count : Math.round(count * (opts.tumorFraction ?? 0.5));
  const starts = drawPatchStarts(r.dims, patch, {
    count,
    nTumor,
    jitter: opts.jitter ?? 0.25,
    tumor,
    other: liver,
    rng,
  });
  return starts.map(({ start, onTumor }) => ({
    origin: [box.start[0] + start[0], box.start[1] + start[1], box.start[2] + start[2]] as Vec3,
    kind: onTumor ? ('tumor' as const) : ('liver' as const),
    cut: () => ({ x: cut(r.image, r.dims, start, patch), y: cut(r.target, r.dims, start, patch) }),
  }));
}

/** What `drawPatchStarts` draws from: voxel indices (x fastest) of a region of some dims. */
export interface PatchPools {
  /** Patches wanted. */
  count: number;
  /** The first `nTumor` of them are centred on `tumor` voxels, the rest on `other` voxels. */
  nTumor: number;
  /**
   * Maximum jitter of tumor-centred patches per axis, as a fraction of the patch size: the centre moves
   * by up to floor(jitter * size / 2) voxels.
   */
  jitter: number;
  tumor: ArrayLike<number>;
  other: ArrayLike<number>;
  rng: Rng;
}

/**
 * The patch sampling of the tumour stages (the liver tumour stage, and the BraTS whole-tumour task,
 * `lib/brats/sampling.ts`): each patch is centred on a random voxel of its pool (a tumor-centred one
 * moved by a uniform jitter per axis), then shifted to lie inside `dims` where the region is at least a
 * patch long (else it starts at 0 and the cut pads). Stops early when a pool it needs is empty.
 */
export function drawPatchStarts(
  dims: Vec3,
  patch: Vec3,
  pools: PatchPools,
): Array<{ start: Vec3; onTumor: boolean }> {
  const { count, nTumor, jitter, tumor, other, rng } = pools;
  const [bx, by] = dims;
  const out: Array<{ start: Vec3; onTumor: boolean }> = [];
  for (let s = 0; s < count; s++) {
    const onTumor = s < nTumor;
    const pool = onTumor ? tumor : other;
    if (pool.length === 0) break;
    const idx = pool[rng.int(0, pool.length - 1)];
    const centre: Vec3 = [idx % bx, Math.floor(idx / bx) % by, Math.floor(idx / (bx * by))];
    const start = [0, 1, 2].map((a) => {
      const j = onTumor ? Math.floor(jitter * patch[a] * 0.5) : 0;
      const cen = centre[a] + (j > 0 ? rng.int(-j, j) : 0);
      const hi = Math.max(0, dims[a] - patch[a]);
      return Math.min(hi, Math.max(0, cen - Math.floor(patch[a] / 2)));
    }) as Vec3;
    out.push({ start, onTumor });
  }
  return out;
}

/**
 * The sample flipped along `axes` (indices of the spatial axes slowest first: [z, y, x] or [y, x]), input
 * and target alike; the same sample when `axes` is empty. With `channels` > 1 the input holds that many
 * values per voxel, channel fastest, and the channels are kept together.
 */
export function mirrorSample(
  sample: Sample,
  patch: readonly number[],
  axes: readonly number[],
  channels = 1,
): Sample {
  if (axes.length === 0) return sample;
  const spatial = [...patch].reverse();
  // The channel axis, fastest, is one more axis that is never flipped.
  const inputAxes = channels > 1 ? [...spatial, channels] : spatial;
  return { ...sample, x: flipBatch(sample.x, inputAxes, axes), y: flipBatch(sample.y, spatial, axes) };
}

/** Each spatial axis of a `dims`-dimensional patch, chosen with probability 1/2. */
export function randomMirrorAxes(dims: number, rng: Rng): number[] {
  const axes: number[] = [];
  for (let a = 0; a < dims; a++) if (rng.chance(0.5)) axes.push(a);
  return axes;
}

/**
 * Stack samples into one batch, shape [n, ...spatial (slowest first), channels]: each sample's `x` holds
 * `channels` values per voxel, channel fastest (1 for the liver stages, 4 for BraTS); `y` one.
 */
export function stackBatch(samples: readonly Sample[], patch: readonly number[], channels = 1): Batch {
  const spatial = [...patch].reverse();
  const per = patch.reduce((a, b) => a * b, 1);
  const x = new Float32Array(per * channels * samples.length);
  const y = new Float32Array(per * samples.length);
  samples.forEach((s, i) => {
    x.set(s.x, i * per * channels);
    y.set(s.y, i * per);
  });
  return { x, y, shape: [samples.length, ...spatial, channels] };
}

/** Anything that hands out prepared cases by id (a `CaseStore`, or a map in tests). */
export interface CaseSource {
  get(id: string): Promise<PreparedCase>;
}

/**
 * Training batches: the cases are visited in a fresh shuffled order each round, their samples pooled
 * over about `poolCases` cases and drawn from the pool at random, so one batch mixes cases. Endless, or
 * `passes` rounds (one round = every case's samples once, `countSamples` of them; what is left over
 * after the last full batch is dropped, as Keras does with `steps_per_epoch = samples // batch`). The
 * pool holds positions; a sample's arrays are cut when its batch is made.
 */
export async function* trainingBatches(
  source: CaseSource,
  ids: readonly string[],
  opts: SamplerOptions & { batchSize: number; seed: number; poolCases?: number; passes?: number },
): AsyncGenerator<Batch> {
  if (ids.length === 0) throw new RangeError('no training cases');
  const rng = createRng(deriveSeed(opts.seed, 'train'));
  const pool: { draw: Draw; axes: number[] }[] = [];
  const poolCases = opts.poolCases ?? 3;
  const make = (items: { draw: Draw; axes: number[] }[]) =>
    stackBatch(
      items.map(({ draw, axes }) => mirrorSample(materialize(draw), opts.patch, axes)),
      opts.patch,
    );
  let emptyRounds = 0;
  for (let round = 0; opts.passes === undefined || round < opts.passes; round++) {
    let drawn = 0;
    const order = shuffleInPlace([...ids], rng);
    for (let i = 0; i < order.length; i++) {
      const got = drawCase(await source.get(order[i]), opts, rng).map((draw) => ({
        draw,
        axes: opts.mirror ? randomMirrorAxes(opts.patch.length, rng) : [],
      }));
      drawn += got.length;
      pool.push(...got);
      const last = i === order.length - 1;
      if ((i + 1) % poolCases !== 0 && !last) continue;
      shuffleInPlace(pool, rng);
      while (pool.length >= opts.batchSize) yield make(pool.splice(0, opts.batchSize));
    }
    if (drawn === 0 && (++emptyRounds > 1 || opts.passes !== undefined)) {
      throw new RangeError(
        `no ${opts.stage} samples: the training cases have no liver${opts.minTumorVoxels ? ' or too little tumor' : ''}`,
      );
    }
  }
}

/**
 * The validation set: a fixed sample of each validation case (its own seed, so it is the same every
 * epoch and on resume), in batches of `batchSize`.
 */
export async function validationBatches(
  source: CaseSource,
  ids: readonly string[],
  opts: SamplerOptions & { batchSize: number; seed: number },
): Promise<Batch[]> {
  const batches: Batch[] = [];
  for await (const b of validationStream(source, ids, opts)) batches.push(b);
  return batches;
}

/**
 * The batches of `validationBatches`, made one at a time: each case's samples are drawn again from its
 * own seed (so they are the same every time) and cut when their batch is made, so a large validation
 * set (the paper recipe's 350 tumor patches per case) never sits in memory at once.
 */
export async function* validationStream(
  source: CaseSource,
  ids: readonly string[],
  opts: SamplerOptions & { batchSize: number; seed: number },
): AsyncGenerator<Batch> {
  const pending: Draw[] = [];
  for (const id of ids) {
    pending.push(...drawCase(await source.get(id), opts, createRng(deriveSeed(opts.seed, `val:${id}`))));
    while (pending.length >= opts.batchSize) {
      yield stackBatch(pending.splice(0, opts.batchSize).map(materialize), opts.patch);
    }
  }
  if (pending.length > 0) yield stackBatch(pending.map(materialize), opts.patch);
}
