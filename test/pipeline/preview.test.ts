import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { drawText, textWidth } from '../../lib/pipeline/font.ts';
import {
  LIVER_RGB,
  type PreviewOptions,
  previewGeometry,
  previewSlices,
  renderPreviewPng,
  TUMOR_RGB,
} from '../../lib/pipeline/preview.ts';
import { createVolume, scalingAffine, type Vec3, type Volume } from '../../lib/volume/volume.ts';

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

const render = (ct: Volume, labels: Volume<Uint8Array>, opts: PreviewOptions = {}) =>
  PNG.sync.read(Buffer.from(renderPreviewPng(ct, labels, opts)));

/** Number of pixels of colour `rgb` in rows y0..y1 (exclusive). */
function countColour(png: PNG, rgb: readonly number[], y0: number, y1: number): number {
  let n = 0;
  for (let y = y0; y < y1; y++)
    for (let x = 0; x < png.width; x++) if (rgbAt(png, x, y).every((c, a) => c === rgb[a])) n++;
  return n;
}

describe('renderPreviewPng', () => {
  it('picks slices spread over the labelled range', () => {
    const { labels } = scene(scalingAffine([1, 1, 2]));
    expect(previewSlices(labels, 9)).toEqual([2, 3, 4, 5, 6, 7]);
    expect(previewSlices(labels, 3)).toEqual([3, 5, 7]);
  });

  it('draws the axial montage cranial first, with outlines (RAS affine: x mirrored)', () => {
    const { ct, labels } = scene(scalingAffine([1, 1, 2]));
    const g = previewGeometry(ct, labels);
    // 6 slices, the most cranial (largest z: k = 7, z = 14 mm) first; tiles 256 x 192 (40 mm x 30 mm)
    expect(g.tiles.map((t) => [t.k, t.zMm])).toEqual([
      [7, 14],
      [6, 12],
      [5, 10],
      [4, 8],
      [3, 6],
      [2, 4],
    ]);
    expect(g.tiles.every((t) => t.w === 256 && t.h === 192)).toBe(true);
    expect(g.tiles[1].x - g.tiles[0].x).toBe(258);
    expect(g.tiles[3].y - g.tiles[0].y).toBe(194);
    const png = render(ct, labels);
    expect([png.width, png.height]).toEqual([g.width, g.height]);
    // Slice k = 2: voxel column i is shown at screen column 39 - i, so the liver (i 5..19) covers
    // screen voxels 20..34 = pixels 128..223; row j = 15 is screen voxel 14 -> pixel 90.
    const t2 = g.tiles.find((t) => t.k === 2)!;
    const y = t2.y + 90;
    expect(rgbAt(png, t2.x + 128, y)).toEqual(LIVER_RGB);
    expect(rgbAt(png, t2.x + 223, y)).toEqual(LIVER_RGB);
    expect(rgbAt(png, t2.x + 127, y)).toEqual([0, 0, 0]);
    // inside: 100 HU in the [-160, 240] window -> round(255 * 260 / 400) = 166
    expect(rgbAt(png, t2.x + 170, y)).toEqual([166, 166, 166]);
    // Slice k = 4 holds the tumor: i 8..12 -> screen voxels 27..31 -> pixels 173..204; j 10..14 -> rows
    // screen 15..19 -> pixels 96..127.
    const t4 = g.tiles.find((t) => t.k === 4)!;
    expect(rgbAt(png, t4.x + 173, t4.y + 110)).toEqual(TUMOR_RGB);
    expect(rgbAt(png, t4.x + 204, t4.y + 110)).toEqual(TUMOR_RGB);
    expect(rgbAt(png, t4.x + 190, t4.y + 96)).toEqual(TUMOR_RGB);
    // tumor interior: 40 HU -> round(255 * 200 / 400) = 128
    expect(rgbAt(png, t4.x + 190, t4.y + 110)).toEqual([128, 128, 128]);
  });

  it('does not mirror x when the voxel axis already runs towards the patient left', () => {
    const { ct, labels } = scene([-1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1]);
    const png = render(ct, labels);
    const t = previewGeometry(ct, labels).tiles[0];
    // liver i 5..19 -> pixels 32..127
    expect(rgbAt(png, t.x + 32, t.y + 90)).toEqual(LIVER_RGB);
    expect(rgbAt(png, t.x + 127, t.y + 90)).toEqual(LIVER_RGB);
    expect(rgbAt(png, t.x + 31, t.y + 90)).toEqual([0, 0, 0]);
  });

  it('shows a coronal view through the labels, cranial at the top, patient right on the left', () => {
    const { ct, labels } = scene(scalingAffine([1, 1, 2]));
    const g = previewGeometry(ct, labels);
    // Labelled rows j 5..24: mean 14.5 -> row 15. The view is 40 mm x 20 mm, capped at 512 px wide:
    // 12.8 px/mm -> 512 x 256; screen column u shows i = 39 - floor(u / 12.8), row v shows k = 9 - floor(v / 25.6).
    expect(g.coronal).toMatchObject({ j: 15, w: 512, h: 256 });
    // z grows with k here, so the top row shows the last slice and the left column the last column (x+)
    expect([
      g.coronalMap.rows[0],
      g.coronalMap.rows[255],
      g.coronalMap.cols[0],
      g.coronalMap.cols[511],
    ]).toEqual([9, 0, 39, 0]);
    expect(g.coronal.x).toBeGreaterThan(g.tiles[2].x + 256);
    const png = render(ct, labels);
    const { x, y } = g.coronal;
    // liver i 5..19 -> screen voxels 20..34 -> pixels 256..447; k 7..2 -> screen voxels 2..7 -> rows 51..204
    expect(rgbAt(png, x + 256, y + 128)).toEqual(LIVER_RGB);
    expect(rgbAt(png, x + 447, y + 128)).toEqual(LIVER_RGB);
    expect(rgbAt(png, x + 255, y + 128)).toEqual([0, 0, 0]);
    expect(rgbAt(png, x + 300, y + 51)).toEqual(LIVER_RGB); // cranial edge (k = 7) near the top
    expect(rgbAt(png, x + 300, y + 50)).toEqual([0, 0, 0]);
    expect(rgbAt(png, x + 300, y + 204)).toEqual(LIVER_RGB); // caudal edge (k = 2)
    expect(rgbAt(png, x + 300, y + 205)).toEqual([0, 0, 0]);
  });

  it('heads the picture with the case name, volumes, tumor count and burden, demo mark and flags', () => {
    const { ct, labels } = scene(scalingAffine([1, 1, 2]));
    const flags = [{ code: 'liver-touches-border', severity: 'warning' as const, message: 'liver cut' }];
    const opts = { name: 'case 7', demoModels: true, flags };
    const g = previewGeometry(ct, labels, opts);
    // liver 15 x 20 x 6 = 1800 voxels of 2 mm^3 = 3.6 mL; one 5 x 5 x 2 tumor = 50 voxels = 0.1 mL, 2.8 %
    expect(g.header.map((l) => l.text)).toEqual([
      'case 7',
      'DEMO MODEL - not for clinical use',
      'liver 3.6 mL   1 tumor 0.1 mL, burden 2.8%',
      'warning: liver cut',
    ]);
    const png = render(ct, labels, opts);
    const band = g.tiles[0].y;
    expect(countColour(png, [255, 150, 0], 0, band)).toBeGreaterThan(50); // the demo mark's orange
    expect(countColour(png, [255, 210, 80], 0, band)).toBeGreaterThan(50); // the flag's yellow
    // legend: a swatch of each label colour below the images
    expect(countColour(png, LIVER_RGB, g.legendY, g.height)).toBe(14 * 14);
    expect(countColour(png, TUMOR_RGB, g.legendY, g.height)).toBe(14 * 14);
    // without the options: no mark, no flags
    const plain = render(ct, labels);
    expect(countColour(plain, [255, 150, 0], 0, previewGeometry(ct, labels).tiles[0].y)).toBe(0);
  });

  it('says "no liver found" when the label map is empty', () => {
    const { ct, labels } = scene(scalingAffine([1, 1, 2]));
    labels.data.fill(0);
    const g = previewGeometry(ct, labels, { name: 'empty' });
    expect(g.header.map((l) => l.text)).toEqual(['empty', 'NO LIVER FOUND']);
    const png = render(ct, labels, { name: 'empty' });
    expect(countColour(png, TUMOR_RGB, 0, g.tiles[0].y)).toBeGreaterThan(100); // written in red
    expect(g.tiles.length).toBe(9); // slices spread over the whole volume
  });
});

describe('drawText', () => {
  it('draws each glyph in a 5x7 cell with one pixel between glyphs', () => {
    const w = 20;
    const rgba = new Uint8Array(4 * w * 9);
    drawText(rgba, w, 9, 1, 1, 'L1', [255, 0, 0]);
    const on = (x: number, y: number) => rgba[4 * (x + w * y)] === 255;
    // L: the left column and the bottom row of its cell (x 1..5, y 1..7)
    for (let y = 1; y <= 7; y++) expect(on(1, y)).toBe(true);
    for (let x = 1; x <= 5; x++) expect(on(x, 7)).toBe(true);
    expect(on(2, 6)).toBe(false);
    expect(on(6, 7)).toBe(false); // the gap column
    expect(textWidth('L1')).toBe(11);
  });
});
