/**
 * The Batch stages: argument validation, S3 in/out and dispatch to the library. The container entrypoint
 * (`containers/batch-entrypoint.ts`) is `runBatchStage(process.argv.slice(2), ...)`.
 *
 * Command line: `<stage> --args '<json>'` where the JSON is the stage's arguments (see `events.ts`;
 * Step Functions passes them as the job's `args` parameter). Exit codes: 0 done, 1 application error,
 * 2 bad input (arguments or data), 3 GPU required but not in use.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import type { z } from 'zod';
import { unpackBratsSubjectZip } from '../brats/segment-zip.ts';
import { InputError, isInputError } from '../errors.ts';
import { type LoadedModel, manifestPatch, modelInfo, type StageName } from '../pipeline/segment.ts';
import { localizeLiver, noLiverFound, segmentLiver, segmentTumor } from '../pipeline/stages.ts';
import type { Box3 } from '../preprocess/crop.ts';
import { type Vec3, type Volume, withData } from '../volume/volume.ts';
import {
  evaluateEnsembleArgs,
  localizeArgs,
  parseEvent,
  type StageInfo,
  segmentBratsArgs,
  segmentLiverArgs,
  segmentTumorArgs,
  trainFoldArgs,
} from './events.ts';
import { checkpointDue, restoreFoldCheckpoint, saveFoldCheckpoint } from './fold-checkpoint.ts';
import { assertGpu, GpuUnavailableError } from './gpu-check.ts';
import { parseS3Uri, RESULT_FILES, STAGE_FILES } from './layout.ts';
import { logger, safeError } from './logger.ts';
import { getJson, getUriBytes, listKeys, putJson, putObjectBytes } from './object-store.ts';
import { storeRunCurves } from './run-curves.ts';
import { downloadTrainingData, type TrainingDataManifest } from './training-datasets.ts';
import type { VolumeCodec } from './volume-codec.ts';

export const BATCH_STAGE_ARGS = {
  localize: localizeArgs,
  'segment-liver': segmentLiverArgs,
  'segment-tumor': segmentTumorArgs,
  'segment-brats': segmentBratsArgs,
  'train-fold': trainFoldArgs,
  'evaluate-ensemble': evaluateEnsembleArgs,
} as const;
export type BatchStageName = keyof typeof BATCH_STAGE_ARGS;
export type StageArgs<S extends BatchStageName> = z.infer<(typeof BATCH_STAGE_ARGS)[S]>;

export const EXIT = { ok: 0, error: 1, badInput: 2, noGpu: 3 } as const;

/** Loads the ensemble of one stage from `<modelsRoot>/<stage>/fold-*` (engines, manifests, model ids). */
export type EngineLoader = (modelsRoot: string, stage: StageName) => Promise<LoadedModel[]>;

/**
 * The brain-tumour job's work on local folders (`lib/cloud/brats-batch.ts`): segment the subject in
 * `subjectDir` with the ensemble under `modelsRoot/brats/`, write the results into `outDir` as
 * `RESULT_FILES`; resolves to the engine backend that ran.
 */
export type BratsRunner = (
  subjectDir: string,
  modelsRoot: string,
  outDir: string,
) => Promise<{ backend: string }>;

/** The training library's entry points for the two training stages (local folders in, local folder out). */
export interface TrainingLibrary {
  /** Starts the fastest tfjs backend present (tfjs-node-gpu first) and resolves to its name. */
  startBackend(): Promise<string>;
  /**
   * Trains `args.fold` of the dataset in `dataDir` (LiTS layout; BraTS / MSD Task01 for `brats`), writing `<outDir>/<stage>/fold-<k>/`;
   * with `resume`, continues from what that folder holds (a restored checkpoint).
   */
  trainFold(
    args: StageArgs<'train-fold'>,
    manifest: unknown,
    outDir: string,
    dataDir?: string,
    options?: FoldTrainingOptions,
  ): Promise<void>;
  /** Scores each candidate ensemble (local folders with `<stage>/fold-*`); returns the metrics JSON to store. */
  evaluateEnsemble(
    args: StageArgs<'evaluate-ensemble'>,
    manifest: unknown,
    candidateDirs: string[],
  ): Promise<unknown>;
}

export interface FoldTrainingOptions {
  /** Continue from the fold folder's saved state (`trainStage`'s resume). */
  resume: boolean;
  /** Awaited after every epoch, once the fold folder is consistent on disk. */
  afterEpoch?: (epoch: number, foldDir: string) => Promise<void>;
}

export interface BatchContext {
  s3: S3Client;
  codec: VolumeCodec;
  loadEngines: EngineLoader;
  training?: TrainingLibrary;
  /** The brain-tumour job (absent in images without it). */
  brats?: BratsRunner;
  requireGpu: boolean;
  /** Scratch space (default: a new folder in the OS temp dir, removed afterwards). */
  workDir?: string;
}

/** `<stage> --args <json>` -> validated stage and arguments (InputError otherwise). */
export function parseBatchArgv(argv: readonly string[]): { stage: BatchStageName; args: unknown } {
  const [stage, flag, json, ...rest] = argv;
  if (!stage || !(stage in BATCH_STAGE_ARGS)) {
    throw new InputError(
      `unknown stage ${JSON.stringify(stage ?? '')}; expected one of ${Object.keys(BATCH_STAGE_ARGS).join(', ')}`,
    );
  }
  if (flag !== '--args' || json === undefined || rest.length > 0) {
    throw new InputError(`usage: ${stage} --args '<json>'`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new InputError(`${stage}: --args is not valid JSON`);
  }
  const s = stage as BatchStageName;
  return { stage: s, args: parseEvent(BATCH_STAGE_ARGS[s] as z.ZodType<unknown>, raw, `${stage} arguments`) };
}

/** Copy every object under an s3:// prefix into `dir`, keeping relative paths; returns the file count. */
export async function downloadPrefix(
  s3: S3Client,
  uri: string,
  dir: string,
  keep: (key: string) => boolean = () => true,
): Promise<number> {
  const { bucket, key: prefix } = parseS3Uri(uri.endsWith('/') ? uri : `${uri}/`);
  const keys = (await listKeys(s3, bucket, prefix)).filter(keep);
  for (const key of keys) {
    const rel = key.slice(prefix.length);
    if (!rel || rel.endsWith('/') || rel.split('/').includes('..')) continue;
    const dest = path.join(dir, rel);
    await mkdir(path.dirname(dest), { recursive: true });
    await writeFile(dest, await getUriBytes(s3, `s3://${bucket}/${key}`));
  }
  return keys.length;
}

async function engines(ctx: BatchContext, models: string, stage: StageName, dir: string) {
  const stageUri = `${models.endsWith('/') ? models : `${models}/`}${stage}/`;
  const root = path.join(dir, 'models');
  if ((await downloadPrefix(ctx.s3, stageUri, path.join(root, stage))) === 0) {
    throw new InputError(`no model files under ${stageUri}`, 'NOT_FOUND');
  }
  const loaded = await ctx.loadEngines(root, stage);
  if (loaded.length === 0) throw new InputError(`no fold-* models under ${stageUri}`, 'NOT_FOUND');
  try {
    if (ctx.requireGpu) for (const m of loaded) assertGpu(m.engine.backend);
  } catch (e) {
    await disposeAll(loaded);
    throw e;
  }
  logger.info('engines loaded', { stage, folds: loaded.length, backend: loaded[0].engine.backend });
  return loaded;
}

const disposeAll = (ens: readonly LoadedModel[]) => Promise.all(ens.map((m) => m.engine.dispose()));
const enginesOf = (ens: readonly LoadedModel[]) => ens.map((m) => m.engine);

/** What a stage ran with, for the report (`STAGE_FILES.info` under the stage's `out`). */
async function writeStageInfo(ctx: BatchContext, out: string, ens: readonly LoadedModel[], patch: number[]) {
  const { kind, backend } = ens[0].engine;
  const info: StageInfo = { engine: { kind, backend }, models: ens.map(modelInfo), patch };
  await putJson(ctx.s3, `${out}${STAGE_FILES.info}`, info);
}

/** The preprocessed (windowed, normalised) CT written by the window step: Float32 on the scan's grid. */
async function readCt(ctx: BatchContext, uri: string): Promise<Volume<Float32Array>> {
  const vol = ctx.codec.decodeNifti('preprocessed.nii.gz', await getUriBytes(ctx.s3, uri));
  if (!(vol.data instanceof Float32Array)) {
    throw new InputError(
      `preprocessed volume is ${vol.dtype}, expected float32`,
      'BAD_HEADER',
      'preprocessed.nii.gz',
    );
  }
  return vol as Volume<Float32Array>;
}

const RUNNERS: {
  [S in BatchStageName]: (ctx: BatchContext, args: StageArgs<S>, dir: string) => Promise<void>;
} = {
  async localize(ctx, args, dir) {
    const ct = await readCt(ctx, args.ct);
    const ens = await engines(ctx, args.models, 'localize', dir);
    try {
      const slice = manifestPatch(ens, 'localize') as [number, number];
      const { box, coarse } = await localizeLiver(ct, enginesOf(ens), { normalized: ct, slice });
      if (!box) throw noLiverFound();
      await putObjectBytes(
        ctx.s3,
        `${args.out}${STAGE_FILES.coarse}`,
        ctx.codec.encodeNifti(withData(ct, coarse, 'uint8')),
      );
      await putJson(ctx.s3, `${args.out}${STAGE_FILES.box}`, { box, dims: ct.dims });
      await writeStageInfo(ctx, args.out, ens, slice);
    } finally {
      await disposeAll(ens);
    }
  },
  async 'segment-liver'(ctx, args, dir) {
    const ct = await readCt(ctx, args.ct);
    const { box } = (await getJson(ctx.s3, args.box)) as { box: Box3 };
    const ens = await engines(ctx, args.models, 'liver', dir);
    try {
      const patch = manifestPatch(ens, 'liver') as Vec3;
      const liver = await segmentLiver(ct, box, enginesOf(ens), { normalized: ct, patch });
      await putObjectBytes(
        ctx.s3,
        `${args.out}${STAGE_FILES.liver}`,
        ctx.codec.encodeNifti(withData(ct, liver, 'uint8')),
      );
      await writeStageInfo(ctx, args.out, ens, patch);
    } finally {
      await disposeAll(ens);
    }
  },
  async 'segment-tumor'(ctx, args, dir) {
    const ct = await readCt(ctx, args.ct);
    const liver = ctx.codec.decodeNifti(STAGE_FILES.liver, await getUriBytes(ctx.s3, args.liver));
    const ens = await engines(ctx, args.models, 'tumor', dir);
    try {
      const patch = manifestPatch(ens, 'tumor') as Vec3;
      const tumor = await segmentTumor(ct, liver.data as Uint8Array, enginesOf(ens), {
        normalized: ct,
        patch,
      });
      await putObjectBytes(
        ctx.s3,
        `${args.out}${STAGE_FILES.tumor}`,
        ctx.codec.encodeNifti(withData(ct, tumor, 'uint8')),
      );
      await writeStageInfo(ctx, args.out, ens, patch);
    } finally {
      await disposeAll(ens);
    }
  },
  async 'segment-brats'(ctx, args, dir) {
    if (!ctx.brats) throw new Error('the brain-tumour segmentation is not available in this image');
    const { key } = parseS3Uri(args.subject);
    const subjectDir = path.join(dir, 'subject');
    await unpackBratsSubjectZip(
      await getUriBytes(ctx.s3, args.subject),
      path.posix.basename(key),
      subjectDir,
    );
    const stageUri = `${args.models.endsWith('/') ? args.models : `${args.models}/`}brats/`;
    const root = path.join(dir, 'models');
    if ((await downloadPrefix(ctx.s3, stageUri, path.join(root, 'brats'))) === 0) {
      throw new InputError(`no model files under ${stageUri}`, 'NOT_FOUND');
    }
    const out = path.join(dir, 'out');
    const { backend } = await ctx.brats(subjectDir, root, out);
    if (ctx.requireGpu) assertGpu(backend);
    // the label map last: a job lost mid-upload never leaves what looks like a finished result
    for (const name of [RESULT_FILES.report, RESULT_FILES.preview, RESULT_FILES.labels]) {
      await putObjectBytes(ctx.s3, `${args.out}${name}`, await readFile(path.join(out, name)));
    }
  },
  async 'train-fold'(ctx, args, dir) {
    const lib = requireTraining(ctx);
    const backend = await lib.startBackend();
    const runs = ctx.requireGpu ? assertGpu(backend) : backend;
    logger.info('training backend', { backend: runs });
    const manifest = (await getJson(ctx.s3, args.manifest)) as TrainingDataManifest;
    // LiTS pairs flat in one folder; the brain task's subjects with their folders below the dataset root.
    const data = path.join(dir, 'data');
    await downloadTrainingData(ctx.s3, manifest, data);
    const out = path.join(dir, 'out');
    const foldDir = path.join(out, args.stage, `fold-${args.fold}`);
    const ckpt = args.checkpoint;
    // A checkpoint of this run's fold exists when an earlier attempt was lost (Batch retried the job on
    // a new host): continue after its epoch.
    const restored = ckpt ? await restoreFoldCheckpoint(ctx.s3, ckpt.uri, foldDir) : null;
    logger.info('fold training', {
      runId: args.runId,
      fold: args.fold,
      attempt: process.env.AWS_BATCH_JOB_ATTEMPT,
      resumedAfterEpoch: restored?.epoch ?? null,
    });
    await lib.trainFold(args, manifest, out, data, {
      resume: restored !== null,
      afterEpoch:
        ckpt && ckpt.everyEpochs > 0
          ? async (epoch, at) => {
              if (checkpointDue(epoch, ckpt.everyEpochs))
                await saveFoldCheckpoint(ctx.s3, ckpt.uri, at, epoch);
            }
          : undefined,
    });
    await uploadDir(ctx.s3, foldDir, args.out);
  },
  async 'evaluate-ensemble'(ctx, args, dir) {
    const lib = requireTraining(ctx);
    const manifest = await getJson(ctx.s3, args.manifest);
    const dirs: string[] = [];
    for (const c of args.candidates) {
      // Only the folds' training states are needed to score an ensemble.
      const local = path.join(dir, 'candidates', c.variant);
      // Only the folds that succeeded (when the workflow says which): a failed fold's files never count.
      const keep = c.folds ? new Set(c.folds.map((f) => `/fold-${f}/train-state.json`)) : undefined;
      await downloadPrefix(ctx.s3, `${c.models}${args.stage}/`, path.join(local, args.stage), (k) =>
        keep ? [...keep].some((suffix) => k.endsWith(suffix)) : k.endsWith('/train-state.json'),
      );
      dirs.push(local);
    }
    await putJson(ctx.s3, args.out, await lib.evaluateEnsemble(args, manifest, dirs));
    // Each variant's run curves (its folds side by side) beside its fold folders; a plot that cannot be
    // drawn does not fail the run.
    for (const c of args.candidates) {
      const title = `${args.stage} ${args.runId} ${c.variant}`;
      await storeRunCurves(ctx.s3, `${c.models}${args.stage}/`, title, c.folds).catch((e: unknown) =>
        logger.warn('run curves not drawn', { variant: c.variant, error: String(e) }),
      );
    }
  },
};

function requireTraining(ctx: BatchContext): TrainingLibrary {
  if (!ctx.training) throw new Error('the training library is not available in this image');
  return ctx.training;
}

async function uploadDir(s3: S3Client, dir: string, uri: string): Promise<void> {
  const { readdir, readFile } = await import('node:fs/promises');
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  // manifest.json last: its presence marks a complete model (as saveModel writes it), so a job lost
  // mid-upload never leaves what looks like a trained fold.
  entries.sort((a, b) => Number(a.name === 'manifest.json') - Number(b.name === 'manifest.json'));
  for (const e of entries) {
    if (!e.isFile()) continue;
    const full = path.join(e.parentPath, e.name);
    const rel = path.relative(dir, full).split(path.sep).join('/');
    await putObjectBytes(s3, `${uri}${rel}`, await readFile(full));
  }
}

/** Run one stage; resolves to the process exit code (never throws). */
export async function runBatchStage(argv: readonly string[], ctx: BatchContext): Promise<number> {
  let stage: BatchStageName | undefined;
  const dir = ctx.workDir ?? (await mkdtemp(path.join(tmpdir(), 'raunet-batch-')));
  try {
    const parsed = parseBatchArgv(argv);
    stage = parsed.stage;
    const started = Date.now();
    logger.info('stage started', { stage, requireGpu: ctx.requireGpu });
    await (RUNNERS[stage] as (c: BatchContext, a: unknown, d: string) => Promise<void>)(
      ctx,
      parsed.args,
      dir,
    );
    logger.info('stage done', { stage, seconds: (Date.now() - started) / 1000 });
    return EXIT.ok;
  } catch (e) {
    logger.error('stage failed', { stage, ...safeError(e) });
    // stderr carries the full message for the job's log stream (operators only; it may name a file).
    process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
    if (e instanceof GpuUnavailableError) return EXIT.noGpu;
    if (isInputError(e)) return EXIT.badInput;
    return EXIT.error;
  } finally {
    if (!ctx.workDir) await rm(dir, { recursive: true, force: true });
  }
}
