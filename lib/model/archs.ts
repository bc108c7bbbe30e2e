/**
 * RA-UNet (Jin et al.) as tfjs layers: residual blocks, attention residual modules and the three
 * configurations of the paper (Tables II, III, VIII). Tensor layout [n, (z,) y, x, c], channels last.
 * The layer graph and layer names are documented in docs/model.md.
 */
import * as tf from '@tensorflow/tfjs';
import { InputError } from '../errors.ts';
import { BatchNormND, UpSampling3D } from './layers.ts';

export type ArchName = 'raunet1' | 'raunet2' | 'raunet2-brain';

export interface ArchSpec {
  name: ArchName;
  /** 2: slices [y, x, c]; 3: volumes [z, y, x, c]. */
  dims: 2 | 3;
  /** Channel widths: [conv1, res1, res2, res3, res4, res5/res6]. */
  widths: readonly [number, number, number, number, number, number];
  /** Input shape without the batch axis, [(z,) y, x, c]. */
  inputShape: readonly number[];
  channels: number;
  /** `model.countParams()` at width 1 (trainable + BN moving statistics). */
  params: number;
  description: string;
}

export const ARCHS: Record<ArchName, ArchSpec> = {
  raunet1: {
    name: 'raunet1',
    dims: 2,
    widths: [16, 16, 32, 64, 128, 256],
    inputShape: [256, 256, 1],
    channels: 1,
    params: 747_321,
    description: 'RA-UNet-I: 2D coarse liver localisation on 256x256 slices (Table II)',
  },
  raunet2: {
    name: 'raunet2',
    dims: 3,
    widths: [32, 32, 64, 128, 256, 512],
    inputShape: [32, 224, 224, 1],
    channels: 1,
    params: 4_439_697,
    description: 'RA-UNet-II: 3D liver (224x224x32) and tumor (128x128x32) segmentation (Table III)',
  },
  'raunet2-brain': {
    name: 'raunet2-brain',
    dims: 3,
    widths: [32, 64, 128, 256, 512, 512],
    inputShape: [64, 64, 64, 4],
    channels: 4,
    params: 12_813_377,
    description: 'RA-UNet for 4-channel brain MRI, 64x64x64 patches (Table VIII)',
  },
};

export function isArchName(s: string): s is ArchName {
  return Object.hasOwn(ARCHS, s);
}

/** Spatial sides must be divisible by 2^5: five poolings in the encoder, and the deepest attention
 * mask (depth 3 at the res1 level) pools four more times from half resolution. */
export const SIDE_MULTIPLE = 32;

/** Channel count at width multiplier `width`: round(c * width), at least 4. */
export function scaleWidth(c: number, width: number): number {
  return Math.max(4, Math.round(c * width));
}

export interface BuildOptions {
  /** Channel multiplier (default 1 = the paper's widths). */
  width?: number;
  /** Input shape without the batch axis, [(z,) y, x, c]; default the configuration's. */
  inputShape?: number[];
  /** Momentum of the BN moving statistics (default 0.99, the Keras default). */
  bnMomentum?: number;
  /**
   * Seed of the convolution kernels' initialisation (Glorot uniform, the Keras default): the same seed
   * builds the same weights, so a training run with seeded sampling is reproducible. Each convolution
   * draws from its own seed (seed + its index in build order). Default: unseeded.
   */
  seed?: number;
}

type SymT = tf.SymbolicTensor;

/** Builds layers of the right dimensionality with stable, descriptive names. */
class Builder {
  private convs = 0;

  constructor(
    readonly dims: 2 | 3,
    readonly bnMomentum = 0.99,
    readonly seed?: number,
  ) {}

  conv(x: SymT, filters: number, kernel: 1 | 3, name: string, activation?: 'sigmoid'): SymT {
    const index = this.convs++;
    const kernelInitializer =
      this.seed === undefined ? undefined : tf.initializers.glorotUniform({ seed: this.seed + index });
    const args = {
      filters,
      kernelSize: kernel,
      padding: 'same' as const,
      useBias: true,
      name,
      activation,
      kernelInitializer,
    };
    const layer = this.dims === 2 ? tf.layers.conv2d(args) : tf.layers.conv3d(args);
    return layer.apply(x) as SymT;
  }

  bn(x: SymT, name: string): SymT {
    return new BatchNormND({ name, momentum: this.bnMomentum }).apply(x) as SymT;
  }

  relu(x: SymT, name: string): SymT {
    return tf.layers.activation({ activation: 'relu', name }).apply(x) as SymT;
  }

  pool(x: SymT, name: string): SymT {
    const args = { poolSize: 2, strides: 2, padding: 'valid' as const, name };
    const layer = this.dims === 2 ? tf.layers.maxPooling2d(args) : tf.layers.maxPooling3d(args);
    return layer.apply(x) as SymT;
  }

  up(x: SymT, name: string): SymT {
    const layer =
      this.dims === 2
        ? tf.layers.upSampling2d({ size: [2, 2], interpolation: 'nearest', name })
        : new UpSampling3D({ size: [2, 2, 2], name });
    return layer.apply(x) as SymT;
  }

  add(xs: SymT[], name: string): SymT {
    return tf.layers.add({ name }).apply(xs) as SymT;
  }

  /**
   * Full pre-activation bottleneck residual block: BN-ReLU-conv1x1(out/4)-BN-ReLU-conv3x3(out/4)-
   * BN-ReLU-conv1x1(out), plus a 1x1 conv projection of the block input (always), summed.
   */
  residual(x: SymT, out: number, name: string): SymT {
    const mid = Math.max(1, Math.floor(out / 4));
    let y = this.relu(this.bn(x, `${name}_bn1`), `${name}_relu1`);
    y = this.conv(y, mid, 1, `${name}_conv1`);
    y = this.relu(this.bn(y, `${name}_bn2`), `${name}_relu2`);
    y = this.conv(y, mid, 3, `${name}_conv2`);
    y = this.relu(this.bn(y, `${name}_bn3`), `${name}_relu3`);
    y = this.conv(y, out, 1, `${name}_conv3`);
    const shortcut = this.conv(x, out, 1, `${name}_proj`);
    return this.add([y, shortcut], `${name}_add`);
  }

  /**
   * Attention residual module with soft-mask depth D; all blocks keep the channel count c.
   * x -> res `pre`; trunk T = res `trunk1`, `trunk2`; soft mask: pool, res `down0`, then D times
   * (res `skipK` on the current map, pool, res `downK`), then D times (res `upK`, upsample, add skipK),
   * res `up0`, upsample, conv1x1 `maskconv1`, conv1x1 + sigmoid `maskconv2` -> S;
   * (1 + S) * T computed as T + S*T (standard Multiply and Add layers); then res `post`.
   */
  attention(x: SymT, depth: number, name: string): SymT {
    const c = x.shape[x.shape.length - 1] as number;
    const input = this.residual(x, c, `${name}_pre`);
    let trunk = this.residual(input, c, `${name}_trunk1`);
    trunk = this.residual(trunk, c, `${name}_trunk2`);
    let m = this.pool(input, `${name}_pool0`);
    m = this.residual(m, c, `${name}_down0`);
    const skips: SymT[] = [];
    for (let k = 1; k <= depth; k++) {
      skips.push(this.residual(m, c, `${name}_skip${k}`));
      m = this.pool(m, `${name}_pool${k}`);
      m = this.residual(m, c, `${name}_down${k}`);
    }
    for (let k = depth; k >= 1; k--) {
      m = this.residual(m, c, `${name}_up${k}`);
      m = this.up(m, `${name}_upsample${k}`);
      m = this.add([m, skips[k - 1]!], `${name}_skipadd${k}`);
    }
    m = this.residual(m, c, `${name}_up0`);
    m = this.up(m, `${name}_upsample0`);
    m = this.conv(m, c, 1, `${name}_maskconv1`);
    const s = this.conv(m, c, 1, `${name}_maskconv2`, 'sigmoid');
    const st = tf.layers.multiply({ name: `${name}_mask_mul` }).apply([s, trunk]) as SymT;
    const out = this.add([trunk, st], `${name}_mask_add`);
    return this.residual(out, c, `${name}_post`);
  }

  concat(xs: SymT[], name: string): SymT {
    return tf.layers.concatenate({ axis: -1, name }).apply(xs) as SymT;
  }
}

/** Builds an RA-UNet configuration (fresh random weights, not compiled). */
export function buildRAUNet(arch: ArchName, opts: BuildOptions = {}): tf.LayersModel {
  const spec = ARCHS[arch];
  if (!spec)
    throw new InputError(`unknown architecture '${arch}' (expected ${Object.keys(ARCHS).join(', ')})`);
  const width = opts.width ?? 1;
  if (!(width > 0) || !Number.isFinite(width)) {
    throw new InputError(`width multiplier must be a positive number, got ${opts.width}`);
  }
  const inputShape = opts.inputShape ?? [...spec.inputShape];
  validateInputShape(spec, inputShape);
  const w = spec.widths.map((c) => scaleWidth(c, width));
  if (opts.seed !== undefined && !Number.isSafeInteger(opts.seed)) {
    throw new InputError(`weight seed must be an integer, got ${opts.seed}`);
  }
  const b = new Builder(spec.dims, opts.bnMomentum, opts.seed);

  const input = tf.input({ shape: inputShape, name: 'input' });
  let conv1 = b.conv(input, w[0]!, 3, 'conv1');
  conv1 = b.relu(b.bn(conv1, 'conv1_bn'), 'conv1_relu');
  const res1 = b.residual(b.pool(conv1, 'pool1'), w[1]!, 'res1');
  const res2 = b.residual(b.pool(res1, 'pool2'), w[2]!, 'res2');
  const res3 = b.residual(b.pool(res2, 'pool3'), w[3]!, 'res3');
  const res4 = b.residual(b.pool(res3, 'pool4'), w[4]!, 'res4');
  let x = b.residual(b.pool(res4, 'pool5'), w[5]!, 'res5');
  x = b.residual(x, w[5]!, 'res6');
  // Decoder: upsample, concatenate with the attention-filtered encoder map, residual block.
  const levels: Array<[SymT, number, number]> = [
    [res4, 0, w[4]!],
    [res3, 1, w[3]!],
    [res2, 2, w[2]!],
    [res1, 3, w[1]!],
  ];
  levels.forEach(([skip, depth, out], i) => {
    const up = b.up(x, `up${i + 1}`);
    const att = b.attention(skip, depth, `att${i + 1}`);
    x = b.residual(b.concat([up, att], `concat${i + 1}`), out, `res${i + 7}`);
  });
  x = b.concat([b.up(x, 'up5'), conv1], 'concat5');
  x = b.conv(x, w[0]!, 3, 'conv2');
  x = b.relu(b.bn(x, 'conv2_bn'), 'conv2_relu');
  const output = b.conv(x, 1, 3, 'conv3', 'sigmoid');
  return tf.model({ inputs: input, outputs: output, name: `${arch}${width === 1 ? '' : `_w${width}`}` });
}

function validateInputShape(spec: ArchSpec, shape: number[]): void {
  const rank = spec.dims + 1;
  const bad = (why: string) =>
    new InputError(`input shape [${shape.join(', ')}] does not fit ${spec.name}: ${why}`, 'BAD_ARGUMENT');
  if (shape.length !== rank) throw bad(`expected ${rank} values [${spec.dims === 3 ? 'z, ' : ''}y, x, c]`);
  const spatial = shape.slice(0, -1);
  if (spatial.some((s) => !Number.isInteger(s) || s <= 0 || s % SIDE_MULTIPLE !== 0)) {
    throw bad(`every spatial side must be a positive multiple of ${SIDE_MULTIPLE}`);
  }
  const c = shape[shape.length - 1]!;
  if (!Number.isInteger(c) || c <= 0) throw bad('channel count must be a positive integer');
}
