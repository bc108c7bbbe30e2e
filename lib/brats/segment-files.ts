/**
 * `raunet segment --task brats`: BraTS subject folders in, per subject `<id>_seg.nii.gz` (uint8 whole
 * tumour 0/1 on the subject's grid), `<id>_report.json` and `<id>_preview.png` out, all or nothing per
 * subject (`lib/output/safe-output.ts`). The fold ensemble is `<models>/brats/fold-<k>/`, local or
 * `s3://`. A subject that fails (bad input) is reported and the others continue.
 */
import { join } from 'node:path';
import { describeFailure, InputError } from '../errors.ts';
import { loadEngine } from '../inference/load.ts';
import { isS3Url } from '../model/storage.ts';
import {
  checkOutputTargets,
  lockCase,
  OutputBatch,
  prepareOutputFolder,
  releaseOutputFolder,
} from '../output/safe-output.ts';
import { listFolds } from '../pipeline/models.ts';
import { fetchS3Models } from '../pipeline/s3-models.ts';
import type { BlendMode } from '../pipeline/windows.ts';
import { encodeNifti } from '../volume/nifti.ts';
import { createVolume } from '../volume/volume.ts';
import { renderBratsPreviewPng } from './preview.ts';
import { buildBratsReport } from './report.ts';
import { type BratsModel, segmentBrainTumour } from './segment.ts';
import { type BratsNormalisation, prepareBratsInput, resolveBratsNormalisation } from './segment-input.ts';
import { readBratsSubject } from './subject.ts';

export interface BratsSegmentRunOptions {
  models: string;
  out: string;
  engine?: 'onnx' | 'tfjs';
  threads?: number;
  folds?: number[];
  tta?: boolean;
  overlap?: number;
  blend?: BlendMode;
  threshold?: number;
  batchSize?: number;
  largestComponent?: boolean;
  /** Must agree with the models' manifests when given (default: theirs, `resolveBratsNormalisation`). */
  normalisation?: BratsNormalisation;
  overwrite?: boolean;
  log?: (line: string) => void;
}

export interface BratsSubjectOutcome {
  path: string;
  ok: boolean;
  reason?: string;
  /** The failure was bad input (exit 2), not a crash. */
  badInput?: boolean;
  outputs?: string[];
  /** Whole-tumour volume in mL (when ok). */
  tumourMl?: number;
}

/** The brats fold ensemble of a models folder (`<root>/brats/fold-<k>/`), local or s3://. */
export async function loadBratsModels(
  src: string,
  opts: { engine?: 'onnx' | 'tfjs'; threads?: number; folds?: number[] } = {},
): Promise<BratsModel[]> {
  const root = isS3Url(src) ? await fetchS3Models(src) : src;
  let folds = await listFolds(join(root, 'brats'));
  if (folds.length === 0)
    throw new InputError('no brats model (expected brats/fold-<k>/ folders)', 'NOT_FOUND', root);
  if (opts.folds) {
    const missing = opts.folds.filter((f) => !folds.some((x) => x.fold === f));
    if (missing.length) throw new InputError(`brats has no fold ${missing.join(', ')}`, 'NOT_FOUND', root);
    folds = folds.filter((f) => opts.folds!.includes(f.fold));
  }
  const out: BratsModel[] = [];
  try {
    for (const f of folds) {
      const { engine, manifest } = await loadEngine(f.dir, { engine: opts.engine, threads: opts.threads });
      if (manifest.arch !== 'raunet2-brain' && manifest.inputShape.at(-1) !== 4) {
        await engine.dispose();
        throw new InputError(`not a brain-tumour model (arch ${manifest.arch})`, 'BAD_ARGUMENT', f.dir);
      }
      out.push({ engine, manifest, id: `brats/fold-${f.fold}` });
    }
  } catch (e) {
    await Promise.all(out.map((m) => m.engine.dispose()));
    throw e;
  }
  return out;
}

/** The output files of subject `id` in `out`. */
export function bratsOutputPaths(out: string, id: string) {
  return {
    seg: join(out, `${id}_seg.nii.gz`),
    report: join(out, `${id}_report.json`),
    preview: join(out, `${id}_preview.png`),
  };
}

/** Segment one subject folder with loaded models and write its outputs together. */
export async function segmentBratsSubjectFolder(
  dir: string,
  models: readonly BratsModel[],
  o: BratsSegmentRunOptions,
  inputs: readonly string[] = [dir],
): Promise<{ id: string; outputs: string[]; tumourMl: number }> {
  const started = performance.now();
  const subject = await readBratsSubject(dir);
  const paths = bratsOutputPaths(o.out, subject.id);
  const lock = await lockCase(o.out, subject.id);
  try {
    await checkOutputTargets(Object.values(paths), { overwrite: o.overwrite, inputs });
    const input = prepareBratsInput(subject, resolveBratsNormalisation(models, o.normalisation));
    const result = await segmentBrainTumour(input.channels, input.brain, input.dims, models, {
      overlap: o.overlap,
      tta: o.tta,
      blend: o.blend,
      batchSize: o.batchSize,
      threshold: o.threshold,
      largestComponent: o.largestComponent,
    });
    const mask = result.mask;
    const report = buildBratsReport({
      subject: subject.id,
      input: dir,
      dims: [...subject.grid.dims],
      spacing: [...subject.grid.spacing],
      affine: subject.grid.affine,
      raw: subject.channels,
      mask,
      brain: input.brain,
      threshold: result.threshold,
      tta: o.tta ?? false,
      largestComponent: o.largestComponent ?? false,
      models,
      seconds: (performance.now() - started) / 1000,
    });
    const labels = createVolume(
      mask,
      [...subject.grid.dims],
      [...subject.grid.spacing],
      [...subject.grid.affine],
    );
    const batch = new OutputBatch({ overwrite: o.overwrite });
    await batch.write(paths.seg, encodeNifti(labels, { gzip: true }));
    await batch.write(paths.report, `${JSON.stringify(report, null, 2)}\n`);
    await batch.write(
      paths.preview,
      renderBratsPreviewPng(subject.channels.flair, mask, input.dims, input.spacing, {
        header: [
          `${subject.id}: whole tumour ${report.tumour.volumeMl.toFixed(1)} mL, ${report.tumour.components} component(s)`,
        ],
        demoModels: report.demoModels,
      }),
    );
    return { id: subject.id, outputs: await batch.commit(), tumourMl: report.tumour.volumeMl };
  } finally {
    await lock.release();
  }
}

/** Every subject folder in turn; a failing subject is reported and the others continue. */
export async function runBratsSegment(
  dirs: readonly string[],
  o: BratsSegmentRunOptions,
): Promise<BratsSubjectOutcome[]> {
  const log = o.log ?? (() => {});
  const folder = await prepareOutputFolder(o.out);
  const outcomes: BratsSubjectOutcome[] = [];
  try {
    const models = await loadBratsModels(o.models, o);
    try {
      // a --normalisation the models were not trained with is refused once, before any subject
      resolveBratsNormalisation(models, o.normalisation);
      for (const dir of dirs) {
        try {
          const { outputs, tumourMl } = await segmentBratsSubjectFolder(dir, models, o, dirs);
          outcomes.push({ path: dir, ok: true, outputs, tumourMl });
          log(`${dir}: whole tumour ${tumourMl.toFixed(1)} mL -> ${outputs[0]}`);
        } catch (e) {
          const { line, exitCode } = describeFailure(e);
          const reason = line.split('\n')[0] ?? line;
          outcomes.push({ path: dir, ok: false, reason, badInput: exitCode === 2 });
          // an input error begins with the file it names: say the subject folder once
          log(`${dir}: FAILED: ${reason.startsWith(`${dir}: `) ? reason.slice(dir.length + 2) : reason}`);
        }
      }
    } finally {
      for (const m of models) await m.engine.dispose();
    }
  } finally {
    await releaseOutputFolder(folder);
  }
  return outcomes;
}
