/** `raunet report <dir> --html`: the batch table (volumes, Dice, previews) and the training folds page. */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeCurvesPng, writeRunCurvesPng } from '../../lib/training/curves.ts';
import { writeNifti } from '../../lib/volume/nifti.ts';
import { runCli } from '../cli.ts';
import { type ViewerFixture, writeViewerFixture } from '../viewer/fixture.ts';

let dir: string;
let fx: ViewerFixture;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'raunet-html-report-'));
  fx = await writeViewerFixture(dir, 'p1');
  await writeFile(join(dir, 'p1_preview.png'), 'png');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The text of the table cells of the row of case `name`. */
function cells(html: string, name: string): string[] {
  const row = new RegExp(`<tr data-case="${name}">(.*?)</tr>`).exec(html)?.[1] ?? '';
  return [...row.matchAll(/<td[^>]*>(.*?)<\/td>/g)].map((m) => m[1]);
}

describe('raunet report --html', () => {
  it('tables the cases of a segmentation output with volumes, previews and Dice against references', async () => {
    // Reference: the label map without its upper half of slices (k >= 20): the liver Dice is
    // 2 |ref| / (|pred| + |ref|) with ref a subset of pred.
    const [nx, ny] = fx.seg.dims;
    const ref = fx.seg.data.slice();
    ref.fill(0, 20 * nx * ny);
    let pred = 0;
    let kept = 0;
    for (let i = 0; i < ref.length; i++) {
      if (fx.seg.data[i]) pred++;
      if (ref[i]) kept++;
    }
    await writeNifti(join(dir, 'p1_truth.nii.gz'), { ...fx.seg, data: ref });
    const r = await runCli(['report', dir, '--html']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/report\.html \(segmentation summary of 1 case/);
    const html = await readFile(join(dir, 'report.html'), 'utf8');
    const c = cells(html, 'p1');
    expect(c.slice(0, 5)).toEqual([
      'p1',
      fx.report.liver.volumeMl.toFixed(1),
      '2',
      fx.report.tumors.volumeMl.toFixed(1),
      (100 * fx.report.tumorBurden).toFixed(1),
    ]);
    expect(Number(c[5])).toBeCloseTo((2 * kept) / (pred + kept), 3);
    expect(html).toContain('<img src="p1_preview.png"');
    expect(html).toContain('<th>Dice liver</th>');
  });

  it('shows the folds of a training output side by side with their curves and final metrics', async () => {
    const train = await mkdtemp(join(tmpdir(), 'raunet-html-train-'));
    try {
      for (const k of [0, 1]) {
        const fold = join(train, 'liver', `fold-${k}`);
        await mkdir(fold, { recursive: true });
        const lines = [1, 2, 3].map((e) => ({
          epoch: e,
          loss: 0.5,
          valLoss: 0.4,
          valDice: 0.5 + 0.1 * e + k / 100,
          lr: 1e-3,
          best: 0.5 + 0.1 * e + k / 100,
          bestEpoch: e,
        }));
        await writeFile(join(fold, 'metrics.jsonl'), lines.map((l) => JSON.stringify(l)).join('\n'));
        writeCurvesPng(join(fold, 'metrics.jsonl'), join(fold, 'curves.png'), `liver fold ${k}`);
      }
      // Without the run's curves: only the fold cards.
      expect(await runCli(['report', train, '--html'])).toMatchObject({ code: 0 });
      expect(await readFile(join(train, 'report.html'), 'utf8')).not.toContain('class="run"');
      writeRunCurvesPng(join(train, 'liver'), 'liver run');
      const r = await runCli(['report', train, '--html', '--out', join(train, 'report2.html')]);
      expect(r.code).toBe(0);
      const html = await readFile(join(train, 'report2.html'), 'utf8');
      // The run's curves above the folds.
      expect(html).toContain('<h2>run: liver</h2><img class="run" src="liver/curves.png"');
      expect(html.indexOf('liver/curves.png')).toBeLessThan(html.indexOf('data-fold="liver/fold-0"'));
      expect([...html.matchAll(/data-fold="([^"]+)"/g)].map((m) => m[1])).toEqual([
        'liver/fold-0',
        'liver/fold-1',
      ]);
      expect(html).toContain('<img src="liver/fold-1/curves.png"');
      expect(html).toContain('0.8100 @ epoch 3');
    } finally {
      await rm(train, { recursive: true });
    }
  });

  it('refuses a folder that is neither output', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'raunet-html-empty-'));
    const r = await runCli(['report', empty, '--html']);
    await rm(empty, { recursive: true });
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/neither a segmentation output/);
  });
});
