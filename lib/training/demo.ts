/**
 * The embedded demo: small RA-UNets trained on synthetic phantoms (`models/demo/`), evaluated on
 * held-out phantoms. One configuration serves both `raunet demo` (evaluate) and `raunet demo --train`
 * (reproduce the bundled models), so that the test phantoms always match what the models were trained on.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../errors.ts';
import { boxRecall } from '../metrics/box.ts';
import { aggregateCases, type Evaluation, evaluateCase } from '../metrics/lits.ts';
import { STAGES } from '../model/storage.ts';
import { OutputBatch, prepareOutputFolder, releaseOutputFolder } from '../output/safe-output.ts';
import { generatePhantom } from '../phantom/phantom.ts';
import { caseSeed, writePhantomSet } from '../phantom/set.ts';
import { previewOptionsOf, renderPreviewPng } from '../pipeline/preview.ts';
import { type LoadedModels, type SegmentOptions, segmentCt } from '../pipeline/segment.ts';
import { encodeNifti } from '../volume/nifti.ts';
import type { Vec3 } from '../volume/volume.ts';
import { runProcesses } from './processes.ts';
import type { TrainStage } from './samplers.ts';
import { type FoldResult, trainStage } from './train-stage.ts';

export interface DemoStageConfig {
  patch: number[];
  width: number;
  folds: number;
  epochs: number;
  stepsPerEpoch: number;
  batchSize: number;
  perCase?: number;
  /** Epochs without validation improvement before the learning rate is cut x0.1. */
  plateauPatience?: number;
}

/** Network size and schedule shared by the two 3D stages of the demo. */
const SCHEDULE_3D = {
  patch: [64, 64, 32],
  width: 0.125,
  folds: 1,
  epochs: 40,
  stepsPerEpoch: 20,
  batchSize: 2,
  plateauPatience: 8,
};

/**
 * The demo's phantoms and networks. Phantoms are 128x128x96 voxels of 2.5 mm (a small abdomen: 320 mm
 * across, 240 mm long); networks are RA-UNets at 1/8 of the paper's width, on 64x64 slices (stage 1:
 * only a coarse box is needed), 64x64x32 windows of the liver box resized in-plane (stage 2) and
 * 64x64x32 native-resolution patches (stage 3). At 3.5x3.5x4 mm the tumors were 2-5 voxels in radius and
 * 0.26% of a tumor patch: the tumor network reached validation Dice 0.2 after 7 epochs, against 0.36 at
 * 2.5 mm (0.42% of a patch; 0.60 after 10 epochs). No input side is 32 in all three axes: there the
 * network's bottleneck is one voxel, batch normalisation of a single value is degenerate (its variance
 * is 0) and inference-mode outputs diverge from training.
 */
export const DEMO = {
  dims: [128, 128, 96] as Vec3,
  spacing: [2.5, 2.5, 2.5] as Vec3,
  /** Training phantoms: `writePhantomSet(dir, trainCases, trainSeed, { tumors: trainTumors })`. */
  trainSeed: 1,
  trainCases: 30,
  /** Tumors per training phantom: every case has some, for more tumor voxels to learn from. */
  trainTumors: 4,
  /** Held-out phantoms: case k has seed `caseSeed(testSeed, k)`, never a training seed (tested). */
  testSeed: 7_000_001,
  testCases: 3,
  /** Tumor count of held-out phantom k (so every test case has tumors to find). */
  testTumors: [2, 3, 1, 2, 3],
  seed: 1,
  note:
    'Demonstration model: a reduced-width RA-UNet trained on synthetic phantoms by `raunet demo --train`. ' +
    'For trying the pipeline on phantoms only; not trained on, nor valid for, clinical CT scans.',
  stages: {
    localize: {
      patch: [64, 64],
      width: 0.125,
      folds: 1,
      epochs: 60,
      stepsPerEpoch: 15,
      batchSize: 8,
      perCase: 24,
      plateauPatience: 8,
    },
    liver: { ...SCHEDULE_3D, perCase: 4 },
    // the paper's 50 epochs: the tumor network was still improving at epoch 34 of 40
    tumor: { ...SCHEDULE_3D, epochs: 50, perCase: 8 },
  } satisfies Record<TrainStage, DemoStageConfig>,
} as const;

export interface DemoTrainOptions {
  /** Where the phantoms are written (a scratch folder; phantoms already written there are reused). */
  work: string;
  /** Models root to write (`models/demo` in the repository). */
  out: string;
  resume?: boolean;
  signal?: AbortSignal;
  log?: (line: string) => void;
  /** Scale the epoch counts (tests use tiny runs); default 1. */
  epochScale?: number;
  /** Train only these stages (default all three, in pipeline order). */
  stages?: readonly TrainStage[];
  /**
   * Train up to this many stages at once, each in a child process running `cli` (the stages are
   * independent: each learns from ground truth). Default 1: one after the other in this process.
   */
  jobs?: number;
  /** The `raunet` launcher the child processes run (`bin/raunet.js`); needed when jobs > 1. */
  cli?: string;
  /** tfjs backend name passed to the child processes. */
  backend?: string;
}

/** The training phantoms' folder under `work`. */
export function demoPhantomDir(work: string): string {
  return join(work, 'phantoms');
}

/**
 * Write the demo's training phantoms to `dir`, unless a complete set with the same parameters is
 * already there (`phantoms.json` is written after the last case).
 */
export async function prepareDemoPhantoms(
  dir: string,
  log: (line: string) => void = () => {},
): Promise<void> {
  const want = {
    seed: DEMO.trainSeed,
    start: 0,
    count: DEMO.trainCases,
    dims: [...DEMO.dims],
    spacing: [...DEMO.spacing],
    tumors: DEMO.trainTumors,
  };
  try {
    const have = JSON.parse(await readFile(join(dir, 'phantoms.json'), 'utf8')) as Record<string, unknown>;
    if (Object.entries(want).every(([k, v]) => JSON.stringify(have[k]) === JSON.stringify(v))) {
      log(`using the ${DEMO.trainCases} training phantoms already in ${dir}`);
      return;
    }
  } catch {
    // no (readable) set there yet
  }
  log(`writing ${DEMO.trainCases} training phantoms to ${dir}`);
  await writePhantomSet(dir, DEMO.trainCases, DEMO.trainSeed, {
    dims: DEMO.dims,
    spacing: DEMO.spacing,
    tumors: DEMO.trainTumors,
    overwrite: true, // our own scratch folder: a set left by an interrupted run is replaced
  });
}

/**
 * Reproduce the demo models: write the training phantoms, then train the stages, one after the other
 * in this process (resolves with each stage's fold results) or `jobs` at a time in child processes
 * (resolves with an empty record: the results are in the models folder).
 */
export async function trainDemoModels(
  opts: DemoTrainOptions,
): Promise<Partial<Record<TrainStage, FoldResult[]>>> {
  const log = opts.log ?? (() => {});
  const stages = opts.stages ?? STAGES;
  if (!opts.resume) {
    const trained = stages.filter((s) => existsSync(join(opts.out, s, 'fold-0', 'manifest.json')));
    if (trained.length > 0) {
      throw new InputError(
        `already holds trained demo models (${trained.join(', ')}); train into another folder ` +
          '(--models <dir>) or continue an interrupted run with --resume',
        'BAD_ARGUMENT',
        opts.out,
      );
    }
  }
  const data = demoPhantomDir(opts.work);
  await mkdir(data, { recursive: true });
  await prepareDemoPhantoms(data, log);
  const jobs = opts.jobs ?? 1;
  if (jobs > 1 && stages.length > 1) {
    if (!opts.cli) throw new Error('trainDemoModels: jobs > 1 needs the path of the raunet launcher (cli)');
    if (opts.epochScale !== undefined)
      throw new Error('trainDemoModels: epochScale needs jobs 1 (in-process)');
    const cli = opts.cli;
    log(`training ${stages.join(', ')} in ${Math.min(jobs, stages.length)} parallel processes`);
    await runProcesses(
      stages.map((stage) => ({
        label: stage,
        args: [
          cli,
          'demo',
          '--train',
          '--stage',
          stage,
          '--models',
          opts.out,
          '--work',
          opts.work,
          ...(opts.resume ? ['--resume'] : []),
          ...(opts.backend ? ['--backend', opts.backend] : []),
        ],
      })),
      { jobs, log, signal: opts.signal },
    );
    return {};
  }
  const results: Partial<Record<TrainStage, FoldResult[]>> = {};
  for (const stage of stages) {
    const c: DemoStageConfig = DEMO.stages[stage];
    results[stage] = await trainStage({
      data,
      stage,
      out: opts.out,
      // the demo keeps its own short schedule on top of the earlier defaults
      recipe: 'fast',
      folds: c.folds,
      epochs: Math.max(1, Math.round(c.epochs * (opts.epochScale ?? 1))),
      stepsPerEpoch: c.stepsPerEpoch,
      batchSize: c.batchSize,
      width: c.width,
      patch: [...c.patch],
      perCase: c.perCase,
      plateauPatience: c.plateauPatience,
      seed: DEMO.seed,
      resume: opts.resume,
      note: DEMO.note,
      signal: opts.signal,
      log,
    });
    if (opts.signal?.aborted) break;
  }
  return results;
}

/**
 * Stages `demo --train` trains at once by default: one per core (tfjs's CPU backends use one core per
 * process), at most the three stages.
 */
export function defaultDemoJobs(): number {
  return Math.min(STAGES.length, availableParallelism());
}

/** Seed of held-out phantom k. */
export function heldOutSeed(k: number): number {
  return caseSeed(DEMO.testSeed, k);
}

export interface DemoRunOptions {
  models: LoadedModels;
  out: string;
  cases?: number;
  segment?: SegmentOptions;
  log?: (line: string) => void;
  /** Phantom grid (default the demo's; tests use smaller ones). */
  phantom?: { dims: Vec3; spacing: Vec3 };
}

/**
 * Segment the held-out phantoms, write each case's label map, ground truth, CT, report and preview to
 * `out`, and return the LiTS evaluation (the object `raunet evaluate --json` prints).
 */
export async function runDemo(opts: DemoRunOptions): Promise<Evaluation> {
  const log = opts.log ?? (() => {});
  const folder = await prepareOutputFolder(opts.out);
  try {
    return await segmentHeldOut(opts, log);
  } finally {
    await releaseOutputFolder(folder);
  }
}

async function segmentHeldOut(opts: DemoRunOptions, log: (line: string) => void): Promise<Evaluation> {
  const results = [];
  const n = opts.cases ?? DEMO.testCases;
  for (let k = 0; k < n; k++) {
    const seed = heldOutSeed(k);
    const name = `phantom-${k}`;
    const { ct, seg } = generatePhantom({
      seed,
      dims: opts.phantom?.dims ?? DEMO.dims,
      spacing: opts.phantom?.spacing ?? DEMO.spacing,
      tumors: DEMO.testTumors[k % DEMO.testTumors.length],
    });
    const t0 = Date.now();
    const res = await segmentCt(ct, opts.models, { ...opts.segment, name });
    // The demo's outputs replace those of an earlier demo run, each case's files together.
    const files: Array<[string, Uint8Array | string]> = [
      [`${name}_ct.nii.gz`, encodeNifti(ct, { gzip: true })],
      [`${name}_truth.nii.gz`, encodeNifti(seg, { gzip: true })],
      [`${name}_seg.nii.gz`, encodeNifti(res.labels, { gzip: true })],
      [`${name}_report.json`, `${JSON.stringify(res.report, null, 2)}\n`],
      [`${name}_preview.png`, renderPreviewPng(ct, res.labels, previewOptionsOf(res.report))],
    ];
    const batch = new OutputBatch({ overwrite: true });
    for (const [file, bytes] of files) await batch.write(join(opts.out, file), bytes);
    await batch.commit();
    const r = evaluateCase(res.labels, seg, name);
    results.push(r);
    // Stage 1's box bounds what stages 2 and 3 can find: say how much of the true liver it holds.
    const held = boxRecall(seg.data, seg.dims, res.report.localization?.voxels ?? null);
    log(
      `${name}: liver Dice ${r.liver.dice.toFixed(3)}, tumor Dice ${r.tumor.dice.toFixed(3)}, ` +
        `stage-1 box holds ${(100 * held).toFixed(1)}% of the liver (${((Date.now() - t0) / 1000).toFixed(1)} s)`,
    );
  }
  const evaluation = aggregateCases(results);
  const batch = new OutputBatch({ overwrite: true });
  await batch.write(join(opts.out, 'evaluation.json'), `${JSON.stringify(evaluation, null, 2)}\n`);
  await batch.commit();
  return evaluation;
}
