/**
 * Writes the ONNX export of a model next to its tfjs files (`<dest>/model.onnx`, local folder or
 * s3://). The training pipeline calls this after `saveModel`; `raunet export` calls `exportModelFolder`.
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { loadModel, type StorageOptions, storeFor } from '../model/storage.ts';
import { writeFileAtomic } from '../volume/nifti.ts';
import { ONNX_FILE } from './load.ts';
import { exportToOnnx } from './onnx-export.ts';

/**
 * Reads every weight once asynchronously: on GPU backends (webgpu) this leaves a CPU copy, so the
 * synchronous export can read them (Node.js has no synchronous GPU read).
 */
export async function weightsReadable(model: tf.LayersModel): Promise<void> {
  await Promise.all(model.getWeights().map((w) => w.data()));
}

/** Exports `model` and stores it as `model.onnx` in the model location `dest`; resolves to its size. */
export async function saveOnnx(
  model: tf.LayersModel,
  dest: string,
  opts: StorageOptions = {},
): Promise<number> {
  await weightsReadable(model);
  const bytes = exportToOnnx(model);
  await storeFor(dest, opts).write(ONNX_FILE, bytes, 'application/octet-stream');
  return bytes.length;
}

/**
 * Loads the stored model at `modelDir` and writes its ONNX export to the local file `out`
 * (default `<modelDir>/model.onnx`, which may also be an s3:// model location).
 */
export async function exportModelFolder(
  modelDir: string,
  out?: string,
  opts: StorageOptions = {},
): Promise<{ path: string; bytes: number; arch: string }> {
  const { model, manifest } = await loadModel(modelDir, opts);
  try {
    if (out === undefined) {
      const bytes = await saveOnnx(model, modelDir, opts);
      return { path: storeFor(modelDir, opts).describe(ONNX_FILE), bytes, arch: manifest.arch };
    }
    await weightsReadable(model);
    const bytes = exportToOnnx(model);
    await mkdir(dirname(out), { recursive: true });
    await writeFileAtomic(out, bytes);
    return { path: out, bytes: bytes.length, arch: manifest.arch };
  } finally {
    model.dispose();
  }
}
