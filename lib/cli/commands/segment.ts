/**
 * `raunet segment <input...> [--models <dir>] [--out <dir>]`: the three-stage RA-UNet inference on NIfTI files,
 * DICOM folders or folders of them. Per case it writes `<name>_seg.nii.gz` (uint8 labels on the input grid),
 * `<name>_report.json`, `<name>_preview.png` and, with `--save-probabilities`, `<name>_prob_liver.nii.gz`
 * and `<name>_prob_tumor.nii.gz` (float32 on the stage regions). A failing case is reported and the others
 * continue; the exit code is non-zero if any failed.
 */
import { join } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { runBratsSegment } from '../../brats/segment-files.ts';
import { parseBratsNormalisation } from '../../brats/segment-input.ts';
import { CommandFailed, describeFailure, InputError } from '../../errors.ts';
import {
  checkOutputTargets,
  lockCase,
  OutputBatch,
  prepareOutputFolder,
  releaseOutputFolder,
} from '../../output/safe-output.ts';
import { checkInput } from '../../pipeline/input-checks.ts';
import { type CaseInput, expandInputs } from '../../pipeline/inputs.ts';
import {
  disposeModels,
  type LoadModelsOptions,
  loadModels,
  modelsTrainedWithoutMirroring,
} from '../../pipeline/models.ts';
import { previewOptionsOf, renderPreviewPng } from '../../pipeline/preview.ts';
import { readAhead } from '../../pipeline/read-ahead.ts';
import {
  type LoadedModels,
  manifestPatch,
  type SegmentOptions,
  STAGES,
  type StageName,
  segmentCt,
} from '../../pipeline/segment.ts';
import { noLiverFound } from '../../pipeline/stages.ts';
import type { BlendMode } from '../../pipeline/windows.ts';
import { encodeVolumeFiles } from '../../volume/write-formats.ts';
import { type CaseRead, type InputReader, openedInput, readCaseInput } from '../case-reads.ts';
import {
  checkInputsForFormat,
  OUTPUT_FORMATS,
  type OutputFormat,
  requireDicomSource,
  segmentationOutputFiles,
  volumeSuffix,
  writesDicomSeg,
} from '../interop-outputs.ts';
import { BUNDLED_DEMO_BRAIN_MODELS, BUNDLED_DEMO_MODELS } from '../paths.ts';
import { createProgress, type ProgressStream } from '../progress.ts';
import { segmentViewHint } from '../view-hint.ts';

export interface SegmentCliOptions {
  models: string;
  out: string;
  engine?: 'onnx' | 'tfjs';
  threads?: number;
  folds?: number[];
  blend?: BlendMode;
  tta?: boolean;
  overlap?: number;
  /**
   * Stages 2 and 3: the fewest evenly placed windows overlapping by at least this fraction, instead of
   * `overlap`'s fixed step (opt-in approximation, docs/inference.md).
   */
  minOverlap?: number;
  threshold?: Partial<Record<StageName, number>>;
  batchSize?: Partial<Record<StageName, number>>;
  saveProbabilities?: boolean;
  overwrite?: boolean;
  quiet?: boolean;
  /** Segment every DICOM series of nested study/series folders (else such a folder is refused). */
  allSeries?: boolean;
  /**
   * Label map as NIfTI (default), NRRD or MetaImage (probability maps too), as DICOM SEG (DICOM input
   * only), or both NIfTI and DICOM SEG.
   */
  format?: OutputFormat;
  /**
   * Read the next case while the current one is segmented (default true; not a CLI flag: false gives the
   * sequential reads, for measuring the difference).
   */
  readAhead?: boolean;
}

export interface SegmentDeps {
  loadModels?: (src: string, opts: LoadModelsOptions) => Promise<LoadedModels>;
  stream?: ProgressStream;
  /** Reads a case's input (default `readVolumeWithInfo`). */
  readInput?: InputReader;
}

export interface CaseOutcome {
  name: string;
  path: string;
  ok: boolean;
  reason?: string;
  /** The failure was bad input (the file, its name or the outputs in the way), not a crash. */
  badInput?: boolean;
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

/** A window overlap fraction, 0 <= f < 1 (`--overlap`, `--min-overlap`). */
export function parseOverlap(s: string): number {
  const v = Number(s);
  if (s.trim() === '' || !(v >= 0 && v < 1))
    throw new InvalidArgumentError(`'${s}' is not a fraction in [0, 1)`);
  return v;
}

function parsePositiveInt(s: string): number {
  const v = Number(s);
  if (!Number.isInteger(v) || v < 1) throw new InvalidArgumentError(`'${s}' is not a positive integer`);
  return v;
}

export function outputPaths(
  out: string,
  name: string,
  probabilities: boolean,
  format: OutputFormat = 'nifti',
) {
  const suffix = volumeSuffix(format);
  return {
    seg: format === 'dicom-seg' ? undefined : join(out, `${name}_seg${suffix}`),
    dicomSeg: writesDicomSeg(format) ? join(out, `${name}_seg.dcm`) : undefined,
    colorTable: format === 'dicom-seg' ? undefined : join(out, `${name}_seg.ctbl`),
    labelTable: format === 'dicom-seg' ? undefined : join(out, `${name}_seg.labels.txt`),
    report: join(out, `${name}_report.json`),
    preview: join(out, `${name}_preview.png`),
    probLiver: probabilities ? join(out, `${name}_prob_liver${suffix}`) : undefined,
    probTumor: probabilities ? join(out, `${name}_prob_tumor${suffix}`) : undefined,
  };
}

/**
 * One case, all or nothing: under the case's lock, its outputs are checked (never over an input, nor
 * over existing files without --overwrite), written under temporary names and moved into place together.
 */
async function segmentOne(
  c: CaseInput,
  input: Promise<CaseRead>,
  models: LoadedModels,
  o: SegmentCliOptions,
  progress: ReturnType<typeof createProgress>,
  inputs: readonly string[],
): Promise<string[]> {
  const lock = await lockCase(o.out, c.name);
  try {
    return await segmentLocked(c, input, models, o, progress, inputs);
  } finally {
    await lock.release();
  }
}

async function segmentLocked(
  c: CaseInput,
  input: Promise<CaseRead>,
  models: LoadedModels,
  o: SegmentCliOptions,
  progress: ReturnType<typeof createProgress>,
  inputs: readonly string[],
): Promise<string[]> {
  const paths = outputPaths(o.out, c.name, Boolean(o.saveProbabilities), o.format);
  const targets = Object.values(paths).filter((p): p is string => Boolean(p));
  await checkOutputTargets(targets, { overwrite: o.overwrite, inputs });
  // The read may have run ahead, during the previous case: its warnings and failure show up only now.
  const { volume: ct, dicom } = openedInput(await input, (line) => progress.log(line));
  if (paths.dicomSeg) requireDicomSource(c.path, dicom);
  // Before stage 1: refuse what the models cannot apply to, warn about what is doubtful.
  const checks = checkInput(ct, {
    modality: ct.modality,
    patchSlices: manifestPatch(models.liver, 'liver')[2],
  });
  if (checks.refusal) throw new InputError(checks.refusal.message, 'NOT_CT', c.path);
  for (const f of checks.flags) progress.log(`warning: ${c.path}: ${f.message}`);
  const opts: SegmentOptions = {
    inputFlags: checks.flags,
    name: c.name,
    thresholds: o.threshold,
    overlap: o.overlap,
    minOverlap: o.minOverlap,
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
  // As in the cloud: a scan without liver (stage 1 found none, or stages 2-3 left none) is a failed case
  // with its reason, nothing written.
  if (result.report.liver.voxels === 0) throw noLiverFound(c.path);
  for (const f of result.report.flags.slice(checks.flags.length))
    progress.log(`warning: ${c.path}: ${f.message}`);
  const report = { ...result.report, input: { ...result.report.input, path: c.path, kind: c.kind } };
  const files: Array<[string, Uint8Array | string]> = segmentationOutputFiles(
    paths,
    result.labels,
    dicom,
    (w) => progress.log(w),
  );
  for (const [path, vol] of [
    [paths.probLiver, result.probabilities?.liver],
    [paths.probTumor, result.probabilities?.tumor],
  ] as const) {
    if (path && vol) files.push(...encodeVolumeFiles(path, vol));
  }
  files.push([paths.report, `${JSON.stringify(report, null, 2)}\n`]);
  files.push([paths.preview, renderPreviewPng(ct, result.labels, previewOptionsOf(report))]);
  const batch = new OutputBatch({ overwrite: o.overwrite });
  for (const [path, bytes] of files) await batch.write(path, bytes);
  const written = await batch.commit();
  const r = result.report;
  progress.log(
    `${c.name}: liver ${r.liver.volumeMl.toFixed(1)} mL, ${r.tumors.count} tumor(s) ${r.tumors.volumeMl.toFixed(1)} mL, ` +
      `${(r.timings.totalMs / 1000).toFixed(1)} s -> ${paths.seg ?? paths.dicomSeg}`,
  );
  return written;
}

/** One value of a `--threshold` / `--batch-size` spec for the brain task (one network: no per-stage values). */
function singleValue(name: string, v: Partial<Record<StageName, number>> | undefined): number | undefined {
  if (v === undefined) return undefined;
  const values = new Set(STAGES.map((s) => v[s]));
  if (values.size !== 1 || values.has(undefined)) {
    throw new InputError(
      `${name} for --task brats is one number (one network), not per stage`,
      'BAD_ARGUMENT',
    );
  }
  return [...values][0];
}

/** Flags of the liver pipeline that mean nothing for the brain task. */
const LIVER_ONLY = ['saveProbabilities', 'allSeries', 'minOverlap'] as const;

/**
 * `segment --task brats <subject-dir...>`: BraTS subject folders (`lib/brats/segment-files.ts`); options as
 * the liver task's where they apply, plus `--largest-component` and `--normalisation`.
 */
async function segmentBratsCommand(
  inputs: string[],
  o: Omit<SegmentCliOptions, 'models'> & {
    models?: string;
    largestComponent?: boolean;
    normalisation?: string;
  },
): Promise<void> {
  for (const k of LIVER_ONLY)
    if (o[k])
      throw new InputError(
        `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} is not for --task brats`,
        'BAD_ARGUMENT',
      );
  if (o.format && o.format !== 'nifti')
    throw new InputError('--task brats writes NIfTI label maps only', 'BAD_ARGUMENT');
  const progress = createProgress({ quiet: o.quiet });
  if (o.models === undefined && !o.quiet) {
    process.stderr.write(
      `no --models: using the bundled demo brain model (${BUNDLED_DEMO_BRAIN_MODELS}), trained on synthetic ` +
        'brain phantoms for demonstration; not valid for clinical MRI\n',
    );
  }
  const outcomes = await runBratsSegment(inputs, {
    models: o.models ?? BUNDLED_DEMO_BRAIN_MODELS,
    out: o.out,
    engine: o.engine,
    threads: o.threads,
    folds: o.folds,
    tta: o.tta,
    overlap: o.overlap,
    blend: o.blend,
    threshold: singleValue('--threshold', o.threshold),
    batchSize: singleValue('--batch-size', o.batchSize),
    largestComponent: o.largestComponent,
    normalisation: o.normalisation === undefined ? undefined : parseBratsNormalisation(o.normalisation),
    overwrite: o.overwrite,
    // failures are printed even with --quiet: the exit code alone does not say which subject failed or why
    log: (line) => {
      if (!o.quiet) progress.log(line);
      else if (line.includes(': FAILED: ')) process.stderr.write(`${line}\n`);
    },
  });
  const failed = outcomes.filter((x) => !x.ok);
  if (failed.length) {
    throw new CommandFailed(
      `${failed.length} of ${outcomes.length} subject(s) failed: ${failed.map((f) => f.path).join(', ')}`,
      failed.every((f) => f.badInput) ? 2 : 1,
    );
  }
}

/** Run the command; resolves to the per-case outcomes (the CLI turns any failure into a non-zero exit). */
export async function runSegment(
  inputs: string[],
  o: SegmentCliOptions,
  deps: SegmentDeps = {},
): Promise<CaseOutcome[]> {
  const progress = createProgress({ stream: deps.stream, quiet: o.quiet });
  // Failures are printed even with --quiet: the exit code alone does not say which input failed or why.
  const failed = (path: string, reason: string) => {
    progress.finish();
    // Input errors already begin with the file's name: say it once.
    const why = reason.startsWith(`${path}: `) ? reason.slice(path.length + 2) : reason;
    if (o.quiet) (deps.stream ?? process.stderr).write(`${path}: FAILED: ${why}\n`);
    else progress.log(`${path}: FAILED: ${why}`);
  };
  const { cases, problems, skipped } = await expandInputs(inputs, { allSeries: o.allSeries });
  for (const x of skipped) progress.log(`note: ${x.path}: skipped, ${x.reason}`);
  const outcomes: CaseOutcome[] = problems.map((p) => ({
    name: p.path,
    path: p.path,
    ok: false,
    reason: p.reason,
    badInput: true,
  }));
  for (const p of problems) failed(p.path, p.reason);
  checkInputsForFormat(cases, o.format);
  const seen = new Map<string, string>();
  const folder = await prepareOutputFolder(o.out);
  try {
    await segmentCases(cases, o, deps, progress, outcomes, seen, failed);
  } finally {
    await releaseOutputFolder(folder);
  }
  return outcomes;
}

async function segmentCases(
  cases: CaseInput[],
  o: SegmentCliOptions,
  deps: SegmentDeps,
  progress: ReturnType<typeof createProgress>,
  outcomes: CaseOutcome[],
  seen: Map<string, string>,
  failed: (path: string, reason: string) => void,
): Promise<void> {
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
  const inputPaths = cases.map((c) => c.path);
  // A case whose output name an earlier case already uses is refused without being read.
  const usedBy = cases.map((c) => {
    const earlier = seen.get(c.name);
    if (!earlier) seen.set(c.name, c.path);
    return earlier;
  });
  // While a case runs its passes, the next one is read and decoded (one ahead: at most two inputs held).
  const reads = readAhead(cases.length, (i) => readCaseInput(cases[i].path, deps.readInput), {
    skip: (i) => usedBy[i] !== undefined,
    enabled: o.readAhead ?? true,
  });
  try {
    for (const [i, c] of cases.entries()) {
      const earlier = usedBy[i];
      if (earlier) {
        const reason = `its output name '${c.name}' is already used by ${earlier}`;
        outcomes.push({ name: c.name, path: c.path, ok: false, reason, badInput: true });
        failed(c.path, reason);
        continue;
      }
      try {
        const outputs = await segmentOne(c, reads.take(i), models, o, progress, inputPaths);
        outcomes.push({ name: c.name, path: c.path, ok: true, outputs });
      } catch (e) {
        const { line, exitCode } = describeFailure(e);
        const reason = line.split('\n')[0] ?? line; // a crash's stack stays out of the per-case line
        outcomes.push({ name: c.name, path: c.path, ok: false, reason, badInput: exitCode === 2 });
        failed(c.path, reason);
      }
    }
  } finally {
    await disposeModels(models);
  }
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
    .option(
      '--min-overlap <f>',
      'stages 2-3: fewest evenly placed windows overlapping by at least f (0 <= f < 1) instead of --overlap; ' +
        'fewer passes, an approximation (docs/inference.md)',
      parseOverlap,
    )
    .option('--threshold <spec>', 'probability threshold: 0.5, or per stage: liver=0.5,tumor=0.4', (s) =>
      parseStageValues(s, false),
    )
    .option('--batch-size <spec>', 'batch size: N, or per stage: localize=8,liver=1,tumor=2', (s) =>
      parseStageValues(s, true),
    )
    .option(
      '--task <task>',
      'liver (CT, the three stages) or brats (BraTS subject folders: whole brain tumour)',
      'liver',
    )
    .option(
      '--largest-component',
      'brats: keep only the largest connected component (off: tumours can be multifocal)',
    )
    .option(
      '--normalisation <mode>',
      "brats: minmax or zscore, as the models' manifests record (default: theirs; another is refused)",
    )
    .option('--save-probabilities', 'also write the liver and tumor probability maps', false)
    .option('--all-series', 'segment every DICOM series found in nested study/series folders', false)
    .addOption(
      new Option(
        '--format <kind>',
        'label map output: NIfTI, NRRD or MetaImage (probability maps too), DICOM SEG (DICOM input only), ' +
          'or both NIfTI and DICOM SEG',
      )
        .choices(OUTPUT_FORMATS)
        .default('nifti'),
    )
    .option('--overwrite', 'replace existing outputs', false)
    .option('--quiet', 'no progress output', false)
    .action(
      async (
        inputs: string[],
        o: Omit<SegmentCliOptions, 'models'> & {
          models?: string;
          task: string;
          largestComponent?: boolean;
          normalisation?: string;
        },
      ) => {
        if (o.task !== 'liver' && o.task !== 'brats') {
          throw new InputError(`--task must be liver or brats, got "${o.task}"`, 'BAD_ARGUMENT');
        }
        if (o.task === 'brats') return segmentBratsCommand(inputs, o);
        if (o.largestComponent || o.normalisation !== undefined) {
          throw new InputError(
            '--largest-component and --normalisation are for --task brats',
            'BAD_ARGUMENT',
          );
        }
        if (o.models === undefined && !o.quiet) {
          process.stderr.write(
            `no --models: using the bundled demo models (${BUNDLED_DEMO_MODELS}), trained on synthetic ` +
              'phantoms for demonstration; not valid for clinical scans\n',
          );
        }
        const outcomes = await runSegment(inputs, { ...o, models: o.models ?? BUNDLED_DEMO_MODELS });
        const failed = outcomes.filter((x) => !x.ok);
        if (!o.quiet && failed.length < outcomes.length)
          process.stderr.write(`${segmentViewHint(o.out, o.format)}\n`);
        if (failed.length) {
          // Exit 2 when every failure was bad input (the user can fix the inputs or options), 1 otherwise.
          throw new CommandFailed(
            `${failed.length} of ${outcomes.length} input(s) failed: ${failed.map((f) => f.path).join(', ')}`,
            failed.every((f) => f.badInput) ? 2 : 1,
          );
        }
      },
    );
}
