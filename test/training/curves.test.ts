/** curves.png: the curves, learning-rate drops and best checkpoint where the metrics put them. */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import {
  CURVE_COLOURS,
  type CurvePoint,
  curvePixel,
  lrDrops,
  readCurvePoints,
  readRunCurves,
  renderCurvesPng,
  renderRunCurvesPng,
  runCurvesTitle,
  runPanelOrigin,
  writeCurvesPng,
  writeRunCurvesPng,
} from '../../lib/training/curves.ts';

// 8 epochs; lr 1e-3 then 1e-4 from epoch 5; validation Dice best (0.8) at epoch 6.
const DICE = [0.1, 0.3, 0.5, 0.6, 0.7, 0.8, 0.75, 0.78];
const POINTS: CurvePoint[] = DICE.map((v, i) => ({
  epoch: i + 1,
  loss: 0.95 - 0.1 * i,
  valLoss: 1 - v,
  valDice: v,
  lr: i < 4 ? 1e-3 : 1e-4,
  best: Math.max(...DICE.slice(0, i + 1)),
  bestEpoch: DICE.indexOf(Math.max(...DICE.slice(0, i + 1))) + 1,
}));

const rgbAt = (png: PNG, [x, y]: [number, number]) => {
  const o = 4 * (x + png.width * y);
  return [png.data[o], png.data[o + 1], png.data[o + 2]];
};

describe('training curves', () => {
  it('finds the learning-rate drops', () => {
    expect(lrDrops(POINTS)).toEqual([5]);
    expect(lrDrops(POINTS.slice(0, 4))).toEqual([]);
  });

  it('draws each curve through its points, the lr drop and the best checkpoint', () => {
    const png = PNG.sync.read(Buffer.from(renderCurvesPng(POINTS, 'liver fold 0')));
    // val Dice at epochs 1 and 8 (end points, drawn last of the three curves)
    expect(rgbAt(png, curvePixel(1, 0.1, 8))).toEqual([...CURVE_COLOURS.valDice]);
    expect(rgbAt(png, curvePixel(8, 0.78, 8))).toEqual([...CURVE_COLOURS.valDice]);
    expect(rgbAt(png, curvePixel(1, 0.95, 8))).toEqual([...CURVE_COLOURS.loss]);
    // the lr drop: a dashed line at epoch 5, away from the curves (value 0.98 is above them all)
    const [x5] = curvePixel(5, 0, 8);
    const column = Array.from({ length: 30 }, (_, dy) => rgbAt(png, [x5, curvePixel(5, 0.98, 8)[1] + dy]));
    expect(column.filter((c) => c.join() === CURVE_COLOURS.lrDrop.join()).length).toBeGreaterThan(10);
    const [x4] = curvePixel(4, 0, 8);
    const column4 = Array.from({ length: 30 }, (_, dy) => rgbAt(png, [x4, curvePixel(4, 0.98, 8)[1] + dy]));
    expect(column4.some((c) => c.join() === CURVE_COLOURS.lrDrop.join())).toBe(false);
    // the best checkpoint: a ring of radius 5 around (6, 0.8)
    const [bx, by] = curvePixel(6, 0.8, 8);
    expect(rgbAt(png, [bx + 5, by])).toEqual([...CURVE_COLOURS.best]);
    expect(rgbAt(png, [bx, by - 5])).toEqual([...CURVE_COLOURS.best]);
  });

  it('redraws curves.png from metrics.jsonl, skipping a half-written last line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'raunet-curves-'));
    try {
      const metrics = join(dir, 'metrics.jsonl');
      await writeFile(metrics, `${POINTS.map((p) => JSON.stringify(p)).join('\n')}\n{"epoch": 9, "lo`);
      expect(readCurvePoints(metrics)).toEqual(POINTS);
      writeCurvesPng(metrics, join(dir, 'curves.png'), 'tumor fold 2');
      const png = PNG.sync.read(await readFile(join(dir, 'curves.png')));
      expect(rgbAt(png, curvePixel(8, 0.78, 8))).toEqual([...CURVE_COLOURS.valDice]);
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  // A second fold: 5 epochs, no lr drop, best 0.6 at epoch 3.
  const DICE_B = [0.2, 0.5, 0.6, 0.55, 0.58];
  const POINTS_B: CurvePoint[] = DICE_B.map((v, i) => ({
    epoch: i + 1,
    loss: 0.9 - 0.05 * i,
    valLoss: 1 - v,
    valDice: v,
    lr: 1e-3,
    best: Math.max(...DICE_B.slice(0, i + 1)),
    bestEpoch: DICE_B.indexOf(Math.max(...DICE_B.slice(0, i + 1))) + 1,
  }));
  const at = (png: PNG, index: number, [x, y]: [number, number]) => {
    const [ox, oy] = runPanelOrigin(index);
    return rgbAt(png, [ox + x, oy + y]);
  };

  it("draws the run's folds side by side, each with its own curves, lr drops and best checkpoint", () => {
    const folds = [
      { fold: 0, points: POINTS },
      { fold: 1, points: POINTS_B },
    ];
    // mean best: (0.8 + 0.6) / 2
    expect(runCurvesTitle('liver run', folds)).toBe('liver run: 2 folds, mean best val Dice 0.700');
    const png = PNG.sync.read(Buffer.from(renderRunCurvesPng(folds, 'liver run')));
    expect([png.width, png.height]).toEqual([2 * 640, 32 + 400]);
    expect(runPanelOrigin(1)).toEqual([640, 32]);
    // fold 0 (8 epochs) on the left, fold 1 (5 epochs) on the right, each on its own epoch axis
    expect(at(png, 0, curvePixel(8, 0.78, 8))).toEqual([...CURVE_COLOURS.valDice]);
    expect(at(png, 1, curvePixel(5, 0.58, 5))).toEqual([...CURVE_COLOURS.valDice]);
    expect(at(png, 1, curvePixel(1, 0.9, 5))).toEqual([...CURVE_COLOURS.loss]);
    // best rings: fold 0 at (6, 0.8), fold 1 at (3, 0.6)
    const [b0x, b0y] = curvePixel(6, 0.8, 8);
    expect(at(png, 0, [b0x + 5, b0y])).toEqual([...CURVE_COLOURS.best]);
    const [b1x, b1y] = curvePixel(3, 0.6, 5);
    expect(at(png, 1, [b1x, b1y - 5])).toEqual([...CURVE_COLOURS.best]);
    // the lr drop of fold 0 (epoch 5) only: no dashed line in fold 1's panel
    const dashes = (index: number, epoch: number, last: number) => {
      const [x] = curvePixel(epoch, 0, last);
      const top = curvePixel(epoch, 0.98, last)[1];
      return Array.from({ length: 30 }, (_, dy) => at(png, index, [x, top + dy])).filter(
        (c) => c.join() === CURVE_COLOURS.lrDrop.join(),
      ).length;
    };
    expect(dashes(0, 5, 8)).toBeGreaterThan(10);
    for (let e = 1; e <= 5; e++) expect(dashes(1, e, 5)).toBe(0);
    // four folds: three per row, the fourth below the first
    const four = PNG.sync.read(
      Buffer.from(
        renderRunCurvesPng(
          [0, 1, 2, 3].map((fold) => ({ fold, points: POINTS })),
          'r',
        ),
      ),
    );
    expect([four.width, four.height]).toEqual([3 * 640, 32 + 2 * 400]);
    expect(runPanelOrigin(3)).toEqual([0, 432]);
    expect(at(four, 3, curvePixel(8, 0.78, 8))).toEqual([...CURVE_COLOURS.valDice]);
  });

  it("redraws the run's curves.png from the stage folder's fold-<k>/metrics.jsonl, in fold order", async () => {
    const stage = await mkdtemp(join(tmpdir(), 'raunet-run-curves-'));
    try {
      const lines = (pts: CurvePoint[]) => `${pts.map((p) => JSON.stringify(p)).join('\n')}\n`;
      for (const [name, pts] of [
        ['fold-10', POINTS],
        ['fold-2', POINTS_B],
      ] as const) {
        await mkdir(join(stage, name));
        await writeFile(join(stage, name, 'metrics.jsonl'), lines(pts));
      }
      await mkdir(join(stage, 'fold-3')); // no metrics yet: left out
      expect(readRunCurves(stage).map((f) => [f.fold, f.points.length])).toEqual([
        [2, 5],
        [10, 8],
      ]);
      writeRunCurvesPng(stage, 'tumor run');
      const png = PNG.sync.read(await readFile(join(stage, 'curves.png')));
      expect([png.width, png.height]).toEqual([2 * 640, 432]);
      expect(at(png, 0, curvePixel(5, 0.58, 5))).toEqual([...CURVE_COLOURS.valDice]);
      expect(at(png, 1, curvePixel(8, 0.78, 8))).toEqual([...CURVE_COLOURS.valDice]);
    } finally {
      await rm(stage, { recursive: true });
    }
  });
});
