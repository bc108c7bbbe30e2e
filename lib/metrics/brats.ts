/**
 * BraTS evaluation of predicted brain-tumour label maps (the columns of the paper's Table IX): per subject
 * and region (whole tumour by default; tumour core and enhancing tumour for multi-class maps) Dice,
 * sensitivity, specificity and Hausdorff 95 (mm); aggregated as mean, median and standard deviation.
 * Definitions and conventions: docs/metrics.md (BraTS section).
 *
 * With P the predicted and R the reference voxels of a region:
 * - dice = 2|P n R| / (|P| + |R|); sensitivity = |P n R| / |R|;
 * - specificity = TN / (TN + FP) over the brain (voxels > 0 in all four sequences, as the BraTS
 *   evaluation) when the brain mask is known, else over the whole grid;
 * - hd95: the project's HD95 (`surfaceDistances`, both directed surface-distance sets pooled, 95th
 *   percentile, voxel spacing applied, so anisotropic grids are measured in mm).
 * Empty masks, as the BraTS evaluation: both empty -> dice 1, sensitivity 1, hd95 0; one empty -> dice 0,
 * hd95 = `hd95Max` (default 373.13 mm, the diagonal of the 240 x 240 x 155 mm BraTS grid), sensitivity 0
 * when only P is empty and 1 when only R is (nothing to find; the false positives cost Dice and
 * specificity).
 */

import { bratsTargetMask } from '../brats/targets.ts';
import type { BratsLabelConvention, BratsTarget } from '../brats/types.ts';
import type { Vec3, Volume } from '../volume/volume.ts';
import { checkPair, LIVER, structureMetrics } from './lits.ts';

/** The diagonal of the BraTS grid, sqrt(240^2 + 240^2 + 155^2) mm = 373.129 mm, as BraTS reports it. */
export const BRATS_HD95_MAX_MM = 373.13;

export interface BratsRegionMetrics {
  dice: number;
  sensitivity: number;
  specificity: number;
  hd95: number;
  pred_voxels: number;
  ref_voxels: number;
  overlap_voxels: number;
}

export interface BratsSubjectResult {
  id: string;
  /** What specificity was computed over. */
  specificity_over: 'brain' | 'grid';
  whole?: BratsRegionMetrics;
  core?: BratsRegionMetrics;
  enhancing?: BratsRegionMetrics;
}

export interface SummaryStats {
  mean: number | null;
  median: number | null;
  /** Sample standard deviation (n - 1); null for fewer than two subjects. */
  std: number | null;
}

export interface BratsRegionAggregate {
  subjects: number;
  dice: SummaryStats;
  sensitivity: SummaryStats;
  specificity: SummaryStats;
  hd95: SummaryStats;
}

export interface BratsEvaluation {
  regions: BratsTarget[];
  hd95_max_mm: number;
  subjects: BratsSubjectResult[];
  aggregate: Partial<Record<BratsTarget, BratsRegionAggregate>>;
}

export interface BratsMetricOptions {
  /** Regions to score (default: whole tumour only, the paper's target). */
  regions?: readonly BratsTarget[];
  /** Brain mask on the grid (1 = brain); specificity is over the whole grid without it. */
  brain?: Uint8Array;
  hd95Max?: number;
}

/** Metrics of one region between two binary masks (non-zero = inside) on one grid. */
export function bratsRegionMetrics(
  pred: Uint8Array,
  ref: Uint8Array,
  dims: Vec3,
  spacing: Vec3,
  opts: Pick<BratsMetricOptions, 'brain' | 'hd95Max'> = {},
): BratsRegionMetrics {
  const hd95Max = opts.hd95Max ?? BRATS_HD95_MAX_MM;
  // Dice, the counts and HD95 are the LiTS structure metrics of the non-zero voxels.
  const s = structureMetrics(pred, ref, dims, spacing, LIVER);
  const brain = opts.brain;
  let negatives = 0;
  let falsePositives = 0;
  for (let v = 0; v < ref.length; v++) {
    if (brain && !brain[v]) continue;
    if (ref[v] === 0) {
      negatives++;
      if (pred[v] !== 0) falsePositives++;
    }
  }
  const np = s.pred_voxels;
  const nr = s.ref_voxels;
  const bothEmpty = np === 0 && nr === 0;
  const oneEmpty = !bothEmpty && (np === 0 || nr === 0);
  return {
    dice: s.dice,
    sensitivity: nr === 0 ? 1 : s.overlap_voxels / nr,
    specificity: negatives === 0 ? 1 : (negatives - falsePositives) / negatives,
    hd95: bothEmpty ? 0 : oneEmpty ? hd95Max : (s.hd95 as number),
    pred_voxels: np,
    ref_voxels: nr,
    overlap_voxels: s.overlap_voxels,
  };
}

/**
 * Score one subject: `pred` and `ref` are raw BraTS label maps (or binary whole-tumour maps, 0/1) on one
 * grid, each read in its own label convention. Throws `InputError` when the grids differ.
 */
export function evaluateBratsSubject(
  pred: Volume,
  ref: Volume,
  id: string,
  conventions: { pred: BratsLabelConvention; ref: BratsLabelConvention },
  opts: BratsMetricOptions = {},
): BratsSubjectResult {
  checkPair(pred, ref, id);
  const result: BratsSubjectResult = { id, specificity_over: opts.brain ? 'brain' : 'grid' };
  for (const region of opts.regions ?? ['whole']) {
    result[region] = bratsRegionMetrics(
      bratsTargetMask(pred.data, conventions.pred, region),
      bratsTargetMask(ref.data, conventions.ref, region),
      ref.dims,
      ref.spacing,
      opts,
    );
  }
  return result;
}

/** Mean, median and sample standard deviation of `values`. */
export function summaryStats(values: readonly number[]): SummaryStats {
  const n = values.length;
  if (n === 0) return { mean: null, median: null, std: null };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const sorted = [...values].sort((a, b) => a - b);
  const median = n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  const std = n < 2 ? null : Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1));
  return { mean, median, std };
}

export function aggregateBrats(
  subjects: BratsSubjectResult[],
  regions: readonly BratsTarget[] = ['whole'],
  hd95Max = BRATS_HD95_MAX_MM,
): BratsEvaluation {
  const aggregate: BratsEvaluation['aggregate'] = {};
  for (const region of regions) {
    const ms = subjects.map((s) => s[region]).filter((m): m is BratsRegionMetrics => m !== undefined);
    const col = (k: 'dice' | 'sensitivity' | 'specificity' | 'hd95') => summaryStats(ms.map((m) => m[k]));
    aggregate[region] = {
      subjects: ms.length,
      dice: col('dice'),
      sensitivity: col('sensitivity'),
      specificity: col('specificity'),
      hd95: col('hd95'),
    };
  }
  return { regions: [...regions], hd95_max_mm: hd95Max, subjects, aggregate };
}

const REGION_NAME: Record<BratsTarget, string> = {
  whole: 'Whole tumour (WT)',
  core: 'Tumour core (TC)',
  enhancing: 'Enhancing tumour (ET)',
};
const COLUMNS = ['dice', 'sensitivity', 'specificity', 'hd95'] as const;
const cell = (k: string, v: number | null | undefined) =>
  v === null || v === undefined ? '-' : v.toFixed(k === 'hd95' ? 2 : 4);

/** Console tables, one per region: a row per subject, then mean, median and std (Table IX's columns). */
export function formatBratsEvaluation(e: BratsEvaluation): string {
  const blocks = e.regions.map((region) => {
    const agg = e.aggregate[region]!;
    const head = ['subject', 'dice', 'sensitivity', 'specificity', 'hd95 mm'];
    const rows = e.subjects.map((s) => [s.id, ...COLUMNS.map((k) => cell(k, s[region]?.[k]))]);
    for (const stat of ['mean', 'median', 'std'] as const)
      rows.push([stat, ...COLUMNS.map((k) => cell(k, agg[k][stat]))]);
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (r: string[]) =>
      r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
    return [`${REGION_NAME[region]} (${agg.subjects} subjects)`, line(head), ...rows.map(line)].join('\n');
  });
  const over = new Set(e.subjects.map((s) => s.specificity_over));
  const note = `specificity over ${[...over].join(' / ') || '-'}; one empty mask scores hd95 ${e.hd95_max_mm} mm`;
  return `${blocks.join('\n\n')}\n${note}\n`;
}

/** One row per subject: id, then <region>_<metric> for each region scored. */
export function bratsEvaluationCsv(e: BratsEvaluation): string {
  const cols = e.regions.flatMap((r) => COLUMNS.map((k) => `${r}_${k}`));
  const lines = [['id', 'specificity_over', ...cols].join(',')];
  for (const s of e.subjects) {
    const id = /[",\n]/.test(s.id) ? `"${s.id.replaceAll('"', '""')}"` : s.id;
    lines.push(
      [id, s.specificity_over, ...e.regions.flatMap((r) => COLUMNS.map((k) => String(s[r]?.[k] ?? '')))].join(
        ',',
      ),
    );
  }
  return `${lines.join('\n')}\n`;
}
