/**
 * A quick-look PNG of a segmented brain: a header (subject, tumour volume, the demo-model mark), then a
 * montage of axial FLAIR slices spread over the tumour's z range (the whole brain when no tumour was
 * found) with the tumour outlined in red. FLAIR is the sequence the whole tumour (oedema included) is
 * brightest on. Grey levels: the 1st to 99th percentile of the FLAIR inside the brain (MRI has no fixed
 * units). Slices are drawn in the voxel order of the subject's grid (the brain task works on the grid
 * as stored, like BraTS): x to the right, y upwards.
 */
import { PNG } from 'pngjs';
import { drawText, GLYPH_H } from '../pipeline/font.ts';
import type { Vec3 } from '../volume/volume.ts';

export interface BratsPreviewOptions {
  /** Montage slices (default 6) and columns (default 3). */
  slices?: number;
  columns?: number;
  /** Header lines (the subject name, the tumour volume, ...). */
  header?: string[];
  /** Draw the demo-model mark. */
  demoModels?: boolean;
}

const TUMOUR_RGB = [255, 40, 40];
const WHITE = [235, 235, 235];
const DEMO_RGB = [255, 150, 0];
const MARGIN = 8;
const LINE = 2 * GLYPH_H + 6;
const GAP = 2;

/** `count` axial slices evenly spread over the z range holding mask voxels (or the whole volume). */
export function bratsPreviewSlices(mask: Uint8Array, dims: Vec3, count: number): number[] {
  const plane = dims[0] * dims[1];
  let lo = -1;
  let hi = -1;
  for (let z = 0; z < dims[2]; z++) {
    if (mask.subarray(z * plane, (z + 1) * plane).some((v) => v > 0)) {
      if (lo < 0) lo = z;
      hi = z;
    }
  }
  if (lo < 0) [lo, hi] = [0, dims[2] - 1];
  const n = Math.max(1, Math.min(count, hi - lo + 1));
  return Array.from({ length: n }, (_, i) =>
    n === 1 ? Math.round((lo + hi) / 2) : Math.round(lo + ((hi - lo) * i) / (n - 1)),
  );
}

/** The [p1, p99] grey window of the non-zero voxels (the brain); [0, 1] for an empty volume. */
export function brainWindow(flair: ArrayLike<number>): [number, number] {
  const values: number[] = [];
  for (let i = 0; i < flair.length; i++) if (flair[i] !== 0) values.push(flair[i]!);
  if (values.length === 0) return [0, 1];
  values.sort((a, b) => a - b);
  const at = (q: number) => values[Math.min(values.length - 1, Math.floor(q * values.length))]!;
  const lo = at(0.01);
  const hi = at(0.99);
  return hi > lo ? [lo, hi] : [lo, lo + 1];
}

/** True when voxel (x, y) of slice z is tumour with a non-tumour (or out-of-slice) 4-neighbour. */
function onOutline(mask: Uint8Array, dims: Vec3, x: number, y: number, z: number): boolean {
  const [nx, ny] = dims;
  const at = (u: number, v: number) =>
    u < 0 || v < 0 || u >= nx || v >= ny ? 0 : mask[u + nx * (v + ny * z)]!;
  if (at(x, y) === 0) return false;
  return at(x - 1, y) === 0 || at(x + 1, y) === 0 || at(x, y - 1) === 0 || at(x, y + 1) === 0;
}

/** The preview PNG of FLAIR `flair` with the tumour `mask` outlined, both on the grid `dims`. */
export function renderBratsPreviewPng(
  flair: ArrayLike<number>,
  mask: Uint8Array,
  dims: Vec3,
  spacing: Vec3,
  opts: BratsPreviewOptions = {},
): Uint8Array {
  const [nx, ny] = dims;
  if (flair.length !== nx * ny * dims[2] || mask.length !== flair.length) {
    throw new RangeError('the FLAIR and the mask are not on one grid');
  }
  const slices = bratsPreviewSlices(mask, dims, opts.slices ?? 6);
  const columns = Math.min(opts.columns ?? 3, slices.length);
  const rows = Math.ceil(slices.length / columns);
  // pixels per voxel: the longer in-plane side drawn at about 200 pixels, the spacing's aspect kept
  const scale = 200 / Math.max(nx * spacing[0], ny * spacing[1]);
  const tileW = Math.max(1, Math.round(nx * spacing[0] * scale));
  const tileH = Math.max(1, Math.round(ny * spacing[1] * scale));
  const header = [...(opts.header ?? []), ...(opts.demoModels ? ['DEMO MODEL - NOT FOR CLINICAL USE'] : [])];
  const top = MARGIN + header.length * LINE;
  const width = 2 * MARGIN + columns * tileW + (columns - 1) * GAP;
  const height = top + rows * tileH + (rows - 1) * GAP + MARGIN;
  const png = new PNG({ width, height });
  png.data.fill(0);
  for (let p = 3; p < png.data.length; p += 4) png.data[p] = 255;
  const [lo, hi] = brainWindow(flair);
  slices.forEach((z, t) => {
    const x0 = MARGIN + (t % columns) * (tileW + GAP);
    const y0 = top + Math.floor(t / columns) * (tileH + GAP);
    for (let v = 0; v < tileH; v++) {
      // y upwards
      const y = ny - 1 - Math.min(ny - 1, Math.floor(((v + 0.5) * ny) / tileH));
      for (let u = 0; u < tileW; u++) {
        const x = Math.min(nx - 1, Math.floor(((u + 0.5) * nx) / tileW));
        const i = x + nx * (y + ny * z);
        const o = 4 * (x0 + u + width * (y0 + v));
        if (onOutline(mask, dims, x, y, z)) {
          png.data[o] = TUMOUR_RGB[0]!;
          png.data[o + 1] = TUMOUR_RGB[1]!;
          png.data[o + 2] = TUMOUR_RGB[2]!;
        } else {
          const g = Math.round(255 * Math.min(1, Math.max(0, (flair[i]! - lo) / (hi - lo))));
          png.data[o] = g;
          png.data[o + 1] = g;
          png.data[o + 2] = g;
        }
      }
    }
    drawText(png.data, width, height, x0 + 3, y0 + 3, `z ${z}`, WHITE, 1);
  });
  header.forEach((line, i) => {
    const rgb = opts.demoModels && i === header.length - 1 ? DEMO_RGB : WHITE;
    drawText(png.data, width, height, MARGIN, MARGIN + i * LINE, line, rgb, 2);
  });
  return new Uint8Array(PNG.sync.write(png));
}
