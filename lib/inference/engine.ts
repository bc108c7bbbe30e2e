/**
 * The contract between the segmentation pipeline and whatever runs a network forward.
 *
 * Tensor layout (everywhere in the project): channels last, and spatial axes in the memory order of
 * `Volume.data`, slowest first. A volume crop of dims [x, y, z] is the tensor [1, z, y, x, 1] with no
 * transposition; an axial slice of dims [x, y] is [1, y, x, 1]. So `raunet2` sees [n, 32, 224, 224, 1]
 * for a 224x224x32 liver patch and `raunet1` sees [n, 256, 256, 1].
 */
export type EngineKind = 'tfjs' | 'onnx';

export interface InferenceEngine {
  readonly kind: EngineKind;
  /** Backend that actually runs (for example `tensorflow`, `wasm`, `cpu`, `onnx-cpu`, `onnx-cuda`). */
  readonly backend: string;
  /**
   * One forward pass. `input` holds `shape` = [n, ...spatial, channels] values, channels last.
   * Resolves to the sigmoid probabilities, shape [n, ...spatial, 1], as a new Float32Array.
   */
  predict(input: Float32Array, shape: readonly number[]): Promise<Float32Array>;
  dispose(): Promise<void>;
}
