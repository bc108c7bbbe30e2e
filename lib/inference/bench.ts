/**
 * Forward-pass timing of a full-width, randomly initialised RA-UNet on this machine, with the ONNX
 * Runtime engine, the tfjs engine or both (`raunet bench`, `npm run bench`).
 */
import { InputError } from '../errors.ts';
import { ARCHS, type ArchName, buildRAUNet } from '../model/archs.ts';
import { initBackend } from '../model/backend.ts';
import type { EngineKind, InferenceEngine } from './engine.ts';
import { createOnnxEngine } from './onnx-engine.ts';
import { exportToOnnx } from './onnx-export.ts';
import { weightsReadable } from './save-onnx.ts';
import { createTfjsEngine } from './tfjs-engine.ts';

export interface BenchResult {
  arch: ArchName;
  /** Patch size as given: x by y (by z). */
  size: string;
  engine: EngineKind;
  backend: string;
  /** Median forward time of the timed runs, seconds. */
  forward_s: number;
}

export interface BenchOptions {
  arch: ArchName;
  /** Spatial size [x, y] or [x, y, z] (default: the configuration's input size). */
  size?: number[];
  engines: EngineKind[];
  /** Timed runs per engine (default 3). */
  runs?: number;
  /** Untimed warm-up runs before them (default 1). */
  warmup?: number;
  threads?: number;
  cuda?: boolean;
  /** tfjs backend for the tfjs engine (default: the fastest present, or RAUNET_BACKEND). */
  backend?: string;
  /** Called after each result (progress). */
  onResult?: (r: BenchResult) => void;
}

/** Parses `256x256` or `128x128x32` (x by y by z). */
export function parseSize(text: string, dims: 2 | 3): number[] {
  const parts = text.toLowerCase().split('x').map(Number);
  if (parts.length !== dims || parts.some((v) => !Number.isInteger(v) || v <= 0)) {
    throw new InputError(
      `--size ${text}: expected ${dims} positive integers like ${dims === 2 ? '256x256' : '128x128x32'}`,
    );
  }
  return parts;
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function time(engine: InferenceEngine, x: Float32Array, shape: number[], warmup: number, runs: number) {
  for (let k = 0; k < warmup; k++) await engine.predict(x, shape);
  const times: number[] = [];
  for (let k = 0; k < runs; k++) {
    const t0 = performance.now();
    await engine.predict(x, shape);
    times.push((performance.now() - t0) / 1000);
  }
  return median(times);
}

export async function benchForward(opts: BenchOptions): Promise<BenchResult[]> {
  const spec = ARCHS[opts.arch];
  const defaultSize = [...spec.inputShape.slice(0, -1)].reverse(); // [(z,) y, x] -> [x, y, (z)]
  const size = opts.size ?? defaultSize;
  const spatial = [...size].reverse(); // tensor order: slowest first
  const inputShape = [...spatial, spec.channels];
  const shape = [1, ...inputShape];
  const x = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < x.length; i++) x[i] = Math.random();
  const runs = Math.max(1, opts.runs ?? 3);
  const warmup = Math.max(0, opts.warmup ?? 1);
  const label = size.join('x');
  const results: BenchResult[] = [];
  const record = (engine: InferenceEngine, forward_s: number) => {
    const r = { arch: opts.arch, size: label, engine: engine.kind, backend: engine.backend, forward_s };
    results.push(r);
    opts.onResult?.(r);
  };
  if (opts.engines.includes('tfjs')) await initBackend(opts.backend);
  const model = buildRAUNet(opts.arch, { inputShape });
  if (opts.engines.includes('onnx')) await weightsReadable(model); // a GPU backend reads asynchronously only
  const onnxBytes = opts.engines.includes('onnx') ? exportToOnnx(model) : undefined;
  try {
    if (onnxBytes) {
      const engine = await createOnnxEngine(onnxBytes, { threads: opts.threads, cuda: opts.cuda });
      try {
        record(engine, await time(engine, x, shape, warmup, runs));
      } finally {
        await engine.dispose();
      }
    }
    if (opts.engines.includes('tfjs')) {
      const engine = createTfjsEngine(model);
      record(engine, await time(engine, x, shape, warmup, runs));
    }
  } finally {
    model.dispose();
  }
  return results;
}
