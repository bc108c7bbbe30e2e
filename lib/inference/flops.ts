/**
 * Multiply-add work of a network's convolutions, the figure an achieved GFLOP/s rate is computed from
 * (`npm run bench` compares it with the machine's matrix-multiply rate). Only convolutions are counted:
 * they are over 99% of RA-UNet's arithmetic; element-wise ops, pooling and resizing are memory-bound and
 * their time shows up as a lower achieved rate.
 */
import type * as tf from '@tensorflow/tfjs';

const CONV_CLASSES = new Set(['Conv1D', 'Conv2D', 'Conv3D']);

/**
 * Floating-point operations (2 per multiply-add) of every convolution application in `model` for one
 * input of the model's (fully defined) input shape: `2 * kernel volume * in channels * out channels *
 * output voxels` each. Throws when an output shape is not fully known.
 */
export function convFlops(model: tf.LayersModel): number {
  let total = 0;
  for (const layer of model.layers) {
    if (!CONV_CLASSES.has(layer.getClassName())) continue;
    const kernel = layer.weights[0]!.shape as number[]; // [...kernel, in, out], always defined for a conv
    const perVoxel = 2 * kernel.reduce((a, b) => a * b, 1);
    for (const node of layer.inboundNodes) {
      for (const out of node.outputTensors) {
        const spatial = out.shape.slice(1, -1);
        if (spatial.some((d) => d === null)) {
          throw new RangeError(`convFlops: layer '${layer.name}' has an undefined output size`);
        }
        total += perVoxel * (spatial as number[]).reduce((a, b) => a * b, 1);
      }
    }
  }
  return total;
}
