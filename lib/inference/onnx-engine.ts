/**
 * InferenceEngine over ONNX Runtime (`onnxruntime-node`). Runs a model exported by `exportToOnnx`
 * (channels-last input and output, so no transposition happens here).
 *
 * Execution provider: CUDA when asked (`cuda: true`, or env `RAUNET_ONNX_CUDA=1`) or, when neither says
 * anything, when the CUDA provider library is installed next to the binding (a GPU image installs it
 * with `ONNXRUNTIME_NODE_INSTALL=cuda12`, see docs/inference.md); CPU otherwise, and CPU as a fallback
 * when the CUDA provider fails to load. `threads` sets ONNX Runtime's intra-op thread count.
 */
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { InputError } from '../errors.ts';
import type { InferenceEngine } from './engine.ts';

export interface OnnxEngineOptions {
  /** Intra-op threads (default: ONNX Runtime's choice, one per core). */
  threads?: number;
  /** Use the CUDA execution provider (default: env RAUNET_ONNX_CUDA, else when it is installed). */
  cuda?: boolean;
}

/** Whether the CUDA execution provider library was installed into onnxruntime-node's binding folder. */
export function cudaProviderInstalled(): boolean {
  try {
    const req = createRequire(import.meta.url);
    const root = dirname(dirname(req.resolve('onnxruntime-node')));
    const binDir = join(root, 'bin');
    const stack = [binDir];
    while (stack.length > 0) {
      const dir = stack.pop()!;
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        if (e.isDirectory()) stack.push(join(dir, e.name));
        else if (e.name.startsWith('libonnxruntime_providers_cuda')) return true;
      }
    }
  } catch {
    // no binding folder to inspect: treat as CPU only
  }
  return false;
}

function wantCuda(opt: boolean | undefined): boolean {
  if (opt !== undefined) return opt;
  const env = process.env.RAUNET_ONNX_CUDA;
  if (env !== undefined && env !== '') return env === '1' || env.toLowerCase() === 'true';
  return cudaProviderInstalled();
}

function openSession(model: string | Uint8Array, o: ort.InferenceSession.SessionOptions) {
  return typeof model === 'string'
    ? ort.InferenceSession.create(model, o)
    : ort.InferenceSession.create(model, o);
}

/** The CPU session settings of the engine (also what the GEMM-rate bench runs its MatMuls with). */
export function cpuSessionOptions(threads?: number): ort.InferenceSession.SessionOptions {
  return sessionOptions(['cpu'], threads);
}

function sessionOptions(providers: string[], threads?: number): ort.InferenceSession.SessionOptions {
  const o: ort.InferenceSession.SessionOptions = {
    executionProviders: providers,
    graphOptimizationLevel: 'all',
    // Without the arena each session returns its activation memory after a run instead of keeping its
    // peak: with several fold models per stage loaded at once, kept peaks add up to gigabytes.
    enableCpuMemArena: false,
  };
  if (threads !== undefined && threads > 0) o.intraOpNumThreads = threads;
  return o;
}

/**
 * Opens an ONNX model (a file path, or the file's bytes) in an ONNX Runtime session.
 * Bad or missing files are InputErrors naming the file.
 */
export async function createOnnxEngine(
  modelPath: string | Uint8Array,
  opts: OnnxEngineOptions = {},
): Promise<InferenceEngine> {
  const label = typeof modelPath === 'string' ? modelPath : '(in-memory ONNX model)';
  if (typeof modelPath === 'string' && !existsSync(modelPath)) {
    throw new InputError('ONNX model file not found', 'NOT_FOUND', modelPath);
  }
  if (opts.threads !== undefined && (!Number.isInteger(opts.threads) || opts.threads < 0)) {
    throw new InputError(`threads must be a non-negative integer, got ${opts.threads}`);
  }
  let session: ort.InferenceSession | undefined;
  let backend = 'onnx-cpu';
  if (wantCuda(opts.cuda)) {
    try {
      session = await openSession(modelPath, sessionOptions(['cuda'], opts.threads));
      backend = 'onnx-cuda';
    } catch (e) {
      process.stderr.write(
        `warning: ONNX Runtime CUDA provider unavailable (${e instanceof Error ? e.message : String(e)}); using CPU\n`,
      );
    }
  }
  if (!session) {
    try {
      session = await openSession(modelPath, sessionOptions(['cpu'], opts.threads));
    } catch (e) {
      throw new InputError(
        `not a loadable ONNX model (${e instanceof Error ? e.message : String(e)})`,
        'BAD_HEADER',
        label,
      );
    }
  }
  const s = session;
  const inputName = s.inputNames[0]!;
  const outputName = s.outputNames[0]!;
  return {
    kind: 'onnx',
    backend,
    async predict(input: Float32Array, shape: readonly number[]): Promise<Float32Array> {
      const count = shape.reduce((a, b) => a * b, 1);
      if (count !== input.length) {
        throw new InputError(
          `input has ${input.length} values but shape [${shape.join(', ')}] needs ${count}`,
        );
      }
      const feed = new ort.Tensor('float32', input, shape as number[]);
      const result = await s.run({ [inputName]: feed });
      const out = result[outputName]!;
      const data = Float32Array.from(out.data as Float32Array);
      for (const t of Object.values(result)) t.dispose();
      return data;
    },
    async dispose(): Promise<void> {
      await s.release();
    },
  };
}
