/**
 * A quick-look PNG: a montage of axial slices through the segmented liver (CT in an abdominal window) with
 * the liver outlined in green and tumors in red. Slices are shown in the radiological convention (patient's
 * right on the left of the image, anterior at the top) as read from the affine, with the in-plane aspect
 * ratio of the voxel spacing.
 */
import { PNG } from 'pngjs';
import type { Volume } from '../volume/volume.ts';

export interface PreviewOptions {
  /** Number of slices in the montage (default 9). */
  slices?: number;
  /** Columns of the montage (default 3). */
  columns?: number;
  /** Longest side of each tile in pixels (default 256). */
  tileSize?: number;
  /** Grey-level window in HU (default [-160, 240], the usual abdominal window). */
  window?: [number, number];
}

export const LIVER_RGB: [number, number, number] = [0, 230, 64];
export const TUMOR_RGB: [number, number, number] = [255, 40, 40];
const GAP = 2;

/** Slice indices evenly spread over the z range holding labels (or the whole volume if there are none). */
export function previewSlices(labels: Volume<Uint8Array>, count: number): number[] {
  const [nx, ny, nz] = labels.dims;
  const plane = nx * ny;
  let lo = -1;
  let hi = -1;
  for (let z = 0; z < nz; z++) {
    const s = labels.data.subarray(z * plane, (z + 1) * plane);
    if (s.some((v) => v > 0)) {
      if (lo < 0) lo = z;
      hi = z;
    }
  }
  if (lo < 0) {
    lo = 0;
    hi = nz - 1;
  }
  const n = Math.min(count, hi - lo + 1);
  const out: number[] = [];
  for (let t = 0; t < n; t++) out.push(lo + Math.floor(((t + 0.5) * (hi - lo + 1)) / n));
  return out;
}

/** Tile geometry: pixel sizes and, for each tile pixel column/row, the voxel index it shows. */
function tileMapping(vol: Volume, tileSize: number): { cols: Int32Array; rows: Int32Array } {
  const [nx, ny] = vol.dims;
  const wmm = nx * vol.spacing[0];
  const hmm = ny * vol.spacing[1];
  const scale = tileSize / Math.max(wmm, hmm);
  const w = Math.max(1, Math.round(wmm * scale));
  const h = Math.max(1, Math.round(hmm * scale));
  // Radiological display: screen-left is patient-right (+x in RAS), screen-top is anterior (+y).
  const flipI = vol.affine[0] > 0;
  const flipJ = vol.affine[5] > 0;
  const cols = new Int32Array(w);
  for (let u = 0; u < w; u++) {
    const i = Math.min(nx - 1, Math.floor(((u + 0.5) * nx) / w));
    cols[u] = flipI ? nx - 1 - i : i;
  }
  const rows = new Int32Array(h);
  for (let v = 0; v < h; v++) {
    const j = Math.min(ny - 1, Math.floor(((v + 0.5) * ny) / h));
    rows[v] = flipJ ? ny - 1 - j : j;
  }
  return { cols, rows };
}

/** Render the montage; `labels` must be on the CT's grid (0 background, 1 liver, 2 tumor). */
export function renderPreviewPng(
  ct: Volume,
  labels: Volume<Uint8Array>,
  opts: PreviewOptions = {},
): Uint8Array {
  if (ct.dims.some((d, i) => d !== labels.dims[i])) throw new RangeError('labels are not on the CT grid');
  const [lo, hi] = opts.window ?? [-160, 240];
  const zs = previewSlices(labels, opts.slices ?? 9);
  const ncol = Math.min(opts.columns ?? 3, zs.length);
  const nrow = Math.ceil(zs.length / ncol);
  const { cols, rows } = tileMapping(ct, opts.tileSize ?? 256);
  const tw = cols.length;
  const th = rows.length;
  const width = ncol * tw + (ncol + 1) * GAP;
  const height = nrow * th + (nrow + 1) * GAP;
  const png = new PNG({ width, height });
  png.data.fill(0);
  for (let p = 3; p < png.data.length; p += 4) png.data[p] = 255;
  const [nx, ny] = ct.dims;
  const tileLabels = new Uint8Array(tw * th);
  zs.forEach((z, t) => {
    const ox = GAP + (t % ncol) * (tw + GAP);
    const oy = GAP + Math.floor(t / ncol) * (th + GAP);
    const base = z * nx * ny;
    for (let v = 0; v < th; v++) {
      for (let u = 0; u < tw; u++) {
        const idx = base + cols[u] + nx * rows[v];
        const g = Math.round((255 * (Math.min(hi, Math.max(lo, ct.data[idx])) - lo)) / (hi - lo));
        tileLabels[u + tw * v] = labels.data[idx];
        const o = 4 * (ox + u + width * (oy + v));
        png.data[o] = png.data[o + 1] = png.data[o + 2] = g;
      }
    }
    // Outlines: a pixel of a structure with a 4-neighbour outside it (or at the tile edge).
    const inside = (u: number, v: number, min: number) =>
      u >= 0 && v >= 0 && u < tw && v < th && tileLabels[u + tw * v] >= min;
    for (let v = 0; v < th; v++) {
      for (let u = 0; u < tw; u++) {
        const l = tileLabels[u + tw * v];
        if (l === 0) continue;
        for (const [min, rgb] of [
          [1, LIVER_RGB],
          [2, TUMOR_RGB],
        ] as const) {
          if (l < min) continue;
          const edge =
            !inside(u - 1, v, min) ||
            !inside(u + 1, v, min) ||
            !inside(u, v - 1, min) ||
            !inside(u, v + 1, min);
          if (edge) {
            const o = 4 * (ox + u + width * (oy + v));
            png.data[o] = rgb[0];
            png.data[o + 1] = rgb[1];
            png.data[o + 2] = rgb[2];
          }
        }
      }
    }
  });
  return new Uint8Array(PNG.sync.write(png));
}
