/**
 * `raunet segment <input...> [--models <dir>] [--out <dir>]`: the three-stage RA-UNet inference on NIfTI files,
 * DICOM folders or folders of them. Per case it writes `<name>_seg.nii.gz` (uint8 labels on the input grid),
 * `<name>_report.json`, `<name>_preview.png` and, with `--save-probabilities`, `<name>_prob_liver.nii.gz`
 * and `<name>_prob_tumor.nii.gz` (float32 on the stage regions). A failing case is reported and the others
 * continue; the exit code is non-zero if any failed.
 */
import { access, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { InputError, isInputError } from '../../errors.ts';
import { type CaseInput, expandInputs } from '../../pipeline/inputs.ts';
import {
  disposeModels,
  type LoadModelsOptions,
  loadModels,
  modelsTrainedWithoutMirroring,
} from '../../pipeline/models.ts';
import { renderPreviewPng } from '../../pipeline/preview.ts';
import {
  type LoadedModels,
  type SegmentOptions,
  STAGES,
  type StageName,
  segmentCt,
} from '../../pipeline/segment.ts';
import { noLiverFound } from '../../pipeline/stages.ts';
import type { BlendMode } from '../../pipeline/windows.ts';
import { writeFileAtomic, writeNifti } from '../../volume/nifti.ts';
import { readVolume } from '../../volume/read.ts';
import { BUNDLED_DEMO_MODELS } from '../paths.ts';
import { createProgress, type ProgressStream } from '../progress.ts';
import { viewHint } from '../view-hint.ts';

export interface SegmentCliOptions {
  models: string;
  out: string;
  engine?: 'onnx' | 'tfjs';
  threads?: number;
  folds?: number[];
  blend?: BlendMode;
  tta?: boolean;
  overlap?: number;
  threshold?: Partial<Record<StageName, number>>;
  batchSize?: Partial<Record<StageName, number>>;
  saveProbabilities?: boolean;
  overwrite?: boolean;
  quiet?: boolean;
}

export interface SegmentDeps {
  loadModels?: (src: string, opts: LoadModelsOptions) => Promise<LoadedModels>;
  stream?: ProgressStream;
}

export interface CaseOutcome {
  name: string;
  path: string;
  ok: boolean;
  reason?: string;
  outputs?: string[];
}

/** `0.4` (every stage) or `liver=0.5,tumor=0.4`. */
export function parseStageValues(spec: string, integer: boolean): Partial<Record<StageName, number>> {
  const num = (s: string) => {
    const v = Number(s);
    if (s.trim() === '' || !Number.isFinite(v) || (integer && !(Number.isInteger(v) && v >= 1))) {
      throw new InvalidArgumentError(`'${s}' is not ${integer ? 'a positive integer' : 'a number'}`);
    }
    return v;
  };
  if (!spec.includes('=')) {
    const v = num(spec);
    return { localize: v, liver: v, tumor: v };
  }
  const out: Partial<Record<StageName, number>> = {};
  for (const part of spec.split(',')) {
    const [k, v] = part.split('=');
    if (!STAGES.includes(k as StageName)) {
      throw new InvalidArgumentError(`unknown stage '${k}' (use ${STAGES.join(', ')})`);
    }
    out[k as StageName] = num(v ?? '');
  }
  return out;
}

export function parseFolds(spec: string): number[] {
  const folds = spec.split(',').map((s) => Number(s.trim()));
  if (folds.some((f) => !Number.isInteger(f) || f < 0))
    throw new InvalidArgumentError(`bad fold list '${spec}'`);
  return folds;
}

function parseOverlap(s: string): number {
  const v = Number(s);
  if (!(v >= 0 && v < 1)) throw new InvalidArgumentError('overlap must be in [0, 1)');
  return v;
}

function parsePositiveInt(s: string): number {
  const v = Number(s);
  if (!Number.isInteger(v) || v < 1) throw new InvalidArgumentError(`'${s}' is not a positive integer`);
  return v;
}

export function outputPaths(out: string, name: string, probabilities: boolean) {
  return {
    seg: join(out, `${name}_seg.nii.gz`),
    report: join(out, `${name}_report.json`),
    preview: join(out, `${name}_preview.png`),
    probLiver: probabilities ? join(out, `${name}_prob_liver.nii.gz`) : undefined,
    probTumor: probabilities ? join(out, `${name}_prob_tumor.nii.gz`) : undefined,
  };
}

async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}

async function segmentOne(
  c: CaseInput,
  models: LoadedModels,
  o: SegmentCliOptions,
  progress: ReturnType<typeof createProgress>,
): Promise<string[]> {
  const paths = outputPaths(o.out, c.name, Boolean(o.saveProbabilities));
  const targets = Object.values(paths).filter((p): p is string => Boolean(p));
  if (!o.overwrite) {
    const present = [];
    for (const p of targets) if (await exists(p)) present.push(p);
    if (present.length) {
      throw new InputError(
        `output exists (${present.join(', ')}); use --overwrite to replace it`,
        'BAD_ARGUMENT',
      );
    }
  }
  const ct = await readVolume(c.path);
  const opts: SegmentOptions = {
    name: c.name,
    thresholds: o.threshold,
    overlap: o.overlap,
    batchSizes: o.batchSize,
    blend: o.blend,
    tta: o.tta,
    saveProbabilities: o.saveProbabilities,
    onStage: (s) => {
      progress.finish();
      progress.start(`${c.name} ${s}`, 0);
    },
    onProgress: (_s, d, t) => progress.update(d, t),
  };
  const result = await segmentCt(ct, models, opts);
  progress.finish();
  // As in the cloud: a scan without liver is a failed case with its reason, nothing written.
  if (!result.report.localization) throw noLiverFound(c.path);
  const written = [paths.seg, paths.report, paths.preview];
  await writeNifti(paths.seg, result.labels);
  for (const [path, vol] of [
    [paths.probLiver, result.probabilities?.liver],
    [paths.probTumor, result.probabilities?.tumor],
  ] as const) {
    if (path && vol) {
      await writeNifti(path, vol);
      written.push(path);
    }
  }
  const report = { ...result.report, input: { ...result.report.input, path: c.path, kind: c.kind } };
  await writeFileAtomic(paths.report, new TextEncoder().encode(`${JSON.stringify(report, null, 2)}\n`));
  await writeFileAtomic(paths.preview, renderPreviewPng(ct, result.labels));
  const r = result.report;
  progress.log(
    `${c.name}: liver ${r.liver.volumeMl.toFixed(1)} mL, ${r.tumors.count} tumor(s) ${r.tumors.volumeMl.toFixed(1)} mL, ` +
      `${(r.timings.totalMs / 1000).toFixed(1)} s -> ${paths.seg}`,
  );
  return written;
}

/** Run the command; resolves to the per-case outcomes (the CLI turns any failure into a non-zero exit). */
export async function runSegment(
  inputs: string[],
  o: SegmentCliOptions,
  deps: SegmentDeps = {},
): Promise<CaseOutcome[]> {
  const progress = createProgress({ stream: deps.stream, quiet: o.quiet });
  const { cases, problems } = await expandInputs(inputs);
  const outcomes: CaseOutcome[] = problems.map((p) => ({
    name: p.path,
    path: p.path,
    ok: false,
    reason: p.reason,
  }));
  for (const p of problems) progress.log(`${p.path}: FAILED: ${p.reason}`);
  const seen = new Map<string, string>();
  await mkdir(o.out, { recursive: true });
  const models = await (deps.loadModels ?? loadModels)(o.models, {
    engine: o.engine,
    threads: o.threads,
    folds: o.folds,
  });
  const unmirrored = o.tta ? modelsTrainedWithoutMirroring(models) : [];
  if (unmirrored.length) {
    progress.log(
      `warning: --tta mirrors the inputs, but ${unmirrored.join(', ')} were not trained with mirroring ` +
        '(train --mirror); their predictions on mirrored inputs may be worse, not better',
    );
  }
  try {
    for (const c of cases) {
      const earlier = seen.get(c.name);
      if (earlier) {
        const reason = `its output name '${c.name}' is already used by ${earlier}`;
        outcomes.push({ name: c.name, path: c.path, ok: false, reason });
        progress.log(`${c.path}: FAILED: ${reason}`);
        continue;
      }
      seen.set(c.name, c.path);
      try {
        const outputs = await segmentOne(c, models, o, progress);
        outcomes.push({ name: c.name, path: c.path, ok: true, outputs });
      } catch (e) {
        progress.finish();
        const reason = isInputError(e) ? e.message : e instanceof Error ? e.message : String(e);
        outcomes.push({ name: c.name, path: c.path, ok: false, reason });
        progress.log(`${c.path}: FAILED: ${reason}`);
      }
    }
  } finally {
    await disposeModels(models);
  }
  return outcomes;
}

export function register(program: Command): void {
  program
    .command('segment')
    .description(
      'segment the liver and liver tumors of CT volumes (NIfTI files, DICOM folders, or folders of them)',
    )
    .argument('<input...>', 'NIfTI file, DICOM folder, or a folder of them')
    .option(
      '--models <dir>',
      'model folder or s3://bucket/prefix (<stage>/fold-<k>/ for localize, liver, tumor); ' +
        'default: the bundled demo models (phantom-trained, not for clinical scans)',
    )
    .option('--out <dir>', 'output folder', './segment-out')
    .addOption(
      new Option('--engine <kind>', 'inference engine (default: ONNX when model.onnx exists)').choices([
        'onnx',
        'tfjs',
      ]),
    )
    .option('--threads <n>', 'CPU threads for the engine', parsePositiveInt)
    .option('--folds <list>', 'fold models to use, e.g. 0,2 (default: all)', parseFolds)
    .addOption(
      new Option('--blend <mode>', 'blending of overlapping windows')
        .choices(['gaussian', 'mean'])
        .default('gaussian'),
    )
    .option('--tta', 'test-time mirroring along x, y and z', false)
    .option('--overlap <f>', 'overlap of neighbouring windows, 0 <= f < 1', parseOverlap, 0.5)
    .option('--threshold <spec>', 'probability threshold: 0.5, or per stage: liver=0.5,tumor=0.4', (s) =>
      parseStageValues(s, false),
    )
    .option('--batch-size <spec>', 'batch size: N, or per stage: localize=8,liver=1,tumor=2', (s) =>
      parseStageValues(s, true),
    )
    .option('--save-probabilities', 'also write the liver and tumor probability maps', false)
    .option('--overwrite', 'replace existing outputs', false)
    .option('--quiet', 'no progress output', false)
    .action(async (inputs: string[], o: Omit<SegmentCliOptions, 'models'> & { models?: string }) => {
      if (o.models === undefined && !o.quiet) {
        process.stderr.write(
          `no --models: using the bundled demo models (${BUNDLED_DEMO_MODELS}), trained on synthetic ` +
            'phantoms for demonstration; not valid for clinical scans\n',
        );
      }
      const outcomes = await runSegment(inputs, { ...o, models: o.models ?? BUNDLED_DEMO_MODELS });
      const failed = outcomes.filter((x) => !x.ok);
      if (!o.quiet && failed.length < outcomes.length) process.stderr.write(`${viewHint(o.out)}\n`);
      if (failed.length) {
        const msg = `${failed.length} of ${outcomes.length} input(s) failed: ${failed.map((f) => f.path).join(', ')}`;
        const e = new Error(msg);
        e.stack = msg;
        throw e;
      }
    });
}
