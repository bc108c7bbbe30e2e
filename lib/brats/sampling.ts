/**
 * Training patches of the BraTS task, as the paper (Section IV-E): the liver tumour stage's patch strategy
 * (`drawPatchStarts` of `lib/training/samplers.ts`) on the whole brain, 400 patches of 64^3 per subject.
 * Most patches are centred on a random voxel of the target (whole tumour by default) moved by a uniform
 * jitter per axis; the rest on random brain voxels outside the target, so the network also sees healthy
 * tissue. Defaults follow the authors' liver tumour recipe (300 tumour- + 50 liver-centred of 350, jitter up
 * to half a patch): tumour fraction 6/7, jitter 1.
 *
 * A patch's input holds the four normalised sequences interleaved (channel fastest, [z, y, x, c], channel
 * order `BRATS_MODALITIES`); its target the binary region. Cross-validation folds are by subject
 * (`bratsFolds`).
 */

import { extractPatch } from '../pipeline/windows.ts';
import { kFoldSplit } from '../training/kfold.ts';
import type { Rng } from '../training/random.ts';
import { type Draw, drawPatchStarts, type Sample } from '../training/samplers.ts';
import type { Vec3 } from '../volume/volume.ts';
import { interleaveChannels, type NormaliseOptions, normaliseBratsSubject } from './normalise.ts';
import { subjectTarget } from './targets.ts';
import { BRATS_MODALITIES, type BratsSubject, type BratsTarget } from './types.ts';

export const BRATS_PATCH: Vec3 = [64, 64, 64];
export const BRATS_PATCHES_PER_SUBJECT = 400;
export const BRATS_CHANNELS = BRATS_MODALITIES.length;

export interface BratsSamplingOptions {
  /** Patch size in voxels (x, y, z); default 64^3. */
  patch?: Vec3;
  /** Fraction of patches centred on the target (default 6/7); all of them when the brain has no other voxel. */
  tumourFraction?: number;
  /** Jitter of target-centred patches per axis as a fraction of the patch (default 1: up to half a patch). */
  jitter?: number;
  /** The region learnt (default `whole`). */
  target?: BratsTarget;
  normalisation?: NormaliseOptions;
}

/** A subject ready for sampling: normalised interleaved input, target and the two pools of voxels. */
export interface PreparedBratsSubject {
  id: string;
  dims: Vec3;
  /** Normalised sequences, interleaved channel fastest (length voxels * 4). */
  image: Float32Array;
  /** Binary target as float (0/1). */
  target: Float32Array;
  /** Voxel indices in the target. */
  tumour: Int32Array;
  /** Voxel indices of brain outside the target. */
  brain: Int32Array;
}

export function prepareBratsSubject(
  subject: BratsSubject,
  opts: Pick<BratsSamplingOptions, 'target' | 'normalisation'> = {},
): PreparedBratsSubject {
  const norm = normaliseBratsSubject(subject, opts.normalisation);
  const mask = subjectTarget(subject, opts.target ?? 'whole');
  let nTumour = 0;
  let nBrain = 0;
  for (let v = 0; v < mask.length; v++) {
    if (mask[v]) nTumour++;
    else if (norm.brain[v]) nBrain++;
  }
  const tumour = new Int32Array(nTumour);
  const brain = new Int32Array(nBrain);
  const target = new Float32Array(mask.length);
  for (let v = 0, t = 0, b = 0; v < mask.length; v++) {
    if (mask[v]) {
      tumour[t++] = v;
      target[v] = 1;
    } else if (norm.brain[v]) brain[b++] = v;
  }
  return {
    id: subject.id,
    dims: [...subject.grid.dims],
    image: interleaveChannels(norm.channels),
    target,
    tumour,
    brain,
  };
}

/** Preparations made for `sampleBratsPatches`, per subject and options (they do not depend on the generator). */
const prepared = new WeakMap<BratsSubject, Map<string, PreparedBratsSubject>>();

function preparedFor(subject: BratsSubject, opts: BratsSamplingOptions): PreparedBratsSubject {
  const key = JSON.stringify([opts.target ?? 'whole', opts.normalisation ?? {}]);
  let m = prepared.get(subject);
  if (!m) prepared.set(subject, (m = new Map()));
  let p = m.get(key);
  if (!p) m.set(key, (p = prepareBratsSubject(subject, opts)));
  return p;
}

/** Cut a patch of the interleaved input: rows of x * channels values are contiguous, so cut them as one. */
function cutInput(p: PreparedBratsSubject, start: Vec3, patch: Vec3): Float32Array {
  const c = BRATS_CHANNELS;
  const out = new Float32Array(patch[0] * patch[1] * patch[2] * c);
  extractPatch(
    p.image,
    [p.dims[0] * c, p.dims[1], p.dims[2]],
    [start[0] * c, start[1], start[2]],
    [patch[0] * c, patch[1], patch[2]],
    out,
  );
  return out;
}

function cutTarget(p: PreparedBratsSubject, start: Vec3, patch: Vec3): Float32Array {
  const out = new Float32Array(patch[0] * patch[1] * patch[2]);
  extractPatch(p.target, p.dims, start, patch, out);
  return out;
}

/**
 * Draw `count` patches of a labelled subject (a `BratsSubject`, prepared on first use and remembered, or a
 * `PreparedBratsSubject`). Returns positions (`origin`, in voxels) with `cut()` making the arrays, as the
 * liver samplers' `Draw`: `x` [z, y, x, 4], `y` [z, y, x]. Deterministic for a generator state.
 */
export function sampleBratsPatches(
  subject: BratsSubject | PreparedBratsSubject,
  count: number = BRATS_PATCHES_PER_SUBJECT,
  rng: Rng,
  opts: BratsSamplingOptions = {},
): Draw[] {
  if (!Number.isInteger(count) || count < 0)
    throw new RangeError(`patch count must be an integer >= 0, got ${count}`);
  const patch = opts.patch ?? BRATS_PATCH;
  if (patch.length !== 3 || patch.some((v) => !Number.isInteger(v) || v < 1)) {
    throw new RangeError(`BraTS patches need three positive integer sizes, got ${patch.join('x')}`);
  }
  const p = 'image' in subject ? subject : preparedFor(subject, opts);
  const fraction = opts.tumourFraction ?? 6 / 7;
  const nTumour = p.tumour.length === 0 ? 0 : p.brain.length === 0 ? count : Math.round(count * fraction);
  const starts = drawPatchStarts(p.dims, patch, {
    count,
    nTumor: nTumour,
    jitter: opts.jitter ?? 1,
    tumor: p.tumour,
    other: p.brain,
    rng,
  });
  return starts.map(({ start, onTumor }) => ({
    origin: start,
    kind: onTumor ? 'tumor' : 'brain',
    cut: () => ({ x: cutInput(p, start, patch), y: cutTarget(p, start, patch) }),
  }));
}

/** The patches of `sampleBratsPatches` with their arrays cut. */
export function cutBratsPatches(draws: readonly Draw[]): Sample[] {
  return draws.map((d) => ({ ...d.cut(), origin: d.origin, kind: d.kind }));
}

/**
 * Cross-validation folds by subject (the project's K-fold rule, `lib/training/kfold.ts`): every subject is
 * validated in exactly one fold and never trained on in that fold.
 */
export function bratsFolds(subjectIds: readonly string[], folds: number, seed: number) {
  return kFoldSplit(subjectIds, folds, seed);
}
