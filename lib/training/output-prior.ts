/**
 * Output-bias initialisation from the foreground prior: the sigmoid output of a fresh RA-UNet starts
 * near 0.5 everywhere, which for rare structures (tumor voxels are ~1% of a tumor patch) leaves the Dice
 * loss flat at ~0.99 for many epochs while the network first learns to say "no" everywhere. Setting the
 * output convolution's bias to logit(prior), with the prior the foreground fraction of training samples,
 * starts the output at the class frequency instead (the prior-probability initialisation of Lin et al.,
 * "Focal Loss for Dense Object Detection", 2017). Weights are untouched.
 */
import * as tf from '@tensorflow/tfjs';
import type { Batch } from './trainer.ts';

/** Name of the output convolution in `buildRAUNet` models. */
export const OUTPUT_LAYER = 'conv3';

/** Foreground fraction of the targets of `batches` (0 when they hold no voxels). */
export function foregroundFraction(batches: readonly Batch[]): number {
  let ones = 0;
  let all = 0;
  for (const b of batches) {
    for (let i = 0; i < b.y.length; i++) ones += b.y[i]! > 0.5 ? 1 : 0;
    all += b.y.length;
  }
  return all === 0 ? 0 : ones / all;
}

/** logit(p) with p kept in [1e-3, 0.5]: never a bias that favours foreground or one too extreme to train. */
export function priorBias(prior: number): number {
  const p = Math.min(0.5, Math.max(1e-3, Number.isFinite(prior) ? prior : 0.5));
  return Math.log(p / (1 - p));
}

/** Sets every bias of the model's output convolution to `priorBias(prior)`; returns that bias. */
export function initialiseOutputBias(model: tf.LayersModel, prior: number): number {
  const layer = model.getLayer(OUTPUT_LAYER);
  const weights = layer.getWeights();
  if (weights.length !== 2) throw new Error(`layer ${OUTPUT_LAYER} has no bias to initialise`);
  const bias = priorBias(prior);
  const next = tf.fill(weights[1]!.shape, bias);
  layer.setWeights([weights[0]!, next]);
  next.dispose();
  return bias;
}
