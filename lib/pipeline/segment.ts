/**
 * `segmentCt`: the whole RA-UNet inference of one CT volume (stage 1 localisation, stage 2 liver, stage 3
 * tumor) with its report. The CLI, the Lambdas and the Batch containers all call this.
 *
 * Memory (512x512x600 CT = 157 M voxels): the CT itself (int16 314 MB, or float32 629 MB), its normalised
 * copy (float32, 629 MB), the liver and tumor masks on the full grid (uint8, 157 MB each; the label map
 * reuses the liver mask) and the stage-1 coarse mask (uint8, 157 MB, dropped after stage 1). Everything else
 * lives on the stage's region only: stage 1 one batch of 256x256 slices and a 256x256xZ uint8 stack; stage 2
 * the box resized to 224x224xZb plus a float32 sum and weight buffer of that size and the probability
 * resized back to the box; stage 3 the float32 crop of the liver VOI plus its sum and weight buffers.
 * See docs/segmentation.md for the measured peak.
 */
import type { InferenceEngine } from '../inference/engine.ts';
import { STAGES, type Stage } from '../model/storage.ts';
import { type Box3, boxSize, cropArray, expandBox } from '../preprocess/crop.ts';
import { reindexAffine } from '../preprocess/grid.ts';
import { windowAndNormalize } from '../preprocess/window.ts';
import { boxToInput, fromCanonicalData, toCanonical } from '../volume/orientation.ts';
import { createVolume, type Vec3, type Volume, withData } from '../volume/volume.ts';
import {
  buildReport,
  isDemoModel,
  type ModelInfo,
  type ReportFlag,
  reportOptions,
  type SegmentationReport,
  type StageTimings,
} from './report.ts';
import {
  BOX_MARGIN,
  LIVER_PATCH,
  LOCALIZE_SLICE,
  localizeLiver,
  segmentLiver,
  segmentTumor,
  TUMOR_PATCH,
} from './stages.ts';
import type { BlendMode } from './windows.ts';

/** The pipeline's stages are the model manifests' stages (one definition, in `model/storage.ts`). */
export type StageName = Stage;
export { STAGES };

/** The manifest fields the pipeline reads (a `ModelManifest` of `lib/model/storage.ts` satisfies it). */
export interface ManifestInfo {
  arch?: string;
  width?: number;
  /** Tensor-order input shape, e.g. `[32, 224, 224, 1]` or `[256, 256, 1]` (a leading batch entry is allowed). */
  inputShape?: Array<number | null>;
  fold?: number;
  folds?: number;
  createdAt?: string;
  note?: string;
  /** `mirror`: trained with random mirroring (what test-time mirroring assumes); `dataset`: its name. */
  trainedOn?: { mirror?: boolean; dataset?: string };
  /** Probability threshold its training recipe meant it for (absent: 0.5). */
  threshold?: number;
}

/** The threshold every model of a stage records, or undefined (0.5) when one lacks it or they differ. */
export function manifestThreshold(models: readonly LoadedModel[]): number | undefined {
  const t = new Set(models.map((m) => m.manifest.threshold));
  return t.size === 1 ? [...t][0] : undefined;
}

export interface LoadedModel {
  engine: InferenceEngine;
  manifest: ManifestInfo;
  /** Where it came from, for example `liver/fold-2`. */
  id: string;
}

/** The ensembles of the three stages (each stage: one or more fold models). */
export type LoadedModels = Record<StageName, LoadedModel[]>;

export interface SegmentOptions {
  /** Case name used in the report (default 'ct'). */
  name?: string;
  /** Probability thresholds per stage (default 0.5 each, the paper's value). */
  thresholds?: Partial<Record<StageName, number>>;
  /** Window overlap of stages 2 and 3 (default 0.5). */
  overlap?: number;
  /** Stages 2 and 3: fewest evenly placed windows overlapping by at least this fraction (opt-in, see stages.ts). */
  minOverlap?: number;
  /** Slices per forward pass in stage 1 (default 8), patches per pass in stages 2 and 3 (default 1). */
  batchSizes?: Partial<Record<StageName, number>>;
  blend?: BlendMode;
  tta?: boolean;
  /** Override the patch (or slice) sizes read from the manifests, [x, y, z] / [x, y]. */
  patches?: { localize?: [number, number]; liver?: Vec3; tumor?: Vec3 };
  /**
   * Stage 3 runs only the windows that hold liver voxels (default true; exact, see `segmentTumor`). False
   * runs every window of the liver VOI, as before, e.g. to compare or to save a full tumor probability map.
   */
  skipWindowsWithoutLiver?: boolean;
  /** Keep the blended probability maps of stages 2 and 3 (on their regions) in the result. */
  saveProbabilities?: boolean;
  /** Progress of each stage, in forward passes. */
  onProgress?: (stage: StageName, done: number, total: number) => void;
  /** Called when a stage begins. */
  onStage?: (stage: StageName) => void;
  /** Flags of the input checks (`checkInput` of `input-checks.ts`, run by the caller) for the report. */
  inputFlags?: ReportFlag[];
}

export interface SegmentationResult {
  /** 0 background, 1 liver, 2 tumor; exactly the input's grid and affine. */
  labels: Volume<Uint8Array>;
  report: SegmentationReport;
  /** With `saveProbabilities`: float32 maps on the stage's region, the affine placing them in the input. */
  probabilities?: { liver?: Volume<Float32Array>; tumor?: Volume<Float32Array> };
}

/**
 * Spatial patch size from a manifest's `inputShape`, as [x, y] (2D) or [x, y, z] (3D). The shape is in
 * tensor order (`[z, y, x, c]` or `[y, x, c]`, optionally with a leading batch entry); a null or -1 entry is
 * not a size.
 */
export function patchFromManifest(manifest: Pick<ManifestInfo, 'inputShape'>, spatialDims: 2 | 3): number[] {
  let s = (manifest.inputShape ?? []).filter((v): v is number => typeof v === 'number' && v > 0);
  if (s.length === spatialDims + 1)
    s = s.slice(0, spatialDims); // [...spatial, channels]
  else if (s.length === spatialDims + 2) s = s.slice(1, spatialDims + 1); // [batch, ...spatial, channels]
  if (s.length !== spatialDims) {
    throw new RangeError(
      `manifest inputShape ${JSON.stringify(manifest.inputShape)} has no ${spatialDims}D size`,
    );
  }
  return [...s].reverse();
}

/** The patch (or slice) size of an ensemble from its manifests, `fallback` when none says. */
function stagePatch(
  models: readonly LoadedModel[],
  dims: 2 | 3,
  stage: StageName,
  fallback: number[],
): number[] {
  if (models.every((m) => !m.manifest.inputShape?.length)) return fallback;
  const sizes = models.map((m) => patchFromManifest(m.manifest, dims).join('x'));
  if (new Set(sizes).size > 1) {
    throw new RangeError(
      `the ${stage} models disagree on their input size (${[...new Set(sizes)].join(', ')})`,
    );
  }
  return sizes[0].split('x').map(Number);
}

const PATCH_DEFAULTS: Record<StageName, { dims: 2 | 3; fallback: number[] }> = {
  localize: { dims: 2, fallback: LOCALIZE_SLICE },
  liver: { dims: 3, fallback: LIVER_PATCH },
  tumor: { dims: 3, fallback: TUMOR_PATCH },
};

/** A stage's slice ([x, y], localize) or patch ([x, y, z]) from its manifests, the paper's size otherwise. */
export function manifestPatch(models: readonly LoadedModel[], stage: StageName): number[] {
  const d = PATCH_DEFAULTS[stage];
  return stagePatch(models, d.dims, stage, d.fallback);
}

/** True when any stage runs one of the demo models (phantom-trained; their manifests' note says so). */
export function usesDemoModels(models: LoadedModels): boolean {
  return STAGES.some((s) => models[s].some((m) => isDemoModel(m.manifest)));
}

/** What the report says about one loaded model. */
export const modelInfo = (m: LoadedModel): ModelInfo => ({
  id: m.id,
  arch: m.manifest.arch,
  width: m.manifest.width,
  inputShape: m.manifest.inputShape?.filter((v): v is number => typeof v === 'number'),
  fold: m.manifest.fold,
  folds: m.manifest.folds,
  dataset: m.manifest.trainedOn?.dataset,
  createdAt: m.manifest.createdAt,
  note: m.manifest.note,
});

/** A region map as a volume whose affine places voxel (0,0,0) at the box start of `ct`. */
function regionVolume(ct: Volume, data: Float32Array, box: Box3): Volume<Float32Array> {
  return createVolume(
    data,
    boxSize(box),
    [...ct.spacing],
    reindexAffine(ct.affine, [1, 1, 1], box.start),
    'float32',
  );
}

/**
 * The three stages on `input`. They run on its canonical RAS+ reorientation (permuted and flipped axes, no
 * resampling; `volume/orientation.ts`), as the models were trained; the label map, the boxes and the
 * report are on the input's own grid. Probability maps keep the canonical grid (their affine places them).
 */
export async function segmentCt(
  input: Volume,
  models: LoadedModels,
  opts: SegmentOptions = {},
): Promise<SegmentationResult> {
  for (const s of STAGES) if (!models[s]?.length) throw new RangeError(`no ${s} model loaded`);
  const engines = (s: StageName) => models[s].map((m) => m.engine);
  // explicit thresholds first, then the ones the models' training recipe recorded, then 0.5
  const th: Partial<Record<StageName, number>> = {};
  for (const s of STAGES) {
    const t = opts.thresholds?.[s] ?? manifestThreshold(models[s]);
    if (t !== undefined) th[s] = t;
  }
  const bs = opts.batchSizes ?? {};
  const slice = (opts.patches?.localize ?? manifestPatch(models.localize, 'localize')) as [number, number];
  const liverPatch = (opts.patches?.liver ?? manifestPatch(models.liver, 'liver')) as Vec3;
  const tumorPatch = (opts.patches?.tumor ?? manifestPatch(models.tumor, 'tumor')) as Vec3;
  const common = { overlap: opts.overlap, blend: opts.blend, tta: opts.tta };
  const placement = { minOverlap: opts.minOverlap };
  // windows run per stage, for the report (stage 1's progress counts slices, not windows)
  const windows = { liver: 0, tumor: 0 };
  const progress = (s: StageName) => (d: number, t: number) => {
    if (s !== 'localize') windows[s] = d;
    opts.onProgress?.(s, d, t);
  };
  const probabilities: SegmentationResult['probabilities'] = {};

  const t0 = performance.now();
  const { volume: ct, reorientation } = toCanonical(input);
  let normalized: Volume<Float32Array> | null = windowAndNormalize(ct);
  const t1 = performance.now();

  opts.onStage?.('localize');
  const { box } = await localizeLiver(ct, engines('localize'), {
    ...common,
    normalized,
    slice,
    threshold: th.localize,
    batchSize: bs.localize,
    onProgress: progress('localize'),
  });
  const t2 = performance.now();

  let labels: Uint8Array;
  let t3 = t2;
  if (box) {
    // Stages 2 and 3 only need the box plus the tumor VOI margin: keep that much of the normalised CT.
    const regionBox = expandBox(box, BOX_MARGIN, ct.dims);
    const normalizedRegion = { data: cropArray(normalized.data, ct.dims, regionBox), box: regionBox };
    normalized = null;
    opts.onStage?.('liver');
    labels = await segmentLiver(ct, box, engines('liver'), {
      ...common,
      ...placement,
      normalizedRegion,
      patch: liverPatch,
      threshold: th.liver,
      batchSize: bs.liver,
      onProgress: progress('liver'),
      onProbability: opts.saveProbabilities
        ? (p, b) => (probabilities.liver = regionVolume(ct, p, b))
        : undefined,
    });
    t3 = performance.now();
    opts.onStage?.('tumor');
    const tumor = await segmentTumor(ct, labels, engines('tumor'), {
      ...common,
      ...placement,
      normalizedRegion,
      patch: tumorPatch,
      threshold: th.tumor,
      batchSize: bs.tumor,
      skipWindowsWithoutLiver: opts.skipWindowsWithoutLiver,
      onProgress: progress('tumor'),
      onProbability: opts.saveProbabilities
        ? (p, b) => (probabilities.tumor = regionVolume(ct, p, b))
        : undefined,
    });
    for (let i = 0; i < labels.length; i++) if (tumor[i]) labels[i] = 2;
  } else {
    labels = new Uint8Array(ct.data.length);
  }
  const t4 = performance.now();

  const labelVolume = withData(input, fromCanonicalData(labels, reorientation), 'uint8');
  const timings: StageTimings = {
    preprocessMs: t1 - t0,
    localizeMs: t2 - t1,
    liverMs: t3 - t2,
    tumorMs: t4 - t3,
    totalMs: t4 - t0,
  };
  const first = models.liver[0].engine;
  const report = buildReport(input, labelVolume, {
    name: opts.name ?? 'ct',
    localization: box && boxToInput(box, reorientation),
    timings,
    engine: { kind: first.kind, backend: first.backend },
    models: {
      localize: models.localize.map(modelInfo),
      liver: models.liver.map(modelInfo),
      tumor: models.tumor.map(modelInfo),
    },
    options: reportOptions(
      { ...opts, thresholds: th },
      { localize: slice, liver: liverPatch, tumor: tumorPatch },
    ),
    windows,
    flags: opts.inputFlags,
    demoModels: usesDemoModels(models),
  });
  return { labels: labelVolume, report, probabilities: opts.saveProbabilities ? probabilities : undefined };
}
