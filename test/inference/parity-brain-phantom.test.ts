/**
 * Parity of the full-width raunet2-brain (4-channel input) on structured, image-like input rather than
 * noise. There is no brain MRI phantom, so four differently windowed or smoothed versions of the phantom
 * CT stand in for the four MRI sequences (T1, T1c, T2, FLAIR): the liver window [-100, 200] HU, a wide
 * window [-1000, 1000] HU, an inverted narrow soft-tissue window [0, 150] HU, and the liver window
 * smoothed by a 3x3x3 box mean. Each is normalised by the project's `windowAndNormalize`.
 *
 * Size: the paper's 64x64x64 would need a tfjs forward pass of about 3 minutes on the pure-JS backend
 * (measured 22 s at 32^3 and 45 s at 32x32x64, roughly linear in voxels; the wasm backend was slower:
 * 27-30 s at 32^3), so the crop is the smallest input the network accepts, 32^3 centred on the liver,
 * at full width.
 */
import { describe, expect, it } from 'vitest';
import { windowAndNormalize } from '../../lib/preprocess/window.ts';
import type { Vec3 } from '../../lib/volume/volume.ts';
import { maxAbsDiff } from './helpers.ts';
import { checkParity, cropAround, phantomCase } from './parity.ts';

/** Mean over the 3x3x3 neighbourhood (clamped at the borders), one separable pass per axis. */
function boxMean3(data: Float32Array, dims: Vec3): Float32Array {
  const strides = [1, dims[0], dims[0] * dims[1]];
  let src = data;
  for (let a = 0; a < 3; a++) {
    const out = new Float32Array(src.length);
    const n = dims[a]!;
    const s = strides[a]!;
    for (let i = 0; i < src.length; i++) {
      const k = Math.floor(i / s) % n;
      const lo = k > 0 ? i - s : i;
      const hi = k < n - 1 ? i + s : i;
      out[i] = (src[lo]! + src[i]! + src[hi]!) / 3;
    }
    src = out;
  }
  return src;
}

const { ct, image, centre } = phantomCase();
const size: Vec3 = [32, 32, 32];
const sequences = [
  image,
  windowAndNormalize(ct, { min: -1000, max: 1000 }).data,
  windowAndNormalize(ct, { min: 0, max: 150 }).data.map((v) => 1 - v),
  boxMean3(image, ct.dims),
].map((full) => cropAround(full, ct.dims, centre, size));

describe('raunet2-brain ONNX export parity with tfjs on phantom-derived 4-channel input', () => {
  it('the stand-in sequences are distinct images with real contrast', () => {
    for (const s of sequences) expect(Math.max(...s) - Math.min(...s)).toBeGreaterThan(0.5);
    for (let i = 0; i < 4; i++) {
      for (let j = i + 1; j < 4; j++) expect(maxAbsDiff(sequences[i]!, sequences[j]!)).toBeGreaterThan(0.1);
    }
  });

  it('full width, [32, 32, 32, 4] crop centred on the liver', async () => {
    const voxels = size[0] * size[1] * size[2];
    const input = new Float32Array(voxels * 4); // channels last: [z, y, x, c]
    for (let i = 0; i < voxels; i++) for (let c = 0; c < 4; c++) input[i * 4 + c] = sequences[c]![i]!;
    await checkParity('raunet2-brain', [32, 32, 32, 4], 1, 31, input);
  }, 600_000); // ~20-25 s CPU on a lightly loaded machine
});
