/**
 * Parity on CT-like input: a windowed, normalised phantom (not uniform noise), through full-width
 * raunet1 (one axial slice) and raunet2 (a 32^3 crop centred on the liver), ONNX Runtime vs tfjs.
 */
import { describe, expect, it } from 'vitest';
import { checkParity, cropAround, phantomCase } from './parity.ts';

const { ct, image, centre } = phantomCase();

describe('ONNX export parity with tfjs on a phantom CT (max |diff| <= 1e-4, same segmentation)', () => {
  it('raunet1, full width, the axial slice through the liver centre', async () => {
    const [nx, ny] = ct.dims;
    const slice = image.slice(centre[2] * nx * ny, (centre[2] + 1) * nx * ny);
    expect(Math.max(...slice) - Math.min(...slice)).toBeGreaterThan(0.5); // real contrast, not a flat slice
    await checkParity('raunet1', [ny, nx, 1], 1, 21, slice);
  }, 600_000);

  it('raunet2, full width, a 32x32x32 crop centred on the liver', async () => {
    const crop = cropAround(image, ct.dims, centre, [32, 32, 32]);
    await checkParity('raunet2', [32, 32, 32, 1], 1, 22, crop);
  }, 600_000);
});
