/**
 * The per-case report (`<name>_report.json`): volumes, tumor list with world-space centroids, tumor
 * burden, bounding boxes, intensity statistics per structure, stage timings, engine and models.
 */
import { labelComponents } from '../postprocess/components.ts';
import { type Box3, boundingBox, boxSize, cropArray } from '../preprocess/crop.ts';
import { applyAffine, det3, linearPart, orientationCode } from '../volume/affine.ts';
import type { Affine, Vec3, Volume } from '../volume/volume.ts';
import { LABELS, type LabelDefinition } from './labels.ts';
import { plausibilityFlags } from './plausibility.ts';

/**
 * Version of the report's layout (docs/report.schema.json). 2: `schemaVersion`, `labels`, model
 * provenance (`dataset`, `folds`), plausibility `flags` and `demoModels`.
 */
export const REPORT_SCHEMA_VERSION = 2;

/**
 * A remark on the input or the result, for the report's readers and the preview: codes such as
 * `intensity-not-ct`, `spacing-doubtful`, `few-slices`, `no-liver-like-tissue` (input checks),
 * `liver-empty`, `liver-touches-border`, `liver-volume-implausible`, `box-clips-mask` (the result) and
 * `demo-models`. See docs/segmentation.md, "Input checks and orientation".
 */
export interface ReportFlag {
  code: string;
  severity: 'info' | 'warning';
  message: string;
}

export interface StructureStats {
  voxels: number;
  volumeMl: number;
  /** Mean and standard deviation (population) of the CT values inside, HU; null when empty. */
  meanHu: number | null;
  stdHu: number | null;
}

export interface BoxReport {
  /** Voxel indices, start inclusive, end exclusive. */
  voxels: Box3;
  /** World-space (RAS+, mm) axis-aligned extent of the box's voxel centres. */
  worldMin: Vec3;
  worldMax: Vec3;
}

export interface TumorReport {
  /** 1 = largest. */
  id: number;
  voxels: number;
  volumeMl: number;
  centroidVoxel: Vec3;
  /** RAS+ mm. */
  centroidWorld: Vec3;
}

export interface ModelInfo {
  id: string;
  arch?: string;
  width?: number;
  inputShape?: number[];
  fold?: number;
  /** Number of folds of the training run this model comes from. */
  folds?: number;
  /** What the model was trained on (`trainedOn.dataset` of its manifest, e.g. `phantoms`, `lits`). */
  dataset?: string;
  createdAt?: string;
  note?: string;
}

export interface StageTimings {
  preprocessMs: number;
  localizeMs: number;
  liverMs: number;
  tumorMs: number;
  totalMs: number;
}

export interface SegmentationReport {
  schemaVersion: number;
  /** The label values of the label map, with names and display colours. */
  labels: LabelDefinition[];
  input: { name: string; dims: Vec3; spacing: Vec3; orientation: string; voxelVolumeMm3: number };
  /** Whole liver (labels 1 and 2). */
  liver: StructureStats & { boundingBox: BoxReport | null };
  tumors: { count: number; volumeMl: number; items: TumorReport[] };
  /** Tumor volume / whole-liver volume (0 when there is no liver). */
  tumorBurden: number;
  /** Per-structure statistics: liver (labels 1+2), parenchyma (label 1), tumor (label 2). */
  structures: { liver: StructureStats; parenchyma: StructureStats; tumor: StructureStats };
  /** Stage-1 liver box (coarse liver + margin), or null when stage 1 found no liver. */
  localization: BoxReport | null;
  timings: StageTimings;
  engine: { kind: string; backend: string };
  models: Record<'localize' | 'liver' | 'tumor', ModelInfo[]>;
  options: Record<string, unknown>;
  /**
   * Sliding windows stages 2 and 3 ran (each one forward pass per fold model and mirroring); absent in
   * reports made without running the stages here (the cloud's finalize step).
   */
  windows?: { liver: number; tumor: number };
  /** Input checks' doubts, then the result's plausibility flags, then `demo-models`. */
  flags: ReportFlag[];
  /** Segmented with the bundled demo models (phantom-trained, not for clinical use). */
  demoModels: boolean;
  createdAt: string;
}

export const DEMO_MODELS_FLAG: ReportFlag = {
  code: 'demo-models',
  severity: 'warning',
  message: 'DEMO MODEL - not for clinical use: segmented with the demo models, trained on synthetic phantoms',
};

/** How the demo models' manifests begin their note (`DEMO.note` of `training/demo.ts`). */
export const DEMO_MODEL_NOTE_PREFIX = 'Demonstration model';

export function isDemoModel(m: { note?: string }): boolean {
  return m.note?.startsWith(DEMO_MODEL_NOTE_PREFIX) ?? false;
}

/** Volume of one voxel in mm^3: |det| of the affine's 3x3 part. */
export function voxelVolumeMm3(affine: Affine): number {
  return Math.abs(det3(linearPart(affine)));
}

/** World extent of a voxel box (the 8 corner voxel centres through the affine). */
export function boxReport(box: Box3, affine: Affine): BoxReport {
  const min: Vec3 = [Infinity, Infinity, Infinity];
  const max: Vec3 = [-Infinity, -Infinity, -Infinity];
  for (let c = 0; c < 8; c++) {
    const v: Vec3 = [0, 1, 2].map((a) => (c & (1 << a) ? box.end[a] - 1 : box.start[a])) as Vec3;
    const w = applyAffine(affine, v);
    for (let a = 0; a < 3; a++) {
      min[a] = Math.min(min[a], w[a]);
      max[a] = Math.max(max[a], w[a]);
    }
  }
  return { voxels: { start: [...box.start], end: [...box.end] }, worldMin: min, worldMax: max };
}

/** Statistics of the CT per label value (index = label), in one pass; voxels with label 0 are skipped. */
export function labelStats(ct: Volume, labels: Uint8Array, mm3: number, maxLabel = 2): StructureStats[] {
  const n = new Float64Array(maxLabel + 1);
  const sum = new Float64Array(maxLabel + 1);
  const sum2 = new Float64Array(maxLabel + 1);
  const d = ct.data;
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (l === 0 || l > maxLabel) continue;
    const v = d[i];
    n[l]++;
    sum[l] += v;
    sum2[l] += v * v;
  }
  return Array.from(n, (_, l) => statsOf(n[l], sum[l], sum2[l], mm3));
}

function statsOf(n: number, sum: number, sum2: number, mm3: number): StructureStats {
  const mean = n ? sum / n : null;
  const std = n && mean !== null ? Math.sqrt(Math.max(0, sum2 / n - mean * mean)) : null;
  return { voxels: n, volumeMl: (n * mm3) / 1000, meanHu: mean, stdHu: std };
}

/** Statistics of the union of two structures, from their own. */
function unionStats(a: StructureStats, b: StructureStats, mm3: number): StructureStats {
  const part = (s: StructureStats) => {
    const m = s.meanHu ?? 0;
    const sd = s.stdHu ?? 0;
    return [s.voxels, s.voxels * m, s.voxels * (sd * sd + m * m)];
  };
  const [na, sa, qa] = part(a);
  const [nb, sb, qb] = part(b);
  return statsOf(na + nb, sa + sb, qa + qb, mm3);
}

/**
 * Tumors: 26-connected components of label 2, largest first, with volumes and centroids. `box` (optional)
 * bounds every labelled voxel (the liver box), so the components are searched there only.
 */
export function tumorList(labels: Volume<Uint8Array>, mm3: number, box?: Box3 | null): TumorReport[] {
  const region = box ?? { start: [0, 0, 0] as Vec3, end: [...labels.dims] as Vec3 };
  const dims = boxSize(region);
  const crop = cropArray(labels.data, labels.dims, region);
  for (let i = 0; i < crop.length; i++) crop[i] = crop[i] === 2 ? 1 : 0;
  const { labels: comp, count, sizes } = labelComponents(crop, dims, 26);
  const sums = new Float64Array(3 * (count + 1));
  let idx = 0;
  for (let k = 0; k < dims[2]; k++)
    for (let j = 0; j < dims[1]; j++)
      for (let i = 0; i < dims[0]; i++, idx++) {
        const c = comp[idx];
        if (c === 0) continue;
        sums[3 * c] += i + region.start[0];
        sums[3 * c + 1] += j + region.start[1];
        sums[3 * c + 2] += k + region.start[2];
      }
  const items: Omit<TumorReport, 'id'>[] = [];
  for (let c = 1; c <= count; c++) {
    const n = sizes[c];
    const centroidVoxel: Vec3 = [sums[3 * c] / n, sums[3 * c + 1] / n, sums[3 * c + 2] / n];
    items.push({
      voxels: n,
      volumeMl: (n * mm3) / 1000,
      centroidVoxel,
      centroidWorld: applyAffine(labels.affine, centroidVoxel),
    });
  }
  items.sort((a, b) => b.voxels - a.voxels);
  return items.map((t, i) => ({ id: i + 1, ...t }));
}

export interface ReportContext {
  name: string;
  localization: Box3 | null;
  timings: StageTimings;
  engine: { kind: string; backend: string };
  models: SegmentationReport['models'];
  options: Record<string, unknown>;
  windows?: SegmentationReport['windows'];
  /** Flags of the input checks (`checkInput`); the result's own flags are added here. */
  flags?: ReportFlag[];
  demoModels?: boolean;
  createdAt?: string;
}

type PerStage<T> = Partial<Record<'localize' | 'liver' | 'tumor', T>>;

/**
 * The report's `options`: what the stages ran with, the pipeline's defaults where `opts` says nothing
 * (the CLI passes its `SegmentOptions`, the cloud's finalize step `{}`: its Batch stages use the defaults).
 */
export function reportOptions(
  opts: {
    thresholds?: PerStage<number>;
    overlap?: number;
    minOverlap?: number;
    blend?: string;
    tta?: boolean;
    batchSizes?: PerStage<number>;
  },
  patches: { localize: number[]; liver: number[]; tumor: number[] },
): Record<string, unknown> {
  const th = opts.thresholds ?? {};
  const bs = opts.batchSizes ?? {};
  return {
    thresholds: { localize: th.localize ?? 0.5, liver: th.liver ?? 0.5, tumor: th.tumor ?? 0.5 },
    overlap: opts.overlap ?? 0.5,
    // null: windows stepped by `overlap`; a number: the fewest evenly placed windows (stages 2 and 3)
    minOverlap: opts.minOverlap ?? null,
    blend: opts.blend ?? 'gaussian',
    tta: opts.tta ?? false,
    patches,
    batchSizes: { localize: bs.localize ?? 8, liver: bs.liver ?? 1, tumor: bs.tumor ?? 1 },
  };
}

/** Build the report of a label map (0/1/2 on the CT grid). */
export function buildReport(ct: Volume, labels: Volume<Uint8Array>, ctx: ReportContext): SegmentationReport {
  const mm3 = voxelVolumeMm3(ct.affine);
  const [, parenchyma, tumor] = labelStats(ct, labels.data, mm3);
  const liver = unionStats(parenchyma, tumor, mm3);
  const liverBox = boundingBox(labels.data, labels.dims, 0);
  const items = liverBox ? tumorList(labels, mm3, liverBox) : [];
  const demoModels = ctx.demoModels ?? false;
  const flags: ReportFlag[] = [
    ...(ctx.flags ?? []),
    ...plausibilityFlags({
      dims: ct.dims,
      affine: ct.affine,
      liverVolumeMl: liver.volumeMl,
      liverBox,
      localization: ctx.localization,
    }),
  ];
  if (demoModels) flags.push(DEMO_MODELS_FLAG);
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    labels: LABELS.map((l) => ({ value: l.value, name: l.name, rgb: [...l.rgb] })),
    input: {
      name: ctx.name,
      dims: [...ct.dims],
      spacing: [...ct.spacing],
      orientation: orientationCode(ct.affine),
      voxelVolumeMm3: mm3,
    },
    liver: { ...liver, boundingBox: liverBox ? boxReport(liverBox, ct.affine) : null },
    tumors: { count: items.length, volumeMl: tumor.volumeMl, items },
    tumorBurden: liver.voxels ? tumor.voxels / liver.voxels : 0,
    structures: { liver, parenchyma, tumor },
    localization: ctx.localization ? boxReport(ctx.localization, ct.affine) : null,
    timings: ctx.timings,
    engine: ctx.engine,
    models: ctx.models,
    options: ctx.options,
    ...(ctx.windows ? { windows: { ...ctx.windows } } : {}),
    flags,
    demoModels,
    createdAt: ctx.createdAt ?? new Date().toISOString(),
  };
}
