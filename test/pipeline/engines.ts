/**
 * Test doubles of `InferenceEngine` (tests only, never used by the product).
 *
 * `pointwiseEngine` answers voxel by voxel from the input intensity, so on a synthetic CT whose structures
 * have distinct HU values its output is the ground truth mask itself, wherever the patch was cut from: any
 * mistake in patch placement, padding, resizing or pasting shows up as a shifted or missing structure.
 */
import type { InferenceEngine } from '../../lib/inference/engine.ts';

export interface RecordingEngine extends InferenceEngine {
  /** Shapes of every `predict` call, in order. */
  calls: number[][];
}

export function pointwiseEngine(f: (v: number) => number, backend = 'test'): RecordingEngine {
  const calls: number[][] = [];
  return {
    kind: 'onnx',
    backend,
    calls,
    async predict(input, shape) {
      calls.push([...shape]);
      if (shape[shape.length - 1] !== 1) throw new Error('expected one channel');
      const n = shape.reduce((a, b) => a * b, 1);
      if (n !== input.length) throw new Error(`input has ${input.length} values, shape says ${n}`);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = f(input[i]);
      return out;
    },
    async dispose() {},
  };
}

/** Engine whose output ignores the input: `f(index within the spatial patch, spatial shape)`. */
export function positionalEngine(f: (idx: number[], spatial: number[]) => number): RecordingEngine {
  const calls: number[][] = [];
  return {
    kind: 'onnx',
    backend: 'test',
    calls,
    async predict(input, shape) {
      calls.push([...shape]);
      const spatial = shape.slice(1, -1);
      const per = spatial.reduce((a, b) => a * b, 1);
      const out = new Float32Array(input.length);
      const idx = new Array<number>(spatial.length).fill(0);
      for (let f0 = 0; f0 < per; f0++) {
        const v = f(idx, spatial);
        for (let b = 0; b < shape[0]; b++) out[b * per + f0] = v;
        for (let a = spatial.length - 1; a >= 0; a--) {
          if (++idx[a] < spatial[a]) break;
          idx[a] = 0;
        }
      }
      return out;
    },
    async dispose() {},
  };
}

export const constantEngine = (c: number) => positionalEngine(() => c);
