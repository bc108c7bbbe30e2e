/**
 * Loads a stage's ensemble in a Batch container with the pipeline's own loader (`loadStage` of
 * `lib/pipeline/models.ts`: every `fold-*` folder, ONNX when `model.onnx` is there, CUDA when available),
 * so the containers see the same engines, manifests and model ids as `raunet segment`.
 */
import { loadStage } from '../pipeline/models.ts';
import type { LoadedModel, StageName } from '../pipeline/segment.ts';

export function loadStageEngines(modelsRoot: string, stage: StageName): Promise<LoadedModel[]> {
  return loadStage(modelsRoot, stage);
}
