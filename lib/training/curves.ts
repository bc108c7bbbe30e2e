/**
 * `curves.png` of a training fold, redrawn after every epoch from its `metrics.jsonl`: training and
 * validation loss and validation Dice per epoch (all in [0, 1]: the loss is the Dice loss), learning-rate
 * drops as dashed vertical lines, and the best checkpoint marked. The run's `curves.png` (one folder up)
 * puts every fold's plot side by side.
 */
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { drawText, GLYPH_H, textWidth } from '../pipeline/font.ts';
import type { MetricsLine } from './train-stage.ts';

/** The fields of a `metrics.jsonl` line the plot uses. */
export type CurvePoint = Pick<
  MetricsLine,
  'epoch' | 'loss' | 'valLoss' | 'valDice' | 'lr' | 'best' | 'bestEpoch'
>;

export const CURVE_COLOURS = {
  loss: [80, 160, 255],
  valLoss: [255, 160, 40],
  valDice: [60, 220, 90],
  lrDrop: [150, 150, 150],
  best: [255, 60, 200],
} as const;

const W = 640;
const H = 400;
const PLOT = { x: 48, y: 40, w: W - 48 - 16, h: H - 40 - 60 };

/** Read the lines of a `metrics.jsonl` (malformed lines, e.g. a half-written last one, are skipped). */
export function readCurvePoints(path: string): CurvePoint[] {
  return parseCurvePoints(readFileSync(path, 'utf8'));
}

/** The lines of a `metrics.jsonl`'s text (malformed lines skipped). */
export function parseCurvePoints(text: string): CurvePoint[] {
  const out: CurvePoint[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as CurvePoint);
    } catch {
      // skip
    }
  }
  return out;
}

/** Epochs at which the learning rate went down (compared with the epoch before). */
export function lrDrops(points: readonly CurvePoint[]): number[] {
  const out: number[] = [];
  for (let i = 1; i < points.length; i++) if (points[i].lr < points[i - 1].lr) out.push(points[i].epoch);
  return out;
}

/** Pixel position of (epoch, value in [0, 1]) in the plot. */
export function curvePixel(epoch: number, value: number, lastEpoch: number): [number, number] {
  const span = Math.max(1, lastEpoch - 1);
  const x = PLOT.x + Math.round(((epoch - 1) / span) * (PLOT.w - 1));
  const v = Math.min(1, Math.max(0, Number.isFinite(value) ? value : 0));
  return [x, PLOT.y + Math.round((1 - v) * (PLOT.h - 1))];
}

/** An RGBA canvas the plots are drawn into. */
interface Canvas {
  data: Uint8Array;
  width: number;
  height: number;
}

function newCanvas(width: number, height: number): PNG {
  const png = new PNG({ width, height });
  for (let p = 0; p < png.data.length; p += 4) {
    png.data[p] = png.data[p + 1] = png.data[p + 2] = 20;
    png.data[p + 3] = 255;
  }
  return png;
}

/** Draw one fold's plot (W x H) with its top-left corner at (ox, oy). */
function drawCurvesPanel(
  c: Canvas,
  ox: number,
  oy: number,
  points: readonly CurvePoint[],
  title: string,
): void {
  const d = c.data;
  const set = (px: number, py: number, rgb: readonly number[]) => {
    const x = px + ox;
    const y = py + oy;
    if (px < 0 || py < 0 || px >= W || py >= H || x >= c.width || y >= c.height) return;
    const o = 4 * (x + c.width * y);
    d[o] = rgb[0];
    d[o + 1] = rgb[1];
    d[o + 2] = rgb[2];
  };
  const line = (x0: number, y0: number, x1: number, y1: number, rgb: readonly number[]) => {
    const n = Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0), 1);
    for (let t = 0; t <= n; t++) {
      const x = Math.round(x0 + ((x1 - x0) * t) / n);
      const y = Math.round(y0 + ((y1 - y0) * t) / n);
      set(x, y, rgb);
      set(x, y + 1, rgb);
    }
  };
  const text = (x: number, y: number, s: string, rgb: readonly number[], scale = 1) =>
    drawText(d, c.width, c.height, ox + x, oy + y, s, rgb, scale);
  // Axes and grid: 0, 0.25, ..., 1.
  const grid = [60, 60, 60];
  for (let q = 0; q <= 4; q++) {
    const y = PLOT.y + Math.round((1 - q / 4) * (PLOT.h - 1));
    for (let x = PLOT.x; x < PLOT.x + PLOT.w; x++) set(x, y, grid);
    text(PLOT.x - 30, y - 3, (q / 4).toFixed(2), [200, 200, 200]);
  }
  text(PLOT.x, 10, title, [235, 235, 235], 2);
  const last = points.length ? points[points.length - 1].epoch : 1;
  text(PLOT.x + PLOT.w - textWidth(`epoch ${last}`), PLOT.y + PLOT.h + 6, `epoch ${last}`, [200, 200, 200]);
  text(PLOT.x, PLOT.y + PLOT.h + 6, 'epoch 1', [200, 200, 200]);
  // Learning-rate drops: dashed vertical lines.
  for (const e of lrDrops(points)) {
    const [x] = curvePixel(e, 0, last);
    for (let y = PLOT.y; y < PLOT.y + PLOT.h; y++) if (y % 6 < 3) set(x, y, CURVE_COLOURS.lrDrop);
  }
  for (const key of ['loss', 'valLoss', 'valDice'] as const) {
    for (let i = 0; i < points.length; i++) {
      const [x1, y1] = curvePixel(points[i].epoch, points[i][key], last);
      if (i === 0) set(x1, y1, CURVE_COLOURS[key]);
      else {
        const [x0, y0] = curvePixel(points[i - 1].epoch, points[i - 1][key], last);
        line(x0, y0, x1, y1, CURVE_COLOURS[key]);
      }
    }
  }
  // Best checkpoint: a ring on the validation Dice curve.
  const bestPoint = points.length ? points[points.length - 1] : undefined;
  if (bestPoint && bestPoint.bestEpoch > 0) {
    const [bx, by] = curvePixel(bestPoint.bestEpoch, bestPoint.best, last);
    for (let a = 0; a < 64; a++) {
      const t = (2 * Math.PI * a) / 64;
      set(bx + Math.round(5 * Math.cos(t)), by + Math.round(5 * Math.sin(t)), CURVE_COLOURS.best);
    }
    const label = `best ${bestPoint.best.toFixed(3)} @${bestPoint.bestEpoch}`;
    text(Math.min(bx + 8, W - textWidth(label) - 2), Math.max(by - 12, PLOT.y), label, CURVE_COLOURS.best);
  }
  // Legend.
  let x = PLOT.x;
  const ly = H - 2 * GLYPH_H - 6;
  for (const [name, rgb] of [
    ['train loss', CURVE_COLOURS.loss],
    ['val loss', CURVE_COLOURS.valLoss],
    ['val Dice', CURVE_COLOURS.valDice],
    ['lr drop', CURVE_COLOURS.lrDrop],
    ['best', CURVE_COLOURS.best],
  ] as const) {
    for (let u = 0; u < 12; u++) for (let v = 0; v < 3; v++) set(x + u, ly + 5 + v, rgb);
    text(x + 16, ly + 2, name, [220, 220, 220]);
    x += 16 + textWidth(name) + 18;
  }
}

export function renderCurvesPng(points: readonly CurvePoint[], title: string): Uint8Array {
  const png = newCanvas(W, H);
  drawCurvesPanel(png, 0, 0, points, title);
  return new Uint8Array(PNG.sync.write(png));
}

/** Folds per row of the run's `curves.png`. */
export const RUN_COLUMNS = 3;
/** Height of the run picture's title band above the panels. */
export const RUN_HEADER = 32;

/** Top-left corner of fold panel `index` (0-based, in fold order) in the run's `curves.png`. */
export function runPanelOrigin(index: number): [number, number] {
  return [(index % RUN_COLUMNS) * W, RUN_HEADER + Math.floor(index / RUN_COLUMNS) * H];
}

export interface FoldCurves {
  fold: number;
  points: CurvePoint[];
}

/** The run's title line: fold count and the mean of the folds' best validation Dice. */
export function runCurvesTitle(title: string, folds: readonly FoldCurves[]): string {
  const bests = folds.map((f) => f.points.at(-1)?.best).filter((b): b is number => b !== undefined);
  const mean = bests.length ? bests.reduce((a, b) => a + b, 0) / bests.length : Number.NaN;
  return `${title}: ${folds.length} fold${folds.length === 1 ? '' : 's'}, mean best val Dice ${Number.isNaN(mean) ? '-' : mean.toFixed(3)}`;
}

/**
 * The run's `curves.png`: every fold's plot side by side (`RUN_COLUMNS` per row, fold order), each with
 * its own curves, learning-rate drops and best checkpoint, under a title with the folds' mean best Dice.
 */
export function renderRunCurvesPng(folds: readonly FoldCurves[], title: string): Uint8Array {
  const n = Math.max(1, folds.length);
  const png = newCanvas(Math.min(n, RUN_COLUMNS) * W, RUN_HEADER + Math.ceil(n / RUN_COLUMNS) * H);
  drawText(png.data, png.width, png.height, PLOT.x, 9, runCurvesTitle(title, folds), [235, 235, 235], 2);
  folds.forEach((f, i) => {
    const [ox, oy] = runPanelOrigin(i);
    drawCurvesPanel(png, ox, oy, f.points, `fold ${f.fold}`);
  });
  return new Uint8Array(PNG.sync.write(png));
}

function writeAtomic(outPath: string, bytes: Uint8Array): void {
  const tmp = `${outPath}.${process.pid}.tmp`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, outPath);
}

/** Redraw `curves.png` from `metrics.jsonl` (atomically: temp file + rename). */
export function writeCurvesPng(metricsPath: string, outPath: string, title: string): void {
  writeAtomic(outPath, renderCurvesPng(readCurvePoints(metricsPath), title));
}

/** The folds under a stage folder: `fold-<k>/metrics.jsonl`, in fold order (folds without metrics left out). */
export function readRunCurves(stageDir: string): FoldCurves[] {
  const folds: FoldCurves[] = [];
  for (const name of existsSync(stageDir) ? readdirSync(stageDir) : []) {
    const m = /^fold-(\d+)$/.exec(name);
    const metrics = join(stageDir, name, 'metrics.jsonl');
    if (m && existsSync(metrics)) folds.push({ fold: Number(m[1]), points: readCurvePoints(metrics) });
  }
  return folds.sort((a, b) => a.fold - b.fold);
}

/** Redraw the run's `<stage dir>/curves.png` from its folds' `metrics.jsonl` (atomically). */
export function writeRunCurvesPng(stageDir: string, title: string): void {
  writeAtomic(join(stageDir, 'curves.png'), renderRunCurvesPng(readRunCurves(stageDir), title));
}
