/**
 * Wall time of each inference stage and of the whole pipeline on 512x512x100 and 512x512x500 phantoms,
 * with full-width RA-UNets (random weights) exported to ONNX on the fly and run by onnxruntime-node on the
 * CPU, beside the machine's matrix-multiply rate measured in the same run (`lib/inference/gemm-rate.ts`).
 *
 * Random weights segment nothing meaningful, so each stage runs on the region a trained model would give
 * it: stage 1 on every slice, stage 2 on the phantom's true liver box (+10 voxels), stage 3 on its true
 * liver VOI. The whole-pipeline row is preprocessing + the three stages + the report.
 *
 * Bounded time: each stage gets `BENCH_PIPELINE_STAGE_S` seconds (default 60) of forward passes; past that
 * the remaining passes are not run but counted, and the stage time is extrapolated with the mean pass time
 * (the row's note says how many passes ran and their mean time; single-patch forward times of both
 * engines are in the engines bench). Other knobs: `BENCH_PIPELINE_OVERLAP` (default 0.5),
 * `BENCH_PIPELINE_THREADS` (default: all cores). Target: the whole pipeline in under 2 minutes.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InferenceEngine } from '../lib/inference/engine.ts';
import { measureGemmRate } from '../lib/inference/gemm-rate.ts';
import { createOnnxEngine } from '../lib/inference/onnx-engine.ts';
import { exportToOnnx } from '../lib/inference/onnx-export.ts';
import { type ArchName, buildRAUNet } from '../lib/model/archs.ts';
import { generatePhantom } from '../lib/phantom/phantom.ts';
import { renderPreviewPng } from '../lib/pipeline/preview.ts';
import { buildReport } from '../lib/pipeline/report.ts';
import { BOX_MARGIN, localizeLiver, segmentLiver, segmentTumor } from '../lib/pipeline/stages.ts';
import { slidingWindowStarts } from '../lib/pipeline/windows.ts';
import { boundingBox, boxSize, cropArray, expandBox } from '../lib/preprocess/crop.ts';
import { windowAndNormalize } from '../lib/preprocess/window.ts';
import { withData } from '../lib/volume/volume.ts';
import type { BenchRow } from './index.ts';
import { peakRssMiB, resetPeakRss } from './memory.ts';

export const name = 'pipeline (512x512x100 and x500 phantoms, full-width RA-UNets, ONNX CPU, GEMM rate)';

/** The issue's machine: the GEMM rate its targets in seconds assume. */
const ISSUE_GEMM_GFLOPS = 220;
/** Whole-pipeline targets on that machine, seconds, by slice count. */
const TARGET_S: Record<number, number> = { 100: 15, 500: 60 };
const TARGET_PEAK_MIB = 2048;

async function onnxEngine(dir: string, arch: ArchName, inputShape: number[], threads: number) {
  const model = buildRAUNet(arch, { inputShape });
  const bytes = exportToOnnx(model);
  model.dispose();
  const file = join(dir, `${arch}-${inputShape.join('x')}.onnx`);
  await writeFile(file, bytes);
  return createOnnxEngine(file, { threads });
}

/**
 * Wraps an engine so that, once `budgetMs` of forward passes have been spent, further passes return zeros
 * at once; `extraMs()` is the time those skipped passes would have taken at the mean pass time.
 */
function budgeted(engine: InferenceEngine, budgetMs: number) {
  let spent = 0;
  let run = 0;
  let skipped = 0;
  const wrapped: InferenceEngine = {
    kind: engine.kind,
    backend: engine.backend,
    async predict(x, shape) {
      if (spent > budgetMs) {
        skipped++;
        return new Float32Array(x.length);
      }
      const t = performance.now();
      const y = await engine.predict(x, shape);
      spent += performance.now() - t;
      run++;
      return y;
    },
    dispose: () => engine.dispose(),
  };
  return {
    engine: wrapped,
    extraMs: () => (run ? (spent / run) * skipped : 0),
    note: () => {
      const mean = run ? ` of ${(spent / run / 1000).toFixed(1)} s` : '';
      return skipped
        ? `${run} of ${run + skipped} passes${mean} run, rest extrapolated`
        : `${run} passes${mean}`;
    },
  };
}

const log = (msg: string) => process.stderr.write(`  [pipeline bench] ${msg}\n`);

interface Engines {
  localize: InferenceEngine;
  liver: InferenceEngine;
  tumor: InferenceEngine;
  note: string;
}

/** Windows of a VOI of dims `d` for `patch` at `overlap` (what stage 3 would run without skipping). */
const windowCount = (d: number[], patch: number[], overlap: number) =>
  d.reduce((n, len, a) => n * slidingWindowStarts(len, patch[a]!, overlap).length, 1);

/** The bench phantom's CT and true liver mask (the label map itself is not kept: memory). */
function phantomCase(slices: number) {
  const { ct, seg } = generatePhantom({ seed: 11, dims: [512, 512, slices] });
  // an explicit loop: TypedArray.from with a map function collects into a JS array first, which fails
  // past ~100 M voxels (512x512x500)
  const liverTruth = new Uint8Array(seg.data.length);
  for (let i = 0; i < liverTruth.length; i++) liverTruth[i] = seg.data[i]! > 0 ? 1 : 0;
  return { ct, liverTruth };
}

async function runCase(slices: number, e: Engines, gemm: number, overlap: number): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  resetPeakRss();
  const { ct, liverTruth } = phantomCase(slices);
  const box = boundingBox(liverTruth, ct.dims, 10);
  if (!box) throw new Error('phantom without liver');
  const tag = `512x512x${slices}`;
  log(`${tag}: phantom generated`);
  const budgetMs = Number(process.env.BENCH_PIPELINE_STAGE_S ?? 60) * 1000;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let normalized: ReturnType<typeof windowAndNormalize> | null = windowAndNormalize(ct);
  const t1 = performance.now();
  log(`preprocess ${((t1 - t0) / 1000).toFixed(1)} s`);
  const b1 = budgeted(e.localize, budgetMs);
  await localizeLiver(ct, [b1.engine], { normalized, slice: [256, 256] });
  const t2 = performance.now();
  const s1 = (t2 - t1 + b1.extraMs()) / 1000;
  // as segmentCt: stages 2 and 3 keep only the box plus the tumor margin of the normalised CT
  const regionBox = expandBox(box, BOX_MARGIN, ct.dims);
  const normalizedRegion = { data: cropArray(normalized.data, ct.dims, regionBox), box: regionBox };
  normalized = null;
  log(`stage 1 ${s1.toFixed(1)} s (${b1.note()})`);
  const b2 = budgeted(e.liver, budgetMs);
  const liverMask = await segmentLiver(ct, box, [b2.engine], {
    normalizedRegion,
    patch: [224, 224, 32],
    overlap,
  });
  const t3 = performance.now();
  const s2 = (t3 - t2 + b2.extraMs()) / 1000;
  log(`stage 2 ${s2.toFixed(1)} s (${b2.note()})`);
  const b3 = budgeted(e.tumor, budgetMs);
  const tumorMask = await segmentTumor(ct, liverTruth, [b3.engine], {
    normalizedRegion,
    patch: [128, 128, 32],
    overlap,
  });
  const t4 = performance.now();
  const s3 = (t4 - t3 + b3.extraMs()) / 1000;
  log(`stage 3 ${s3.toFixed(1)} s (${b3.note()})`);
  const labelData = new Uint8Array(liverMask.length);
  for (let i = 0; i < labelData.length; i++) labelData[i] = tumorMask[i] ? 2 : liverMask[i]!;
  const labels = withData(ct, labelData, 'uint8');
  buildReport(ct, labels, {
    name: 'bench',
    localization: box,
    timings: { preprocessMs: 0, localizeMs: 0, liverMs: 0, tumorMs: 0, totalMs: 0 },
    engine: { kind: 'onnx', backend: e.localize.backend },
    models: { localize: [], liver: [], tumor: [] },
    options: {},
  });
  renderPreviewPng(ct, labels);
  const t5 = performance.now();
  const dims = boxSize(box);
  const pre = (t1 - t0) / 1000;
  const post = (t5 - t4) / 1000;
  const note = e.note;
  rows.push({ what: `${tag}: preprocess (HU window + normalisation)`, value: pre, unit: 's' });
  rows.push({
    what: `${tag}: stage 1 localisation (${slices} slices, batch 8)`,
    value: s1,
    unit: 's',
    note: `${note}; ${b1.note()}`,
  });
  rows.push({
    what: `${tag}: stage 2 liver (box ${dims.join('x')} -> 224x224)`,
    value: s2,
    unit: 's',
    note: `${note}; ${b2.note()}`,
  });
  rows.push({
    what: `${tag}: stage 3 tumor (VOI ${dims.join('x')}, 128x128x32)`,
    value: s3,
    unit: 's',
    note: `${note}; ${b3.note()}; windows holding liver only, of ${windowCount(dims, [128, 128, 32], overlap)}`,
  });
  rows.push({ what: `${tag}: report + preview`, value: post, unit: 's' });
  const whole = pre + s1 + s2 + s3 + post;
  const cpu = process.cpuUsage(cpu0);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  const peak = peakRssMiB();
  const scaled = (whole * gemm) / ISSUE_GEMM_GFLOPS;
  const target = TARGET_S[slices];
  const verdict =
    target === undefined
      ? ''
      : `; target <= ${target} s there and <= ${TARGET_PEAK_MIB} MiB: ${scaled <= target && peak <= TARGET_PEAK_MIB ? 'met' : 'MISSED'}`;
  rows.push({
    what: `${tag}: whole pipeline`,
    value: whole,
    unit: 's',
    peakMiB: peak,
    note: `overlap ${overlap}; ${cpuS.toFixed(0)} CPU s (passes run); ${scaled.toFixed(1)} s scaled to a ${ISSUE_GEMM_GFLOPS} GFLOP/s GEMM machine${verdict}`,
  });
  return rows;
}

export async function run(): Promise<BenchRow[]> {
  const overlap = Number(process.env.BENCH_PIPELINE_OVERLAP ?? 0.5);
  const threads = Number(process.env.BENCH_PIPELINE_THREADS ?? availableParallelism());
  const slices = (process.env.BENCH_PIPELINE_SLICES ?? '100,500').split(',').map(Number);
  const dir = await mkdtemp(join(tmpdir(), 'raunet-bench-'));
  const rows: BenchRow[] = [];
  try {
    const localize = await onnxEngine(dir, 'raunet1', [256, 256, 1], threads);
    const liver = await onnxEngine(dir, 'raunet2', [32, 224, 224, 1], threads);
    const tumor = await onnxEngine(dir, 'raunet2', [32, 128, 128, 1], threads);
    const engines = { localize, liver, tumor, note: `${localize.backend}, ${threads} threads` };
    log('models exported and loaded');
    try {
      const gemmBefore = await measureGemmRate({ threads });
      const caseRows: BenchRow[] = [];
      for (const n of slices) caseRows.push(...(await runCase(n, engines, gemmBefore.gflops, overlap)));
      const gemmAfter = await measureGemmRate({ threads });
      rows.push({
        what: `GEMM rate, fp32 ${gemmBefore.n}x${gemmBefore.n} MatMul (ONNX Runtime CPU)`,
        value: gemmBefore.gflops,
        unit: 'GFLOP/s',
        note: `${threads} threads, before the cases (the scaling below uses it); ${gemmAfter.gflops.toFixed(1)} after them`,
      });
      rows.push(...caseRows);
    } finally {
      await Promise.all([localize.dispose(), liver.dispose(), tumor.dispose()]);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return rows;
}
