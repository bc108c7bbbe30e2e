/**
 * Publishing a trained model folder to a deployment (`raunet models publish`): a fresh deployment has no
 * promoted models, and the segmentation workflow needs all three stages.
 *
 * The folder's stage ensemble (`<dir>/<stage>/fold-<k>/` or `<dir>/fold-<k>/`) is checked first (every
 * fold has `model.json`, `weights.bin` and a valid `manifest.json` whose stage and architecture are the
 * stage's), then uploaded as a new run, `runs/<runId>/<stage>/fold-<k>/`, under a new run id (nothing
 * stored is overwritten: a prefix that holds anything is refused), each fold's manifest last. The run's
 * `metrics.json` (the ensemble evaluation's format: the mean of the folds' validation Dice) is written
 * and the run is registered and promoted by `registerEnsemble`, the training workflow's own Register
 * step: it becomes the stage's current ensemble when its Dice beats the current one's.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { InputError } from '../errors.ts';
import { ARCHS } from '../model/archs.ts';
import {
  MANIFEST_JSON,
  MODEL_JSON,
  type ModelManifest,
  parseManifest,
  WEIGHTS_BIN,
} from '../model/storage.ts';
import { listFolds } from '../pipeline/models.ts';
import type { EnsembleMetrics, RegisteredStage } from './events.ts';
import { newRunId } from './identity.ts';
import { RUNS_PREFIX, s3Uri } from './layout.ts';
import type { ModelRegistry } from './model-registry.ts';
import { listKeys, putJson, putObjectBytes } from './object-store.ts';
import { RUN_CURVES } from './run-curves.ts';
import { registerEnsemble } from './training.ts';

/** The variant name a published run is registered under. */
export const PUBLISHED_VARIANT = 'published';

/** The network dimensionality of each stage: a 2D network localizes, 3D ones segment. */
const STAGE_DIMS: Record<RegisteredStage, number> = { localize: 2, liver: 3, tumor: 3, brats: 3 };

export interface PublishDeps {
  s3: S3Client;
  registry: ModelRegistry;
  modelsBucket: string;
  now?: () => Date;
  random?: () => number;
}

export interface CheckedFold {
  fold: number;
  dir: string;
  manifest: ModelManifest;
  /** File names in the fold folder to upload (manifest.json last). */
  files: string[];
}

const isDir = (p: string) =>
  stat(p).then(
    (s) => s.isDirectory(),
    () => false,
  );

/** The stage's fold folders under `dir`, each checked; an InputError names the first problem. */
export async function checkModelFolder(dir: string, stage: RegisteredStage): Promise<CheckedFold[]> {
  if (!(await isDir(dir))) throw new InputError('is not a folder', 'NOT_FOUND', dir);
  const stageDir = (await isDir(path.join(dir, stage))) ? path.join(dir, stage) : dir;
  const folds = await listFolds(stageDir);
  if (folds.length === 0) {
    throw new InputError(`holds no ${stage}/fold-<k>/ (or fold-<k>/) model folders`, 'NOT_FOUND', dir);
  }
  const out: CheckedFold[] = [];
  for (const { fold, dir: foldDir } of folds) {
    const names = (await readdir(foldDir, { withFileTypes: true }))
      .filter((e) => e.isFile())
      .map((e) => e.name);
    for (const need of [MODEL_JSON, WEIGHTS_BIN, MANIFEST_JSON]) {
      if (!names.includes(need)) throw new InputError(`missing ${need}`, 'NOT_FOUND', foldDir);
    }
    const where = path.join(foldDir, MANIFEST_JSON);
    let raw: unknown;
    try {
      raw = JSON.parse(await readFile(where, 'utf8'));
    } catch {
      throw new InputError('is not valid JSON', 'BAD_HEADER', where);
    }
    const manifest = parseManifest(raw, where);
    if (manifest.stage !== stage) {
      throw new InputError(
        `is a ${manifest.stage ?? 'stage-less'} model, not ${stage} (manifest stage)`,
        'BAD_ARGUMENT',
        where,
      );
    }
    if (ARCHS[manifest.arch].dims !== STAGE_DIMS[stage]) {
      throw new InputError(
        `arch ${manifest.arch} is ${ARCHS[manifest.arch].dims}D; stage ${stage} runs a ${STAGE_DIMS[stage]}D network`,
        'BAD_ARGUMENT',
        where,
      );
    }
    const files = names.filter((n) => n !== MANIFEST_JSON && !n.endsWith('.tmp')).sort();
    out.push({ fold, dir: foldDir, manifest, files: [...files, MANIFEST_JSON] });
  }
  return out;
}

/** The folds' validation Dice (0 for a fold whose manifest has none: never validated). */
const foldDice = (f: CheckedFold) => {
  const d = f.manifest.metrics?.valDice;
  return typeof d === 'number' && d >= 0 && d <= 1 ? d : 0;
};

export interface PublishResult {
  runId: string;
  stage: RegisteredStage;
  models: string;
  folds: number;
  valDice: number;
  promoted: boolean;
}

/** Check, upload, register and (when it beats the current ensemble) promote one stage's models. */
export async function publishModels(
  deps: PublishDeps,
  opts: { stage: RegisteredStage; dir: string; log?: (line: string) => void },
): Promise<PublishResult> {
  const folds = await checkModelFolder(opts.dir, opts.stage);
  const runId = newRunId(deps.now?.() ?? new Date(), deps.random);
  const prefix = `${RUNS_PREFIX}${runId}/`;
  if ((await listKeys(deps.s3, deps.modelsBucket, prefix)).length > 0) {
    throw new Error(`s3://${deps.modelsBucket}/${prefix} already holds objects; nothing was published`);
  }
  const models = s3Uri(deps.modelsBucket, prefix);
  for (const f of folds) {
    for (const name of f.files) {
      const type = name.endsWith('.json') ? 'application/json' : 'application/octet-stream';
      await putObjectBytes(
        deps.s3,
        `${models}${opts.stage}/fold-${f.fold}/${name}`,
        await readFile(path.join(f.dir, name)),
        type,
      );
    }
    opts.log?.(`uploaded ${opts.stage}/fold-${f.fold} (${f.files.length} files)`);
  }
  // The run's curves (`raunet train` draws them beside the fold folders), with the models.
  const stageDir = (await isDir(path.join(opts.dir, opts.stage)))
    ? path.join(opts.dir, opts.stage)
    : opts.dir;
  if (existsSync(path.join(stageDir, RUN_CURVES))) {
    await putObjectBytes(
      deps.s3,
      `${models}${opts.stage}/${RUN_CURVES}`,
      await readFile(path.join(stageDir, RUN_CURVES)),
      'image/png',
    );
  }
  const perFold = folds.map(foldDice);
  const metrics: EnsembleMetrics = {
    runId,
    stage: opts.stage,
    variant: PUBLISHED_VARIANT,
    models,
    valDice: perFold.reduce((a, b) => a + b, 0) / perFold.length,
    perFold,
  };
  const metricsUri = `${models}metrics.json`;
  await putJson(deps.s3, metricsUri, metrics);
  const registered = await registerEnsemble(deps, { runId, stage: opts.stage, metrics: metricsUri });
  return {
    runId,
    stage: opts.stage,
    models,
    folds: folds.length,
    valDice: registered.valDice,
    promoted: registered.promoted,
  };
}
