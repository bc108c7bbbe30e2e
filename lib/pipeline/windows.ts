/**
 * Sliding-window inference building blocks: window positions, the Gaussian importance map, the blending
 * accumulator, patch extraction with padding, test-time mirroring and ensemble averaging.
 *
 * Shapes here follow the tensor convention of `lib/inference/engine.ts`: a patch shape is listed slowest
 * axis first (`[z, y, x]` for a 3D patch, `[y, x]` for a slice), which is also the memory order of a
 * `Volume` crop with dims `[x, y, z]`. Volume-side positions (`Vec3` starts and dims) are `[x, y, z]`.
 */
import type { InferenceEngine } from '../inference/engine.ts';
import type { Vec3 } from '../volume/volume.ts';

export type BlendMode = 'gaussian' | 'mean';

/**
 * Start positions of windows of size `window` covering `[0, length)` with the given fractional overlap
 * (0 <= overlap < 1). The step is `round(window * (1 - overlap))` (at least 1); the last window is snapped
 * so that it ends exactly at `length`. When `length <= window` there is one window at 0, and the caller
 * pads the volume up to the window size.
 */
export function slidingWindowStarts(length: number, window: number, overlap: number): number[] {
  if (!Number.isInteger(length) || length < 1) throw new RangeError(`length must be a positive integer`);
  if (!Number.isInteger(window) || window < 1) throw new RangeError(`window must be a positive integer`);
  if (!(overlap >= 0 && overlap < 1)) throw new RangeError(`overlap must be in [0, 1), got ${overlap}`);
  if (length <= window) return [0];
  const step = Math.max(1, Math.round(window * (1 - overlap)));
  const last = length - window;
  const starts: number[] = [];
  for (let s = 0; s < last; s += step) starts.push(s);
  starts.push(last);
  return starts;
}

/**
 * Start positions of the fewest windows of size `window` that cover `[0, length)` with neighbours
 * overlapping by at least `minOverlap * window` voxels, spread evenly: n = ceil((length - window) /
 * (window * (1 - minOverlap))) + 1 windows at round(i * (length - window) / (n - 1)). The first starts at 0
 * and the last ends at `length`; one window at 0 when `length <= window` (the caller pads). Fewer windows
 * than `slidingWindowStarts` with the same overlap whenever that one's snapped last window overlaps its
 * neighbour by more than it needs to (issue 16: choosing the overlap from window and volume size).
 */
export function evenWindowStarts(length: number, window: number, minOverlap: number): number[] {
  if (!Number.isInteger(length) || length < 1) throw new RangeError(`length must be a positive integer`);
  if (!Number.isInteger(window) || window < 1) throw new RangeError(`window must be a positive integer`);
  if (!(minOverlap >= 0 && minOverlap < 1)) {
    throw new RangeError(`minimum overlap must be in [0, 1), got ${minOverlap}`);
  }
  if (length <= window) return [0];
  const span = length - window;
  // largest step that keeps the overlap (at least 1 voxel of progress per window)
  const maxStep = Math.max(1, Math.floor(window * (1 - minOverlap)));
  const n = Math.ceil(span / maxStep) + 1;
  return Array.from({ length: n }, (_, i) => Math.round((i * span) / (n - 1)));
}

/** Smallest weight of the importance map, relative to its peak of 1 (keeps every voxel's weight > 0). */
export const MIN_IMPORTANCE = 1e-3;

/**
 * nnU-Net-style importance map for blending overlapping patches: a separable Gaussian centred on the
 * patch centre ((n - 1) / 2 on each axis, so the map is symmetric under flips), with sigma = n * sigmaScale
 * per axis, scaled so its peak is 1 and clamped below at `MIN_IMPORTANCE` so edge voxels keep some weight.
 * `shape` is slowest axis first; the result has the same memory layout as a patch of that shape.
 */
export function gaussianImportance(shape: number[], sigmaScale = 1 / 8): Float32Array {
  if (shape.length === 0 || shape.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new RangeError(`bad patch shape ${shape.join('x')}`);
  }
  if (!(sigmaScale > 0)) throw new RangeError('sigmaScale must be > 0');
  const axes = shape.map((n) => {
    const sigma = n * sigmaScale;
    const c = (n - 1) / 2;
    const peak = Math.exp(-((Math.floor(c) - c) ** 2) / (2 * sigma * sigma));
    const g = new Float64Array(n);
    for (let i = 0; i < n; i++) g[i] = Math.exp(-((i - c) ** 2) / (2 * sigma * sigma)) / peak;
    return g;
  });
  let total = 1;
  for (const n of shape) total *= n;
  const out = new Float32Array(total);
  // Iterate over the flat index, keeping a multi-index (last axis fastest).
  const idx = new Array<number>(shape.length).fill(0);
  const last = shape.length - 1;
  for (let f = 0; f < total; f++) {
    let w = 1;
    for (let a = 0; a <= last; a++) w *= axes[a][idx[a]];
    out[f] = Math.max(w, MIN_IMPORTANCE);
    for (let a = last; a >= 0; a--) {
      if (++idx[a] < shape[a]) break;
      idx[a] = 0;
    }
  }
  return out;
}

/**
 * Copy the block of `src` (dims `[x, y, z]`) that starts at `start` and has size `size` (`[x, y, z]`) into
 * `out` at `offset`, x fastest. Voxels outside `src` are `pad`.
 */
export function extractPatch(
  src: Float32Array,
  dims: Vec3,
  start: Vec3,
  size: Vec3,
  out: Float32Array,
  offset = 0,
  pad = 0,
): void {
  const [sx, sy, sz] = size;
  const [dx, dy, dz] = dims;
  const nx = Math.max(0, Math.min(sx, dx - start[0]));
  for (let k = 0; k < sz; k++) {
    const z = start[2] + k;
    for (let j = 0; j < sy; j++) {
      const y = start[1] + j;
      const o = offset + sx * (j + sy * k);
      if (z >= dz || y >= dy) {
        out.fill(pad, o, o + sx);
        continue;
      }
      const s = start[0] + dx * (y + dy * z);
      out.set(src.subarray(s, s + nx), o);
      if (nx < sx) out.fill(pad, o + nx, o + sx);
    }
  }
}

/**
 * Whether the block of `mask` (dims `[x, y, z]`) that starts at `start` and has size `size` (`[x, y, z]`,
 * clipped to the mask) holds a nonzero voxel. Sliding-window stages use it to skip windows that cannot
 * change their result.
 */
export function blockHasVoxel(mask: Uint8Array, dims: Vec3, start: Vec3, size: Vec3): boolean {
  const [dx, dy, dz] = dims;
  const x1 = Math.min(dx, start[0] + size[0]);
  const y1 = Math.min(dy, start[1] + size[1]);
  const z1 = Math.min(dz, start[2] + size[2]);
  for (let z = start[2]; z < z1; z++) {
    for (let y = start[1]; y < y1; y++) {
      const row = dx * (y + dy * z);
      for (let x = start[0]; x < x1; x++) if (mask[row + x]) return true;
    }
  }
  return false;
}

/**
 * Accumulates patch probabilities into a weighted sum over a region (usually the VOI) of dims `[x, y, z]`.
 * Patches may stick out of the region (padded windows): the outside part is ignored.
 * Memory: two Float32Arrays of the region's size.
 */
export class BlendAccumulator {
  readonly sum: Float32Array;
  readonly weight: Float32Array;
  private readonly importance: Float32Array;

  constructor(
    readonly dims: Vec3,
    readonly patch: Vec3,
    mode: BlendMode = 'gaussian',
  ) {
    const n = dims[0] * dims[1] * dims[2];
    this.sum = new Float32Array(n);
    this.weight = new Float32Array(n);
    const p = patch[0] * patch[1] * patch[2];
    this.importance =
      mode === 'gaussian' ? gaussianImportance([patch[2], patch[1], patch[0]]) : new Float32Array(p).fill(1);
  }

  /** Add one patch (x fastest, size `patch`) whose voxel (0, 0, 0) sits at `start` in the region. */
  add(prob: Float32Array, start: Vec3, offset = 0): void {
    const [px, py, pz] = this.patch;
    const [dx, dy, dz] = this.dims;
    const nx = Math.min(px, dx - start[0]);
    const ny = Math.min(py, dy - start[1]);
    const nz = Math.min(pz, dz - start[2]);
    const w = this.importance;
    const sum = this.sum;
    const weight = this.weight;
    for (let k = 0; k < nz; k++) {
      for (let j = 0; j < ny; j++) {
        const p = px * (j + py * k);
        const q = offset + p;
        const d = start[0] + dx * (start[1] + j + dy * (start[2] + k));
        for (let i = 0; i < nx; i++) {
          const wi = w[p + i];
          sum[d + i] += prob[q + i] * wi;
          weight[d + i] += wi;
        }
      }
    }
  }

  /**
   * The blended probabilities (sum / weight), computed in place in `sum` and returned. Voxels that no patch
   * covered are 0.
   */
  finish(): Float32Array {
    const s = this.sum;
    const w = this.weight;
    for (let i = 0; i < s.length; i++) s[i] = w[i] > 0 ? s[i] / w[i] : 0;
    return s;
  }
}

/**
 * Mirror a batch tensor `[n, ...spatial, 1]` along the given spatial axes (indices into `spatial`, slowest
 * first). Returns a new array; mirroring twice restores the input.
 */
export function flipBatch(
  data: Float32Array,
  spatial: readonly number[],
  axes: readonly number[],
): Float32Array {
  if (axes.length === 0) return data.slice();
  let per = 1;
  for (const s of spatial) per *= s;
  const n = data.length / per;
  const out = new Float32Array(data.length);
  const strides = new Array<number>(spatial.length);
  let st = 1;
  for (let a = spatial.length - 1; a >= 0; a--) {
    strides[a] = st;
    st *= spatial[a];
  }
  const flip = spatial.map((_, a) => axes.includes(a));
  const idx = new Array<number>(spatial.length).fill(0);
  const last = spatial.length - 1;
  for (let f = 0; f < per; f++) {
    let g = 0;
    for (let a = 0; a <= last; a++) g += (flip[a] ? spatial[a] - 1 - idx[a] : idx[a]) * strides[a];
    for (let b = 0; b < n; b++) out[b * per + g] = data[b * per + f];
    for (let a = last; a >= 0; a--) {
      if (++idx[a] < spatial[a]) break;
      idx[a] = 0;
    }
  }
  return out;
}

/** All subsets of the spatial axes of a `dims`-dimensional patch (2^dims mirror combinations). */
export function mirrorCombinations(dims: number): number[][] {
  const out: number[][] = [];
  for (let m = 0; m < 1 << dims; m++) {
    const axes: number[] = [];
    for (let a = 0; a < dims; a++) if (m & (1 << a)) axes.push(a);
    out.push(axes);
  }
  return out;
}

/**
 * Probabilities for a batch `[n, ...spatial, c]` (the output is `[n, ...spatial, 1]`), averaged over the
 * engines of an ensemble and, with `tta`, over every mirroring of the spatial axes (each prediction
 * mirrored back before averaging).
 */
export async function predictEnsemble(
  engines: readonly InferenceEngine[],
  input: Float32Array,
  shape: readonly number[],
  tta = false,
): Promise<Float32Array> {
  if (engines.length === 0) throw new Error('no model in the ensemble');
  const spatial = shape.slice(1, -1);
  // the input's channels (4 for the brain network) are a trailing axis that is never flipped
  const inputAxes = shape.slice(1);
  const flips = tta ? mirrorCombinations(spatial.length) : [[]];
  let acc: Float32Array | null = null;
  for (const engine of engines) {
    for (const axes of flips) {
      const x = axes.length ? flipBatch(input, inputAxes, axes) : input;
      let y = await engine.predict(x, shape);
      if (axes.length) y = flipBatch(y, spatial, axes);
      if (acc === null) acc = y;
      else for (let i = 0; i < acc.length; i++) acc[i] += y[i];
    }
  }
  const out = acc!;
  const count = engines.length * flips.length;
  if (count > 1) for (let i = 0; i < out.length; i++) out[i] /= count;
  return out;
}
