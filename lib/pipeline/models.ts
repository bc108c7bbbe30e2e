/**
 * Loading the three stage ensembles from a model folder laid out as
 * `<models>/<stage>/fold-<k>/{model.json, weights.bin, manifest.json, model.onnx}`.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../errors.ts';
import { loadEngine } from '../inference/load.ts';
import { isS3Url } from '../model/storage.ts';
import { fetchS3Models } from './s3-models.ts';
import { type LoadedModel, type LoadedModels, STAGES, type StageName } from './segment.ts';

export interface LoadModelsOptions {
  engine?: 'onnx' | 'tfjs';
  threads?: number;
  /**
   * Fold subset (for example [0, 2]). It applies to every stage whose ensemble has more than one fold; a
   * stage with a single model (stage 1 usually) always uses it.
   */
  folds?: number[];
}

/** The `fold-<k>` folders of a stage folder, sorted by k. */
export async function listFolds(stageDir: string): Promise<Array<{ fold: number; dir: string }>> {
  let names: string[];
  try {
    names = await readdir(stageDir);
  } catch {
    return [];
  }
  const out: Array<{ fold: number; dir: string }> = [];
  for (const n of names) {
    const m = /^fold-(\d+)$/.exec(n);
    if (m && (await stat(join(stageDir, n))).isDirectory())
      out.push({ fold: Number(m[1]), dir: join(stageDir, n) });
  }
  return out.sort((a, b) => a.fold - b.fold);
}

/** Load every stage's ensemble from a model folder, local or `s3://bucket/prefix` (downloaded first). */
export async function loadModels(src: string, opts: LoadModelsOptions = {}): Promise<LoadedModels> {
  const root = isS3Url(src) ? await fetchS3Models(src) : src;
  const models = {} as LoadedModels;
  try {
    for (const stage of STAGES) models[stage] = await loadStage(root, stage, opts);
  } catch (e) {
    await disposeModels(models);
    throw e;
  }
  return models;
}

/** One stage's ensemble from `<root>/<stage>/fold-<k>/` (every fold, or `opts.folds`), ids `<stage>/fold-<k>`. */
export async function loadStage(
  root: string,
  stage: StageName,
  opts: LoadModelsOptions = {},
): Promise<LoadedModel[]> {
  let folds = await listFolds(join(root, stage));
  if (folds.length === 0) {
    throw new InputError(`no ${stage} model (expected ${stage}/fold-<k>/ folders)`, 'NOT_FOUND', root);
  }
  if (opts.folds && folds.length > 1) {
    const missing = opts.folds.filter((f) => !folds.some((x) => x.fold === f));
    if (missing.length) {
      throw new InputError(
        `${stage} has no fold ${missing.join(', ')} (has ${folds.map((f) => f.fold)})`,
        'NOT_FOUND',
        root,
      );
    }
    folds = folds.filter((f) => opts.folds!.includes(f.fold));
  }
  const out: LoadedModel[] = [];
  try {
    for (const f of folds) {
      const { engine, manifest } = await loadEngine(f.dir, { engine: opts.engine, threads: opts.threads });
      out.push({ engine, manifest, id: `${stage}/fold-${f.fold}` });
    }
  } catch (e) {
    await Promise.all(out.map((m) => m.engine.dispose()));
    throw e;
  }
  return out;
}

export async function disposeModels(models: Partial<LoadedModels>): Promise<void> {
  for (const s of STAGES) for (const m of models[s] ?? []) await m.engine.dispose();
}

/**
 * The models whose manifests do not say they were trained with random mirroring (`trainedOn.mirror`):
 * test-time mirroring (`--tta`) feeds them mirrored inputs they never saw during training, which can
 * hurt more than it helps (the demo models, trained without it: liver Dice 0.93 -> 0.84 with `--tta`).
 */
export function modelsTrainedWithoutMirroring(models: LoadedModels): string[] {
  return STAGES.flatMap((stage) => models[stage].filter((m) => m.manifest.trainedOn?.mirror !== true)).map(
    (m) => m.id,
  );
}
