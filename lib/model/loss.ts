/**
 * Dice loss and Dice coefficient over a whole batch (all voxels of all samples pooled), the objective
 * and validation metric of RA-UNet training.
 */
import * as tf from '@tensorflow/tfjs';

/** Smoothing term of the loss: keeps it defined (and 0) when both masks are empty. */
export const DICE_SMOOTH = 1;

/**
 * Soft Dice loss `1 - (2 * sum(y * p) + 1) / (sum(y) + sum(p) + 1)`, sums over every element of the
 * batch. Differentiable in `yPred`; returns a scalar.
 */
export function diceLoss(yTrue: tf.Tensor, yPred: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const inter = tf.sum(tf.mul(yTrue, yPred));
    const total = tf.add(tf.sum(yTrue), tf.sum(yPred));
    return tf.sub(1, tf.div(tf.add(tf.mul(inter, 2), DICE_SMOOTH), tf.add(total, DICE_SMOOTH))) as tf.Scalar;
  });
}

/**
 * Hard Dice coefficient `2 |Y ∩ P| / (|Y| + |P|)` of the reference (y > 0.5) and the thresholded
 * prediction (p > threshold) over the whole batch; 1 when both are empty. Returns a scalar.
 */
export function diceCoefficient(yTrue: tf.Tensor, yPred: tf.Tensor, threshold = 0.5): tf.Scalar {
  return tf.tidy(() => {
    const { intersection, total } = diceCounts(yTrue, yPred, threshold);
    return tf.where(tf.equal(total, 0), tf.scalar(1), tf.div(tf.mul(intersection, 2), total)) as tf.Scalar;
  });
}

/** |Y ∩ P| and |Y| + |P| as scalars (for accumulating a Dice over many batches). */
export function diceCounts(
  yTrue: tf.Tensor,
  yPred: tf.Tensor,
  threshold = 0.5,
): { intersection: tf.Scalar; total: tf.Scalar } {
  return tf.tidy(() => {
    const y = tf.cast(tf.greater(yTrue, 0.5), 'float32');
    const p = tf.cast(tf.greater(yPred, threshold), 'float32');
    return {
      intersection: tf.sum(tf.mul(y, p)) as tf.Scalar,
      total: tf.add(tf.sum(y), tf.sum(p)) as tf.Scalar,
    };
  });
}
