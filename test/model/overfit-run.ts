/** The overfit tests' training run, shared by the CPU and WebGPU variants. */
import type * as tf from '@tensorflow/tfjs';
import { type Batch, type TrainResult, trainModel } from '../../lib/training/trainer.ts';

/**
 * Trains `model` on the one batch, validating on the same batch, one step per epoch at learning rate 3e-3,
 * and stops at the first inference-mode Dice above 0.9 or after `maxSteps`; disposes the model.
 */
export async function overfitOneBatch(
  model: tf.LayersModel,
  batch: Batch,
  maxSteps: number,
): Promise<TrainResult> {
  const stop = new AbortController();
  try {
    return await trainModel(model, {
      train: () => [batch],
      validation: () => [batch],
      epochs: maxSteps,
      initialLr: 3e-3,
      signal: stop.signal,
      onEpoch: (log) => {
        if (log.valDice > 0.9) stop.abort();
      },
    });
  } finally {
    model.dispose();
  }
}
