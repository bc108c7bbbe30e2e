/**
 * A quick-look PNG of a case: a header (case name, liver volume, tumor count and burden, "no liver found"
 * when empty, the demo-model mark, plausibility flags), a montage of axial slices through the segmented
 * liver ordered cranial (top left) to caudal, each labelled with its position in mm, a coronal view
 * beside it (cranial at the top; the montage's slices ticked on its left edge), and a legend. The CT is
 * shown in an abdominal window with the liver outlined in green and tumors in red. Slices are in the
 * radiological convention (patient's right on the left of the image, anterior or cranial at the top) as
 * read from the affine, with the aspect ratio of the voxel spacing.
 */
import { PNG } from 'pngjs';
import { boundingBox } from '../preprocess/crop.ts';
import { applyAffine } from '../volume/affine.ts';
import type { Volume } from '../volume/volume.ts';
import { drawText, GLYPH_H, textWidth } from './font.ts';
import { LABELS } from './labels.ts';
import { type ReportFlag, tumorList, voxelVolumeMm3 } from './report.ts';

export interface PreviewOptions {
  /** Number of slices in the montage (default 9). */
  slices?: number;
  /** Columns of the montage (default 3). */
  columns?: number;
  /** Longest side of each tile in pixels (default 256). */
  tileSize?: number;
  /** Grey-level window in HU (default [-160, 240], the usual abdominal window). */
  window?: [number, number];
  /** Case name for the header. */
  name?: string;
  /** Draw the demo-model mark. */
  demoModels?: boolean;
  /** Plausibility findings, one header line each. */
  flags?: ReportFlag[];
}

export const LIVER_RGB = LABELS[0].rgb;
export const TUMOR_RGB = LABELS[1].rgb;
const GAP = 2;
const MARGIN = 8;
const LINE = 2 * GLYPH_H + 6;
const WHITE = [235, 235, 235];
const DEMO_RGB = [255, 150, 0];
const FLAG_RGB = [255, 210, 80];
const TICK_RGB = [80, 200, 255];

/** Slice indices evenly spread over the z range holding labels (or the whole volume if there are none). */
export function previewSlices(labels: Volume<Uint8Array>, count: number): number[] {
  const [nx, ny, nz] = labels.dims;
  const plane = nx * ny;
  let lo = -1;
  let hi = -1;
  const data = labels.data;
  for (let z = 0; z < nz; z++) {
    const end = (z + 1) * plane;
    let i = z * plane;
    while (i < end && data[i] === 0) i++;
    if (i < end) {
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

/** For each of `pixels` screen positions along an axis of `n` voxels, the voxel shown (flipped or not). */
function axisMap(pixels: number, n: number, flip: boolean): Int32Array {
  const out = new Int32Array(pixels);
  for (let u = 0; u < pixels; u++) {
    const i = Math.min(n - 1, Math.floor(((u + 0.5) * n) / pixels));
    out[u] = flip ? n - 1 - i : i;
  }
  return out;
}

export interface PreviewRect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Where everything goes in the picture; tests use it to find the tiles. */
export interface PreviewGeometry {
  width: number;
  height: number;
  /** Axial tiles, cranial first; `k` is the slice index, `zMm` its world z. */
  tiles: (PreviewRect & { k: number; zMm: number })[];
  /** Coronal view through row `j`. */
  coronal: PreviewRect & { j: number };
  /** Header text lines, top to bottom. */
  header: { text: string; rgb: readonly number[] }[];
  /** Top of the legend line. */
  legendY: number;
  /** Screen column -> voxel i, row -> voxel j of an axial tile; column -> i, row -> k of the coronal view. */
  axial: { cols: Int32Array; rows: Int32Array };
  coronalMap: { cols: Int32Array; rows: Int32Array };
}

function summaryLines(
  labels: Volume<Uint8Array>,
  opts: PreviewOptions,
): { text: string; rgb: readonly number[] }[] {
  const mm3 = voxelVolumeMm3(labels.affine);
  let liver = 0;
  let tumor = 0;
  const data = labels.data;
  for (let i = 0; i < data.length; i++) {
    const l = data[i];
    if (l === 1) liver++;
    else if (l === 2) tumor++;
  }
  const lines: { text: string; rgb: readonly number[] }[] = [];
  if (opts.name !== undefined) lines.push({ text: opts.name, rgb: WHITE });
  if (opts.demoModels) lines.push({ text: 'DEMO MODEL - not for clinical use', rgb: DEMO_RGB });
  if (liver + tumor === 0) lines.push({ text: 'NO LIVER FOUND', rgb: TUMOR_RGB });
  else {
    const box = boundingBox(labels.data, labels.dims, 0);
    const count = tumor ? tumorList(labels, mm3, box).length : 0;
    const liverMl = ((liver + tumor) * mm3) / 1000;
    const burden = (100 * tumor) / (liver + tumor);
    lines.push({
      text:
        `liver ${liverMl.toFixed(1)} mL   ${count} tumor${count === 1 ? '' : 's'}` +
        (count ? ` ${((tumor * mm3) / 1000).toFixed(1)} mL, burden ${burden.toFixed(1)}%` : ''),
      rgb: WHITE,
    });
  }
  for (const f of opts.flags ?? []) lines.push({ text: `${f.severity}: ${f.message}`, rgb: FLAG_RGB });
  return lines;
}

export function previewGeometry(
  ct: Volume,
  labels: Volume<Uint8Array>,
  opts: PreviewOptions = {},
): PreviewGeometry {
  const [nx, ny, nz] = ct.dims;
  const tileSize = opts.tileSize ?? 256;
  // Axial tiles: in-plane aspect of the spacing; screen-left is patient-right (+x in RAS), top anterior.
  const wmm = nx * ct.spacing[0];
  const hmm = ny * ct.spacing[1];
  const s = tileSize / Math.max(wmm, hmm);
  const tw = Math.max(1, Math.round(wmm * s));
  const th = Math.max(1, Math.round(hmm * s));
  const axial = { cols: axisMap(tw, nx, ct.affine[0] > 0), rows: axisMap(th, ny, ct.affine[5] > 0) };
  const zOf = (k: number) => applyAffine(ct.affine, [0, 0, k])[2];
  const ks = previewSlices(labels, opts.slices ?? 9).sort((a, b) => zOf(b) - zOf(a));
  const ncol = Math.min(opts.columns ?? 3, ks.length);
  const nrow = Math.ceil(ks.length / ncol);
  const header = summaryLines(labels, opts);
  const top = MARGIN + header.length * LINE;
  const tiles = ks.map((k, t) => ({
    k,
    zMm: zOf(k),
    x: MARGIN + (t % ncol) * (tw + GAP),
    y: top + Math.floor(t / ncol) * (th + GAP),
    w: tw,
    h: th,
  }));
  const bodyH = nrow * th + (nrow - 1) * GAP;
  // Coronal view through the labels' mean row (the volume's middle when empty), as tall as the montage.
  let sumJ = 0;
  let n = 0;
  for (let k = 0, idx = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++, idx++)
        if (labels.data[idx]) {
          sumJ += j;
          n++;
        }
  const j = n ? Math.round(sumJ / n) : Math.floor(ny / 2);
  const cmm = nz * ct.spacing[2];
  let cs = bodyH / cmm;
  if (wmm * cs > 2 * tileSize) cs = (2 * tileSize) / wmm;
  const cw = Math.max(1, Math.round(wmm * cs));
  const ch = Math.max(1, Math.round(cmm * cs));
  const coronal = { j, x: MARGIN + ncol * (tw + GAP) + 3 * GAP, y: top, w: cw, h: ch };
  const coronalMap = { cols: axisMap(cw, nx, ct.affine[0] > 0), rows: axisMap(ch, nz, ct.affine[10] > 0) };
  const legendY = top + Math.max(bodyH, ch) + MARGIN;
  const width = Math.max(
    coronal.x + cw + MARGIN,
    MARGIN + Math.max(...header.map((l) => textWidth(l.text, 2))) + MARGIN,
    MARGIN + textWidth(LEGEND_TEXT, 2) + 40 + MARGIN,
  );
  return { width, height: legendY + LINE + MARGIN, tiles, coronal, header, legendY, axial, coronalMap };
}

const LEGEND_TEXT = `${LABELS.map((l) => l.name).join('   ')}   cranial at top, patient right on the left`;

/** Draw CT and outlines into a rectangle: `at(u, v)` gives the voxel index shown at tile pixel (u, v). */
function drawTile(
  png: PNG,
  ct: Volume,
  labels: Volume<Uint8Array>,
  r: PreviewRect,
  at: (u: number, v: number) => number,
  window: [number, number],
): void {
  const [lo, hi] = window;
  const tileLabels = new Uint8Array(r.w * r.h);
  for (let v = 0; v < r.h; v++)
    for (let u = 0; u < r.w; u++) {
      const idx = at(u, v);
      const g = Math.round((255 * (Math.min(hi, Math.max(lo, ct.data[idx])) - lo)) / (hi - lo));
      tileLabels[u + r.w * v] = labels.data[idx];
      const o = 4 * (r.x + u + png.width * (r.y + v));
      png.data[o] = png.data[o + 1] = png.data[o + 2] = g;
    }
  // Outlines: a pixel of a structure with a 4-neighbour outside it (or at the tile edge).
  const inside = (u: number, v: number, min: number) =>
    u >= 0 && v >= 0 && u < r.w && v < r.h && tileLabels[u + r.w * v] >= min;
  for (let v = 0; v < r.h; v++)
    for (let u = 0; u < r.w; u++) {
      const l = tileLabels[u + r.w * v];
      if (l === 0) continue;
      for (const { value: min, rgb } of LABELS) {
        if (l < min) continue;
        const edge =
          !inside(u - 1, v, min) ||
          !inside(u + 1, v, min) ||
          !inside(u, v - 1, min) ||
          !inside(u, v + 1, min);
        if (edge) {
          const o = 4 * (r.x + u + png.width * (r.y + v));
          png.data[o] = rgb[0];
          png.data[o + 1] = rgb[1];
          png.data[o + 2] = rgb[2];
        }
      }
    }
}

/** Render the preview; `labels` must be on the CT's grid (0 background, 1 liver, 2 tumor). */
export function renderPreviewPng(
  ct: Volume,
  labels: Volume<Uint8Array>,
  opts: PreviewOptions = {},
): Uint8Array {
  if (ct.dims.some((d, i) => d !== labels.dims[i])) throw new RangeError('labels are not on the CT grid');
  const g = previewGeometry(ct, labels, opts);
  const window = opts.window ?? [-160, 240];
  const png = new PNG({ width: g.width, height: g.height });
  png.data.fill(0);
  for (let p = 3; p < png.data.length; p += 4) png.data[p] = 255;
  const [nx, ny] = ct.dims;
  const text = (x: number, y: number, s: string, rgb: readonly number[], scale = 2) =>
    drawText(png.data, png.width, png.height, x, y, s, rgb, scale);
  g.header.forEach((l, i) => {
    text(MARGIN, MARGIN + i * LINE, l.text, l.rgb);
  });
  for (const t of g.tiles) {
    drawTile(png, ct, labels, t, (u, v) => g.axial.cols[u] + nx * (g.axial.rows[v] + ny * t.k), window);
    text(t.x + 3, t.y + 3, `z ${t.zMm >= 0 ? '+' : ''}${t.zMm.toFixed(1)} mm`, TICK_RGB, 1);
  }
  const c = g.coronal;
  drawTile(
    png,
    ct,
    labels,
    c,
    (u, v) => g.coronalMap.cols[u] + nx * (c.j + ny * g.coronalMap.rows[v]),
    window,
  );
  text(c.x + 3, c.y + 3, 'coronal', TICK_RGB, 1);
  // Tick the montage's slices on the coronal view's left edge.
  for (const t of g.tiles) {
    const v = g.coronalMap.rows.indexOf(t.k);
    if (v < 0) continue;
    for (let u = -4; u < 0; u++) {
      const o = 4 * (c.x + u + png.width * (c.y + v));
      png.data[o] = TICK_RGB[0];
      png.data[o + 1] = TICK_RGB[1];
      png.data[o + 2] = TICK_RGB[2];
    }
  }
  // Legend: a swatch before each label name.
  let x = MARGIN;
  for (const l of LABELS) {
    for (let v = 0; v < 2 * GLYPH_H; v++)
      for (let u = 0; u < 2 * GLYPH_H; u++) {
        const o = 4 * (x + u + png.width * (g.legendY + v));
        png.data[o] = l.rgb[0];
        png.data[o + 1] = l.rgb[1];
        png.data[o + 2] = l.rgb[2];
      }
    x += 2 * GLYPH_H + 6;
    text(x, g.legendY, l.name, WHITE);
    x += textWidth(l.name, 2) + 24;
  }
  text(x, g.legendY, 'cranial at top, patient right on the left', WHITE);
  return new Uint8Array(PNG.sync.write(png));
}

/** The header options a report gives: its case name, demo-model mark and flags. */
export function previewOptionsOf(report: {
  input: { name: string };
  demoModels?: boolean;
  flags?: ReportFlag[];
}): PreviewOptions {
  return { name: report.input.name, demoModels: report.demoModels, flags: report.flags };
}
