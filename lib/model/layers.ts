/**
 * The two custom tfjs layers RA-UNet needs (tfjs 4.x has no UpSampling3D, and its BatchNormalization
 * refuses rank-5 input). Both are built from elementary differentiable ops only (reshape, broadcasting
 * add/mul, mean, rsqrt), so their gradients come from tfjs autodiff and work on every backend
 * (cpu, wasm, tensorflow). Both are registered with `tf.serialization.registerClass` when this module
 * is imported, so saved models load again. Exact semantics are documented in docs/model.md.
 */
import * as tf from '@tensorflow/tfjs';

type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;
type Shape = Array<number | null>;
type Kwargs = { training?: boolean } & Record<string, unknown>;

function single<T>(x: T | T[]): T {
  if (Array.isArray(x)) {
    if (x.length !== 1) throw new Error(`expected exactly one input, got ${x.length}`);
    return x[0]!;
  }
  return x;
}

function shapeOf(inputShape: tf.Shape | tf.Shape[]): Shape {
  // A single shape is an array of numbers/nulls; a list of shapes is an array of arrays.
  const s = inputShape as unknown[];
  return (Array.isArray(s[0]) ? s[0] : s) as Shape;
}

export interface UpSampling3DArgs extends LayerArgs {
  /** Repeat factors along [z, y, x] (the tensor's axes 1, 2, 3). Default [2, 2, 2]. */
  size?: [number, number, number];
}

/**
 * Nearest-neighbour up-sampling of a rank-5 tensor [n, z, y, x, c]: every voxel is repeated
 * size[0] x size[1] x size[2] times, giving [n, z*sz, y*sy, x*sx, c]. No weights.
 * Implemented as three rank-4 broadcasting adds (one per axis), so the backward pass is a sum over
 * each repeated block, computed by autodiff on any backend.
 */
export class UpSampling3D extends tf.layers.Layer {
  static className = 'UpSampling3D';
  readonly size: [number, number, number];

  constructor(args: UpSampling3DArgs = {}) {
    super(args);
    this.size = args.size ?? [2, 2, 2];
    if (this.size.length !== 3 || this.size.some((f) => !Number.isInteger(f) || f < 1)) {
      throw new Error(`UpSampling3D: size must be three positive integers, got ${JSON.stringify(args.size)}`);
    }
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const s = shapeOf(inputShape);
    if (s.length !== 5) throw new Error(`UpSampling3D expects rank-5 input, got shape [${s.join(', ')}]`);
    const [n, z, y, x, c] = s;
    const up = (v: number | null | undefined, f: number) => (v == null ? null : v * f);
    return [n!, up(z, this.size[0]), up(y, this.size[1]), up(x, this.size[2]), c!] as tf.Shape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = single(inputs);
      if (x.rank !== 5) throw new Error(`UpSampling3D expects rank-5 input, got rank ${x.rank}`);
      const [n, z, y, w, c] = x.shape as number[];
      const [fz, fy, fx] = this.size;
      // Repeat each element of axis `len` f times: [outer, len, 1, inner] + zeros[1, 1, f, 1].
      const repeat = (t: tf.Tensor, outer: number, len: number, inner: number, f: number) =>
        f === 1 ? t : tf.add(tf.reshape(t, [outer, len, 1, inner]), tf.zeros([1, 1, f, 1]));
      const Z = z * fz;
      const Y = y * fy;
      const X = w * fx;
      let t = repeat(x, n, z, y * w * c, fz);
      t = repeat(t, n * Z, y, w * c, fy);
      t = repeat(t, n * Z * Y, w, c, fx);
      return tf.reshape(t, [n, Z, Y, X, c]);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), size: [...this.size] };
  }
}

export interface BatchNormNDArgs extends LayerArgs {
  /** Weight of the old value in the moving averages (Keras default 0.99). */
  momentum?: number;
  /** Added to the variance before the square root (Keras default 1e-3). */
  epsilon?: number;
}

/**
 * Batch normalisation over the last (channel) axis for input of any rank >= 2 (used for both the 2D
 * and 3D networks). Weights, in this order, each of shape [c]: gamma (trainable, init 1), beta
 * (trainable, init 0), moving_mean (non-trainable, init 0), moving_variance (non-trainable, init 1).
 *  - inference: y = (x - moving_mean) / sqrt(moving_variance + epsilon) * gamma + beta
 *  - training (`training: true`): mean and biased variance over all axes but the last, then
 *    y = (x - mean) / sqrt(variance + epsilon) * gamma + beta, and moving_X <- momentum * moving_X +
 *    (1 - momentum) * X for the batch mean and variance.
 * Identical to Keras/TF BatchNormalization(axis=-1, center=True, scale=True) in inference.
 */
export class BatchNormND extends tf.layers.Layer {
  static className = 'BatchNormND';
  /** Mutable so that `recomputeBatchNormStatistics` can average batch statistics exactly. */
  momentum: number;
  readonly epsilon: number;
  private gamma!: tf.LayerVariable;
  private beta!: tf.LayerVariable;
  private movingMean!: tf.LayerVariable;
  private movingVariance!: tf.LayerVariable;

  constructor(args: BatchNormNDArgs = {}) {
    super(args);
    this.momentum = args.momentum ?? 0.99;
    this.epsilon = args.epsilon ?? 1e-3;
    this.supportsMasking = true;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const s = shapeOf(inputShape);
    const c = s[s.length - 1];
    if (s.length < 2 || c == null) {
      throw new Error(
        `BatchNormND needs input of rank >= 2 with a known channel count, got [${s.join(', ')}]`,
      );
    }
    this.gamma = this.addWeight('gamma', [c], 'float32', tf.initializers.ones(), undefined, true);
    this.beta = this.addWeight('beta', [c], 'float32', tf.initializers.zeros(), undefined, true);
    this.movingMean = this.addWeight(
      'moving_mean',
      [c],
      'float32',
      tf.initializers.zeros(),
      undefined,
      false,
    );
    this.movingVariance = this.addWeight(
      'moving_variance',
      [c],
      'float32',
      tf.initializers.ones(),
      undefined,
      false,
    );
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return shapeOf(inputShape) as tf.Shape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs = {}): tf.Tensor {
    const x = single(inputs);
    const gamma = this.gamma.read();
    const beta = this.beta.read();
    if (kwargs.training !== true) {
      return tf.tidy(() => {
        const scale = tf.mul(gamma, tf.rsqrt(tf.add(this.movingVariance.read(), this.epsilon)));
        const offset = tf.sub(beta, tf.mul(this.movingMean.read(), scale));
        return tf.add(tf.mul(x, scale), offset);
      });
    }
    const axes = Array.from({ length: x.rank - 1 }, (_, i) => i);
    const { mean, variance } = tf.moments(x, axes);
    // Folded per-channel scale and shift: two broadcasting ops on the large tensor instead of four.
    const y = tf.tidy(() => {
      const scale = tf.mul(gamma, tf.rsqrt(tf.add(variance, this.epsilon)));
      return tf.add(tf.mul(x, scale), tf.sub(beta, tf.mul(mean, scale)));
    });
    const decay = 1 - this.momentum;
    const update = (v: tf.LayerVariable, batch: tf.Tensor) =>
      tf.tidy(() => {
        const old = v.read();
        v.write(tf.sub(old, tf.mul(tf.sub(old, batch), decay)));
      });
    update(this.movingMean, mean);
    update(this.movingVariance, variance);
    tf.dispose([mean, variance]);
    return y;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), momentum: this.momentum, epsilon: this.epsilon };
  }
}

tf.serialization.registerClass(UpSampling3D);
tf.serialization.registerClass(BatchNormND);

/** Class names of the custom layers (what the ONNX exporter must map beyond standard Keras layers). */
export const CUSTOM_LAYER_CLASSES = [UpSampling3D.className, BatchNormND.className] as const;
