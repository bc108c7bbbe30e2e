/** curves.png: the curves, learning-rate drops and best checkpoint where the metrics put them. */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
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
  renderCurvesPng,
  writeCurvesPng,
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
});
