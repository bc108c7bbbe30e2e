/**
 * HU windowing and intensity normalisation, as in the RA-UNet paper (Sec. III-A): clip the CT to the
 * window [-100, 200] HU, then zero-mean/unit-variance normalisation over the whole volume, then min-max
 * scaling to [0, 1].
 *
 * Note: z-scoring followed by min-max is, in exact arithmetic, the same as min-max of the clipped values
 * (both are increasing affine maps); we still do both steps so the code reads like the paper. A constant
 * volume (zero variance, or max = min) maps to all zeros, never NaN.
 */
import { type Volume, withData } from '../volume/volume.ts';

export interface HuWindow {
  min: number;
  max: number;
}

export const HU_WINDOW: Readonly<HuWindow> = Object.freeze({ min: -100, max: 200 });

/** Clip, z-score and min-max normalise a CT volume; returns a new Float32 volume on the same grid. */
export function windowAndNormalize(vol: Volume, window: HuWindow = HU_WINDOW): Volume<Float32Array> {
  if (!(window.max > window.min)) throw new RangeError(`HU window [${window.min}, ${window.max}] is empty`);
  const src = vol.data;
  const n = src.length;
  const out = new Float32Array(n);
  // Pass 1: clip, accumulate mean and variance (float64 sums).
  let sum = 0;
  for (let i = 0; i < n; i++) {
    let v = src[i];
    if (v < window.min) v = window.min;
    else if (v > window.max) v = window.max;
    else if (Number.isNaN(v)) v = window.min; // NaN voxels are treated as below the window
    out[i] = v;
    sum += v;
  }
  const mean = n > 0 ? sum / n : 0;
  let sq = 0;
  for (let i = 0; i < n; i++) {
    const d = out[i] - mean;
    sq += d * d;
  }
  const std = n > 0 ? Math.sqrt(sq / n) : 0;
  if (!(std > 0)) return withData(vol, new Float32Array(n), 'float32');
  // Pass 2: z-score, tracking the extremes.
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const z = (out[i] - mean) / std;
    out[i] = z;
    if (z < lo) lo = z;
    if (z > hi) hi = z;
  }
  const range = hi - lo;
  if (!(range > 0)) return withData(vol, new Float32Array(n), 'float32');
  // Pass 3: min-max to [0, 1].
  const scale = 1 / range;
  for (let i = 0; i < n; i++) {
    const v = (out[i] - lo) * scale;
    out[i] = Math.min(1, Math.max(0, v));
  }
  return withData(vol, out, 'float32');
}
