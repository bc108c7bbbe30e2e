/**
 * Opens the inference engine of one stored model folder (`<stage>/fold-<k>/`, local or s3://):
 * ONNX Runtime on `model.onnx` when that file is present, unless tfjs is asked for; tfjs on
 * `model.json` + `weights.bin` otherwise. `RAUNET_ENGINE=onnx|tfjs` sets the default choice.
 */
import { InputError } from '../errors.ts';
import { activeBackend, initBackend } from '../model/backend.ts';
import {
  loadManifest,
  loadModel,
  type ModelManifest,
  type StorageOptions,
  storeFor,
} from '../model/storage.ts';
import type { EngineKind, InferenceEngine } from './engine.ts';
import { createOnnxEngine } from './onnx-engine.ts';
import { createTfjsEngine } from './tfjs-engine.ts';

export const ONNX_FILE = 'model.onnx';

export interface LoadEngineOptions extends StorageOptions {
  /** Engine to use (default: env RAUNET_ENGINE, else ONNX when `model.onnx` exists, else tfjs). */
  engine?: EngineKind;
  /** ONNX Runtime intra-op threads. */
  threads?: number;
  /** ONNX Runtime CUDA provider (default: see createOnnxEngine). */
  cuda?: boolean;
}

export function parseEngineKind(value: string, source = '--engine'): EngineKind {
  if (value === 'onnx' || value === 'tfjs') return value;
  throw new InputError(`${source}: unknown engine '${value}' (expected onnx or tfjs)`, 'BAD_ARGUMENT');
}

async function readOnnx(modelDir: string, opts: StorageOptions): Promise<Uint8Array | undefined> {
  try {
    return await storeFor(modelDir, opts).read(ONNX_FILE);
  } catch (e) {
    if ((e as InputError).code === 'NOT_FOUND') return undefined;
    throw e;
  }
}

async function tfjsEngine(modelDir: string, opts: StorageOptions): Promise<InferenceEngine> {
  if (!activeBackend()) await initBackend();
  const { model } = await loadModel(modelDir, opts);
  return createTfjsEngine(model);
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

export async function loadEngine(
  modelDir: string,
  opts: LoadEngineOptions = {},
): Promise<{ engine: InferenceEngine; manifest: ModelManifest }> {
  const env = process.env.RAUNET_ENGINE;
  const choice = opts.engine ?? (env ? parseEngineKind(env, 'RAUNET_ENGINE') : undefined);
  const manifest = await loadManifest(modelDir, opts);
  if (choice === 'tfjs') return { engine: await tfjsEngine(modelDir, opts), manifest };

  const where = storeFor(modelDir, opts).describe(ONNX_FILE);
  const onnx = await readOnnx(modelDir, opts);
  if (!onnx) {
    if (choice === 'onnx') {
      throw new InputError(
        `not found; create it with: raunet export --model ${modelDir} --out ${where}`,
        'NOT_FOUND',
        where,
      );
    }
    return { engine: await tfjsEngine(modelDir, opts), manifest };
  }
  try {
    return { engine: await createOnnxEngine(onnx, { threads: opts.threads, cuda: opts.cuda }), manifest };
  } catch (onnxError) {
    if (choice === 'onnx') throw new InputError(message(onnxError), 'BAD_HEADER', where);
    // No engine was asked for: the tfjs model of the same folder is the fallback.
    try {
      const engine = await tfjsEngine(modelDir, opts);
      process.stderr.write(`warning: ${where}: ${message(onnxError)}; using the tfjs model instead\n`);
      return { engine, manifest };
    } catch (tfjsError) {
      throw new InputError(
        `no usable model: ONNX (${message(onnxError)}); tfjs (${message(tfjsError)})`,
        'BAD_HEADER',
        modelDir,
      );
    }
  }
}
