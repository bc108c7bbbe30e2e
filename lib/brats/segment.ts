/**
 * Whole-tumour segmentation of one brain (the paper's BraTS mode, Section IV-E): the normalised four
 * sequences as four channels, 64^3 windows slid over the brain with Gaussian blending, the folds'
 * probabilities averaged (and, with `tta`, every mirroring of the window), thresholded.
 *
 * The window machinery is the liver pipeline's (`lib/pipeline/windows.ts`); what differs is the input (four
 * planar channels interleaved into a channels-last patch), the region (the brain's box, not the liver's)
 * and the clean-up: the largest connected component is optional and off by default, because gliomas can
 * be multifocal and the largest component would delete the smaller foci.
 *
 * No `node:` imports: the caller reads the subject and writes the results.
 */
import type { InferenceEngine } from '../inference/engine.ts';
import type { ModelManifest } from '../model/storage.ts';
import {
  BlendAccumulator,
  type BlendMode,
  extractPatch,
  predictEnsemble,
  slidingWindowStarts,
} from '../pipeline/windows.ts';
import { keepLargestComponent } from '../postprocess/components.ts';
import { type Box3, boundingBox, boxSize } from '../preprocess/crop.ts';
import type { Vec3 } from '../volume/volume.ts';

/** One fold of a brain-tumour ensemble. */
export interface BratsModel {
  engine: InferenceEngine;
  manifest: ModelManifest;
  /** `brats/fold-<k>`. */
  id: string;
}

export interface BratsWindowOptions {
  /** Fractional overlap of neighbouring windows (default 0.5). */
  overlap?: number;
  /** Average over the 8 mirrorings of every window too (default false). */
  tta?: boolean;
  blend?: BlendMode;
  /** Windows per forward pass (default 1). */
  batchSize?: number;
  /** Called after each forward pass with windows done and the total. */
  onProgress?: (done: number, total: number) => void;
}

export interface BratsSegmentOptions extends BratsWindowOptions {
  /** Probability threshold (default: the models' manifest threshold, their mean, else 0.5). */
  threshold?: number;
  /** Keep only the largest connected component (default false: tumours can be multifocal). */
  largestComponent?: boolean;
}

/** The box the windows cover: the bounding box of the brain mask (`bratsBrainMask`); null when empty. */
export function brainBox(brain: Uint8Array, dims: Vec3): Box3 | null {
  return boundingBox(brain, dims, 0, (v) => v > 0);
}

/** The models' common patch [x, y, z] and channel count, checked against the input's channels. */
export function ensemblePatch(models: readonly BratsModel[], channels: number): { patch: Vec3 } {
  if (models.length === 0) throw new RangeError('no brats model loaded');
  const shapes = models.map((m) => m.manifest.inputShape.join('x'));
  if (new Set(shapes).size > 1) {
    throw new RangeError(`the brats models disagree on the input shape (${[...new Set(shapes)].join(', ')})`);
  }
  const shape = models[0]!.manifest.inputShape;
  if (shape.length !== 4) throw new RangeError(`a brats model needs a 3D input, got ${shape.join('x')}`);
  const [z, y, x, c] = shape as [number, number, number, number];
  if (c !== channels)
    throw new RangeError(`the brats models take ${c} channels, the subject has ${channels}`);
  return { patch: [x, y, z] };
}

/**
 * Blended whole-tumour probabilities of the voxels of `box` (dims `boxSize(box)`, x fastest): windows of
 * the models' patch slid over the box with `overlap`; each window reads the volume beyond the box where
 * there is some, zeros past the volume's end.
 */
export async function predictBrainProbability(
  channels: readonly Float32Array[],
  dims: Vec3,
  box: Box3,
  models: readonly BratsModel[],
  opts: BratsWindowOptions = {},
): Promise<Float32Array> {
  const { patch } = ensemblePatch(models, channels.length);
  const region = boxSize(box);
  const overlap = opts.overlap ?? 0.5;
  const starts: Vec3[] = [];
  for (const z of slidingWindowStarts(region[2], patch[2], overlap))
    for (const y of slidingWindowStarts(region[1], patch[1], overlap))
      for (const x of slidingWindowStarts(region[0], patch[0], overlap)) starts.push([x, y, z]);
  const per = patch[0] * patch[1] * patch[2];
  const c = channels.length;
  const batchSize = Math.max(1, opts.batchSize ?? 1);
  const acc = new BlendAccumulator(region, patch, opts.blend ?? 'gaussian');
  const engines = models.map((m) => m.engine);
  const planar = new Float32Array(per);
  for (let b = 0; b < starts.length; b += batchSize) {
    const group = starts.slice(b, b + batchSize);
    const input = new Float32Array(group.length * per * c);
    group.forEach((s, i) => {
      const at: Vec3 = [box.start[0] + s[0], box.start[1] + s[1], box.start[2] + s[2]];
      for (let ch = 0; ch < c; ch++) {
        extractPatch(channels[ch]!, dims, at, patch, planar, 0, 0);
        // channels last: voxel v of window i, channel ch
        const base = i * per * c + ch;
        for (let v = 0; v < per; v++) input[base + v * c] = planar[v]!;
      }
    });
    const prob = await predictEnsemble(
      engines,
      input,
      [group.length, patch[2], patch[1], patch[0], c],
      opts.tta,
    );
    group.forEach((s, i) => {
      acc.add(prob, s, i * per);
    });
    opts.onProgress?.(Math.min(starts.length, b + batchSize), starts.length);
  }
  return acc.finish();
}

/** The threshold of an ensemble: the mean of the manifests' thresholds (0.5 where absent). */
export function ensembleThreshold(models: readonly BratsModel[]): number {
  if (models.length === 0) return 0.5;
  return models.reduce((s, m) => s + (m.manifest.threshold ?? 0.5), 0) / models.length;
}

export interface BratsPrediction {
  /** Whole tumour (1) or not (0) on the grid of `dims`. */
  mask: Uint8Array;
  /** Blended probabilities on the same grid (0 outside the brain). */
  probability: Float32Array;
  /** The brain box the windows covered (null: an empty volume, nothing predicted). */
  brain: Box3 | null;
  threshold: number;
  windows: number;
}

/**
 * Whole-tumour mask of a volume: `channels` normalised (the network input, in the models' channel order),
 * `brain` the brain mask (the windows cover its box; the tumour is kept inside the box only).
 */
export async function segmentBrainTumour(
  channels: readonly Float32Array[],
  brain: Uint8Array,
  dims: Vec3,
  models: readonly BratsModel[],
  opts: BratsSegmentOptions = {},
): Promise<BratsPrediction> {
  const n = dims[0] * dims[1] * dims[2];
  for (const ch of [...channels, brain]) {
    if (ch.length !== n) throw new RangeError(`a channel has ${ch.length} voxels, the grid ${n}`);
  }
  const threshold = opts.threshold ?? ensembleThreshold(models);
  const box = brainBox(brain, dims);
  const probability = new Float32Array(n);
  const mask = new Uint8Array(n);
  let windows = 0;
  if (box) {
    const regionProb = await predictBrainProbability(channels, dims, box, models, {
      ...opts,
      onProgress: (done, total) => {
        windows = total;
        opts.onProgress?.(done, total);
      },
    });
    const [rx, ry, rz] = boxSize(box);
    for (let z = 0; z < rz; z++)
      for (let y = 0; y < ry; y++) {
        const src = rx * (y + ry * z);
        const dst = box.start[0] + dims[0] * (box.start[1] + y + dims[1] * (box.start[2] + z));
        for (let x = 0; x < rx; x++) {
          const p = regionProb[src + x]!;
          probability[dst + x] = p;
          mask[dst + x] = p >= threshold ? 1 : 0;
        }
      }
  }
  const cleaned = opts.largestComponent ? keepLargestComponent(mask, dims) : mask;
  return { mask: cleaned, probability, brain: box, threshold, windows };
}
