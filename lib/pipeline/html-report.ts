/**
 * `raunet report <dir> --html`: one HTML page summarising a folder. A segmentation output (`<name>_report.json`
 * per case) gives a table of volumes, tumor counts, flags, Dice against references when there are any, and
 * the preview thumbnails; a training output (`[<stage>/]fold-<k>/metrics.jsonl`) gives the folds side by
 * side with their curves and final metrics, under the run's curves. Images are linked relative to the page, not copied.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { InputError } from '../errors.ts';
import { evaluateCase } from '../metrics/lits.ts';
import { readCurvePoints } from '../training/curves.ts';
import { readVolume } from '../volume/read.ts';
import type { SegmentationReport } from './report.ts';

const esc = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const STYLE = `body{font:14px/1.4 system-ui,sans-serif;margin:20px;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right;vertical-align:top}
td.l,th.l{text-align:left}img{max-width:320px;display:block}.warn{color:#a60}.demo{color:#fff;background:#b35c00;padding:0 4px}
.folds{display:flex;flex-wrap:wrap;gap:16px}.fold{border:1px solid #ccc;padding:8px}img.run{max-width:100%}`;

function page(title: string, body: string): string {
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title><style>${STYLE}</style></head>\n<body><h1>${esc(title)}</h1>\n${body}\n</body></html>\n`;
}

const fmt = (x: number | null | undefined, digits = 1) =>
  x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits);

/** The reference label map of a case: in `ref` (a folder) or beside the output as `<name>_truth.nii.gz`. */
function findReference(dir: string, name: string, ref?: string): string | null {
  const names = [
    `${name}_truth.nii.gz`,
    `${name}_truth.nii`,
    `${name}.nii.gz`,
    `${name}.nii`,
    `${name}_seg.nii.gz`,
  ];
  for (const n of names) {
    const p = join(ref ?? dir, n);
    if (existsSync(p) && (ref !== undefined || n.includes('_truth'))) return p;
  }
  return null;
}

/** Label map files of a case, in the order looked for (`raunet segment --format nifti|nrrd|mha`). */
const SEG_SUFFIXES = ['.nii.gz', '.nii', '.nrrd', '.mha'];

export interface BatchRow {
  name: string;
  report: SegmentationReport;
  dice: { liver: number; tumor: number } | null;
  preview: string | null;
}

/** The cases of a segmentation output folder, with Dice where a reference exists. */
export async function batchRows(dir: string, ref?: string): Promise<BatchRow[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('_report.json')).sort();
  const rows: BatchRow[] = [];
  for (const f of files) {
    const name = f.slice(0, -'_report.json'.length);
    const report = JSON.parse(await readFile(join(dir, f), 'utf8')) as SegmentationReport;
    const refPath = findReference(dir, name, ref);
    // the label map in whichever volume format `raunet segment --format` wrote it
    const segPath = SEG_SUFFIXES.map((s) => join(dir, `${name}_seg${s}`)).find((p) => existsSync(p));
    let dice: BatchRow['dice'] = null;
    if (refPath && segPath) {
      const r = evaluateCase(await readVolume(segPath), await readVolume(refPath), name);
      dice = { liver: r.liver.dice, tumor: r.tumor.dice };
    }
    const preview = existsSync(join(dir, `${name}_preview.png`)) ? `${name}_preview.png` : null;
    rows.push({ name, report, dice, preview });
  }
  return rows;
}

export function batchHtml(rows: BatchRow[], imageBase: string): string {
  const withDice = rows.some((r) => r.dice);
  const head = [
    '<th class="l">case</th><th>liver mL</th><th>tumors</th><th>tumor mL</th><th>burden %</th>',
    withDice ? '<th>Dice liver</th><th>Dice tumor</th>' : '',
    '<th class="l">flags</th><th class="l">preview</th>',
  ].join('');
  const body = rows.map((r) => {
    const flags = [
      r.report.demoModels ? '<span class="demo">DEMO MODEL - not for clinical use</span>' : '',
      ...(r.report.flags ?? []).map(
        (f) => `<div class="${f.severity === 'warning' ? 'warn' : ''}">${esc(f.message)}</div>`,
      ),
    ].join('');
    const img = r.preview
      ? `<a href="${esc(join(imageBase, r.preview))}"><img src="${esc(join(imageBase, r.preview))}" alt="${esc(r.name)} preview"></a>`
      : '';
    return [
      `<tr data-case="${esc(r.name)}"><td class="l">${esc(r.name)}</td><td>${fmt(r.report.liver.volumeMl)}</td>`,
      `<td>${r.report.tumors.count}</td><td>${fmt(r.report.tumors.volumeMl)}</td><td>${fmt(100 * r.report.tumorBurden)}</td>`,
      withDice ? `<td>${fmt(r.dice?.liver, 3)}</td><td>${fmt(r.dice?.tumor, 3)}</td>` : '',
      `<td class="l">${flags}</td><td class="l">${img}</td></tr>`,
    ].join('');
  });
  let mean = '';
  if (withDice) {
    const scored = rows.filter((r) => r.dice);
    const avg = (k: 'liver' | 'tumor') => scored.reduce((s, r) => s + r.dice![k], 0) / scored.length;
    mean = `<p>Mean Dice per case over ${scored.length} case(s) with a reference: liver ${fmt(avg('liver'), 3)}, tumor ${fmt(avg('tumor'), 3)}.</p>`;
  }
  return page(
    `Segmentation summary (${rows.length} case${rows.length === 1 ? '' : 's'})`,
    `${mean}<table><thead><tr>${head}</tr></thead><tbody>\n${body.join('\n')}\n</tbody></table>`,
  );
}

export interface FoldSummary {
  /** e.g. `liver/fold-0` */
  id: string;
  dir: string;
  epochs: number;
  best: number;
  bestEpoch: number;
  lastLoss: number;
  lastValDice: number;
  lr: number;
  curves: boolean;
}

/** Training folds under `dir`: `fold-<k>/` or `<stage>/fold-<k>/` folders holding `metrics.jsonl`. */
export async function trainingFolds(dir: string): Promise<FoldSummary[]> {
  const out: FoldSummary[] = [];
  const visit = async (d: string, depth: number): Promise<void> => {
    for (const e of (await readdir(d, { withFileTypes: true })).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      if (!e.isDirectory()) continue;
      const p = join(d, e.name);
      const metrics = join(p, 'metrics.jsonl');
      if (/^fold-\d+$/.test(e.name) && existsSync(metrics)) {
        const pts = readCurvePoints(metrics);
        const last = pts[pts.length - 1];
        if (!last) continue;
        out.push({
          id: relative(dir, p) || e.name,
          dir: p,
          epochs: last.epoch,
          best: last.best,
          bestEpoch: last.bestEpoch,
          lastLoss: last.loss,
          lastValDice: last.valDice,
          lr: last.lr,
          curves: existsSync(join(p, 'curves.png')),
        });
      } else if (depth < 1) await visit(p, depth + 1);
    }
  };
  await visit(dir, 0);
  return out;
}

export function trainingHtml(folds: FoldSummary[], pageDir: string): string {
  const cards = folds.map((f) => {
    const img = f.curves
      ? `<img src="${esc(relative(pageDir, join(f.dir, 'curves.png')))}" alt="${esc(f.id)} curves">`
      : '';
    return [
      `<div class="fold" data-fold="${esc(f.id)}"><h2>${esc(f.id)}</h2>${img}<table>`,
      `<tr><td class="l">epochs</td><td>${f.epochs}</td></tr>`,
      `<tr><td class="l">best val Dice</td><td>${fmt(f.best, 4)} @ epoch ${f.bestEpoch}</td></tr>`,
      `<tr><td class="l">last val Dice</td><td>${fmt(f.lastValDice, 4)}</td></tr>`,
      `<tr><td class="l">last train loss</td><td>${fmt(f.lastLoss, 4)}</td></tr>`,
      `<tr><td class="l">learning rate</td><td>${f.lr.toExponential(1)}</td></tr></table></div>`,
    ].join('');
  });
  // The run's curves (`<stage>/curves.png`, every fold side by side) above the fold cards.
  const runs = [...new Set(folds.map((f) => dirname(f.dir)))]
    .filter((d) => existsSync(join(d, 'curves.png')))
    .map((d) => {
      const src = esc(relative(pageDir, join(d, 'curves.png')) || 'curves.png');
      return `<div class="run"><h2>run: ${esc(basename(d))}</h2><img class="run" src="${src}" alt="run curves"></div>`;
    });
  return page(
    `Training summary (${folds.length} fold${folds.length === 1 ? '' : 's'})`,
    `${runs.join('\n')}\n<div class="folds">\n${cards.join('\n')}\n</div>`,
  );
}

/** Build the page for `dir` (segmentation or training output); `out` is where it will be written. */
export async function folderReportHtml(
  dir: string,
  out: string,
  ref?: string,
): Promise<{ html: string; kind: string; count: number }> {
  if (!existsSync(dir) || !(await stat(dir)).isDirectory())
    throw new InputError('not a folder', 'NOT_FOUND', dir);
  const rows = await batchRows(dir, ref);
  const pageDir = dirname(out);
  if (rows.length)
    return { html: batchHtml(rows, relative(pageDir, dir)), kind: 'segmentation', count: rows.length };
  const folds = await trainingFolds(dir);
  if (folds.length) return { html: trainingHtml(folds, pageDir), kind: 'training', count: folds.length };
  throw new InputError(
    'neither a segmentation output (<name>_report.json) nor a training output (fold-<k>/metrics.jsonl)',
    'NOT_FOUND',
    dir,
  );
}
