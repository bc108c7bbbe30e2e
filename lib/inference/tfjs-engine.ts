/**
 * InferenceEngine over a TensorFlow.js LayersModel, on whatever tfjs backend is active. Every forward
 * pass runs inside `tf.tidy`, so no intermediate tensor outlives it. On the CPU backends a pass computes
 * synchronously, so each one first lets the event loop turn (signals, timers, progress output, I/O run
 * between windows, not after a whole case).
 */
import * as tf from '@tensorflow/tfjs';
import { InputError } from '../errors.ts';
import { nextTurn } from '../next-turn.ts';
import type { InferenceEngine } from './engine.ts';

export function createTfjsEngine(model: tf.LayersModel): InferenceEngine {
  let disposed = false;
  return {
    kind: 'tfjs',
    get backend() {
      return tf.getBackend();
    },
    async predict(input: Float32Array, shape: readonly number[]): Promise<Float32Array> {
      await nextTurn();
      if (disposed) throw new Error('tfjs engine: predict after dispose');
      const count = shape.reduce((a, b) => a * b, 1);
      if (count !== input.length) {
        throw new InputError(
          `input has ${input.length} values but shape [${shape.join(', ')}] needs ${count}`,
        );
      }
      const out = tf.tidy(() => {
        const y = model.predict(tf.tensor(input, shape as number[], 'float32'));
        return Array.isArray(y) ? y[0]! : y;
      });
      try {
        return Float32Array.from((await out.data()) as Float32Array);
      } finally {
        out.dispose();
      }
    },
    async dispose(): Promise<void> {
      if (disposed) return;
      disposed = true;
      model.dispose();
    },
  };
}
