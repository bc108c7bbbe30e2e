/**
 * Text renderings of an `Evaluation`: a console table per structure and a per-case CSV.
 */
import type { AggregateMetrics, CaseResult, Evaluation, StructureMetrics } from './lits.ts';

export const METRIC_KEYS = ['dice', 'jaccard', 'voe', 'rvd', 'assd', 'msd', 'hd95'] as const;
const STRUCTURES = ['liver', 'tumor'] as const;

const fmt = (v: number | null | undefined, digits = 4) =>
  v === null || v === undefined ? '-' : v.toFixed(digits);
/** Distances (mm) print with 2 decimals, ratios with 4. */
const isDistance = (k: string) => k === 'assd' || k === 'msd' || k === 'hd95';
const fmtMetric = (k: string, v: number | null | undefined) => fmt(v, isDistance(k) ? 2 : 4);

function tableFor(structure: 'liver' | 'tumor', cases: CaseResult[], agg: AggregateMetrics): string {
  const head = ['case', ...METRIC_KEYS.map((k) => (isDistance(k) ? `${k} mm` : k))];
  const rows: string[][] = cases.map((c) => {
    const m: StructureMetrics = c[structure];
    return [c.id, ...METRIC_KEYS.map((k) => fmtMetric(k, m[k]))];
  });
  rows.push([
    'mean',
    fmt(agg.dice_per_case),
    ...(METRIC_KEYS.slice(1) as Array<Exclude<(typeof METRIC_KEYS)[number], 'dice'>>).map((k) =>
      fmtMetric(k, agg[k]),
    ),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const d = agg.defined;
  return [
    `${structure === 'liver' ? 'Liver' : 'Tumor'} (${agg.cases} cases)`,
    line(head),
    ...rows.slice(0, -1).map(line),
    line(rows[rows.length - 1]),
    `dice per case ${fmt(agg.dice_per_case)}, dice global ${fmt(agg.dice_global)}; ` +
      `rvd over ${d.rvd}, surface distances over ${d.assd} of ${agg.cases} cases`,
  ].join('\n');
}

/** Human-readable tables (liver, then tumor) with the aggregates. */
export function formatEvaluation(e: Evaluation): string {
  return `${tableFor('liver', e.cases, e.liver)}\n\n${tableFor('tumor', e.cases, e.tumor)}\n`;
}

function csvCell(v: string | number | null): string {
  if (v === null) return '';
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** One row per case: id, then liver_<metric> and tumor_<metric>; undefined values are empty cells. */
export function evaluationCsv(e: Evaluation): string {
  const cols = STRUCTURES.flatMap((s) => METRIC_KEYS.map((k) => `${s}_${k}`));
  const lines = [['id', ...cols].join(',')];
  for (const c of e.cases) {
    lines.push(
      [csvCell(c.id), ...STRUCTURES.flatMap((s) => METRIC_KEYS.map((k) => csvCell(c[s][k])))].join(','),
    );
  }
  return `${lines.join('\n')}\n`;
}
