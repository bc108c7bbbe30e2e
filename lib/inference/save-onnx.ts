/**
 * Writes the ONNX export of a model next to its tfjs files (`<dest>/model.onnx`, local folder or
 * s3://). The training pipeline calls this after `saveModel`; `raunet export` calls `exportModelFolder`.
 */
import { dirname, join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import {
  isS3Url,
  loadModel,
  MANIFEST_JSON,
  MODEL_JSON,
  type StorageOptions,
  storeFor,
  WEIGHTS_BIN,
} from '../model/storage.ts';
import {
  checkOutputTargets,
  OutputBatch,
  prepareOutputFolder,
  releaseOutputFolder,
} from '../output/safe-output.ts';
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
 * (default `<modelDir>/model.onnx`, which may also be an s3:// model location). A local target that
 * exists is refused before the model is loaded unless `overwrite`; one of the model's own files is refused
 * even then. The file appears complete or not at all (lib/output/safe-output.ts).
 */
export async function exportModelFolder(
  modelDir: string,
  out?: string,
  opts: StorageOptions & { overwrite?: boolean } = {},
): Promise<{ path: string; bytes: number; arch: string }> {
  const s3Default = out === undefined && isS3Url(modelDir);
  const target = out ?? join(modelDir, ONNX_FILE);
  if (!s3Default) {
    const inputs = isS3Url(modelDir)
      ? []
      : [MODEL_JSON, WEIGHTS_BIN, MANIFEST_JSON].map((f) => join(modelDir, f));
    await checkOutputTargets([target], { overwrite: opts.overwrite, inputs });
  }
  const { model, manifest } = await loadModel(modelDir, opts);
  try {
    if (s3Default) {
      const bytes = await saveOnnx(model, modelDir, opts);
      return { path: storeFor(modelDir, opts).describe(ONNX_FILE), bytes, arch: manifest.arch };
    }
    await weightsReadable(model);
    const bytes = exportToOnnx(model);
    const folder = await prepareOutputFolder(dirname(target));
    try {
      const batch = new OutputBatch({ overwrite: opts.overwrite });
      await batch.write(target, bytes);
      await batch.commit();
    } finally {
      await releaseOutputFolder(folder);
    }
    return { path: target, bytes: bytes.length, arch: manifest.arch };
  } finally {
    model.dispose();
  }
}
