/**
 * Loads a stage's ensemble (every `fold-*` folder) with the inference engine loader of
 * `lib/inference/load.ts` (the ONNX engineer's `loadEngine`). The module is resolved at run time so this
 * file builds before that module lands; the containers run the TypeScript sources, so nothing is bundled.
 */
import { readdir } from 'node:fs/promises';
import * as path from 'node:path';
import type { InferenceEngine } from '../inference/engine.ts';

type LoadEngine = (
  modelDir: string,
  opts: { engine?: 'onnx' | 'tfjs'; threads?: number },
) => Promise<{ engine: InferenceEngine }>;

const LOADER_MODULE = '../inference/load.ts';

export async function loadStageEngines(stageDir: string): Promise<InferenceEngine[]> {
  const { loadEngine } = (await import(LOADER_MODULE)) as { loadEngine: LoadEngine };
  const folds = (await readdir(stageDir, { withFileTypes: true }))
    .filter((e) => e.isDirectory() && /^fold-\d+$/.test(e.name))
    .map((e) => e.name)
    .sort();
  const engine =
    process.env.RAUNET_ENGINE === 'tfjs' ? 'tfjs' : process.env.RAUNET_ENGINE === 'onnx' ? 'onnx' : undefined;
  const out: InferenceEngine[] = [];
  for (const f of folds) out.push((await loadEngine(path.join(stageDir, f), { engine })).engine);
  return out;
}
