/**
 * Parity on CT-like input: a windowed, normalised phantom (not uniform noise), through full-width
 * raunet1 (one axial slice) and raunet2 (a 32^3 crop centred on the liver), ONNX Runtime vs tfjs.
 */
import { describe, expect, it } from 'vitest';
import { generatePhantom } from '../../lib/phantom/phantom.ts';
import { type Box3, boundingBox, cropArray } from '../../lib/preprocess/crop.ts';
import { windowAndNormalize } from '../../lib/preprocess/window.ts';
import type { Vec3 } from '../../lib/volume/volume.ts';
import { checkParity } from './parity.ts';

const { ct, seg } = generatePhantom({ seed: 5, dims: [64, 64, 48], tumors: 2 });
const image = windowAndNormalize(ct).data;
const liver = boundingBox(seg.data, seg.dims);
if (!liver) throw new Error('phantom without liver');
const centre = liver.start.map((s, a) => Math.floor((s + liver.end[a]!) / 2)) as Vec3;

describe('ONNX export parity with tfjs on a phantom CT (max |diff| <= 1e-4, same segmentation)', () => {
  it('raunet1, full width, the axial slice through the liver centre', async () => {
    const [nx, ny] = ct.dims;
    const slice = image.slice(centre[2] * nx * ny, (centre[2] + 1) * nx * ny);
    expect(Math.max(...slice) - Math.min(...slice)).toBeGreaterThan(0.5); // real contrast, not a flat slice
    await checkParity('raunet1', [ny, nx, 1], 1, 21, slice);
  }, 600_000);

  it('raunet2, full width, a 32x32x32 crop centred on the liver', async () => {
    const start = centre.map((c, a) => Math.min(Math.max(0, c - 16), ct.dims[a]! - 32)) as Vec3;
    const box: Box3 = { start, end: start.map((s) => s + 32) as Vec3 };
    await checkParity('raunet2', [32, 32, 32, 1], 1, 22, cropArray(image, ct.dims, box));
  }, 600_000);
});
