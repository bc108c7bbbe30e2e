/**
 * `curves.png` of a training fold, redrawn after every epoch from its `metrics.jsonl`: training and
 * validation loss and validation Dice per epoch (all in [0, 1]: the loss is the Dice loss), learning-rate
 * drops as dashed vertical lines, and the best checkpoint marked.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
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
  const out: CurvePoint[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
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

export function renderCurvesPng(points: readonly CurvePoint[], title: string): Uint8Array {
  const png = new PNG({ width: W, height: H });
  const d = png.data;
  for (let p = 0; p < d.length; p += 4) {
    d[p] = d[p + 1] = d[p + 2] = 20;
    d[p + 3] = 255;
  }
  const set = (x: number, y: number, rgb: readonly number[]) => {
    if (x < 0 || y < 0 || x >= W || y >= H) return;
    const o = 4 * (x + W * y);
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
    drawText(d, W, H, x, y, s, rgb, scale);
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
  return new Uint8Array(PNG.sync.write(png));
}

/** Redraw `curves.png` from `metrics.jsonl` (atomically: temp file + rename). */
export function writeCurvesPng(metricsPath: string, outPath: string, title: string): void {
  const bytes = renderCurvesPng(readCurvePoints(metricsPath), title);
  const tmp = `${outPath}.${process.pid}.tmp`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, outPath);
}
