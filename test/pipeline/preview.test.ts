import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { LIVER_RGB, previewSlices, renderPreviewPng, TUMOR_RGB } from '../../lib/pipeline/preview.ts';
import { createVolume, scalingAffine, type Vec3 } from '../../lib/volume/volume.ts';

/** 40x30x10 CT: air, a liver block i 5..19, j 5..24, k 2..7 (100 HU), a tumor block i 8..12, j 10..14, k 4..5. */
function scene(affine: number[]) {
  const dims: Vec3 = [40, 30, 10];
  const ct = new Int16Array(12000).fill(-1000);
  const lab = new Uint8Array(12000);
  for (let k = 2; k < 8; k++)
    for (let j = 5; j < 25; j++)
      for (let i = 5; i < 20; i++) {
        const tumor = i >= 8 && i < 13 && j >= 10 && j < 15 && k >= 4 && k < 6;
        ct[i + 40 * (j + 30 * k)] = tumor ? 40 : 100;
        lab[i + 40 * (j + 30 * k)] = tumor ? 2 : 1;
      }
  return {
    ct: createVolume(ct, dims, [1, 1, 2], affine),
    labels: createVolume(lab, dims, [1, 1, 2], affine),
  };
}

const rgbAt = (png: PNG, x: number, y: number) => {
  const o = 4 * (x + png.width * y);
  return [png.data[o], png.data[o + 1], png.data[o + 2]];
};

describe('renderPreviewPng', () => {
  it('picks slices spread over the labelled range', () => {
    const { labels } = scene(scalingAffine([1, 1, 2]));
    expect(previewSlices(labels, 9)).toEqual([2, 3, 4, 5, 6, 7]);
    expect(previewSlices(labels, 3)).toEqual([3, 5, 7]);
  });

  it('draws a decodable montage of the right size with outlines (RAS affine: x mirrored)', () => {
    const { ct, labels } = scene(scalingAffine([1, 1, 2]));
    const png = PNG.sync.read(Buffer.from(renderPreviewPng(ct, labels)));
    // 6 slices in 3 columns x 2 rows; tiles 256 x 192 (40 mm x 30 mm scaled to 256), 2 px gaps
    expect(png.width).toBe(3 * 256 + 4 * 2);
    expect(png.height).toBe(2 * 192 + 3 * 2);
    // Tile 0 (slice 2): voxel column i is shown at screen column 39 - i, so the liver (i 5..19) covers
    // screen voxels 20..34 = pixels 128..223; row j = 15 is screen voxel 14 -> pixel 90.
    const y = 2 + 90;
    expect(rgbAt(png, 2 + 128, y)).toEqual(LIVER_RGB);
    expect(rgbAt(png, 2 + 223, y)).toEqual(LIVER_RGB);
    expect(rgbAt(png, 2 + 127, y)).toEqual([0, 0, 0]);
    // inside: 100 HU in the [-160, 240] window -> round(255 * 260 / 400) = 166
    expect(rgbAt(png, 2 + 170, y)).toEqual([166, 166, 166]);
    // Tile 2 (slice 4) holds the tumor: i 8..12 -> screen voxels 27..31 -> pixels 173..204; j 10..14 -> rows
    // screen 15..19 -> pixels 96..127.
    const ox = 2 + 2 * 258;
    expect(rgbAt(png, ox + 173, 2 + 110)).toEqual(TUMOR_RGB);
    expect(rgbAt(png, ox + 204, 2 + 110)).toEqual(TUMOR_RGB);
    expect(rgbAt(png, ox + 190, 2 + 96)).toEqual(TUMOR_RGB);
    // tumor interior: 40 HU -> round(255 * 200 / 400) = 128
    expect(rgbAt(png, ox + 190, 2 + 110)).toEqual([128, 128, 128]);
  });

  it('does not mirror x when the voxel axis already runs towards the patient left', () => {
    const { ct, labels } = scene([-1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1]);
    const png = PNG.sync.read(Buffer.from(renderPreviewPng(ct, labels)));
    // liver i 5..19 -> pixels 32..127
    expect(rgbAt(png, 2 + 32, 2 + 90)).toEqual(LIVER_RGB);
    expect(rgbAt(png, 2 + 127, 2 + 90)).toEqual(LIVER_RGB);
    expect(rgbAt(png, 2 + 31, 2 + 90)).toEqual([0, 0, 0]);
  });
});
