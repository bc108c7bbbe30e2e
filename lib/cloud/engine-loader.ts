/**
 * Loads a stage's ensemble (every `fold-*` folder of a local stage folder) with the shared engine loader
 * (`loadEngine` of `lib/inference/load.ts`: ONNX when `model.onnx` is there, CUDA provider when available).
 */
import { readdir } from 'node:fs/promises';
import * as path from 'node:path';
import type { InferenceEngine } from '../inference/engine.ts';
import { loadEngine } from '../inference/load.ts';

export async function loadStageEngines(stageDir: string): Promise<InferenceEngine[]> {
  const folds = (await readdir(stageDir, { withFileTypes: true }))
    .filter((e) => e.isDirectory() && /^fold-\d+$/.test(e.name))
    .map((e) => e.name)
    .sort();
  const out: InferenceEngine[] = [];
  for (const f of folds) out.push((await loadEngine(path.join(stageDir, f))).engine);
  return out;
}
