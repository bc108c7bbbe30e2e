/**
 * Converts a TensorFlow.js LayersModel (any RA-UNet configuration and width, or any graph built from
 * the same layer types) to an ONNX model, written by our own protobuf encoder (`onnx/onnx-model.ts`).
 *
 * Layout: tfjs is channels last, ONNX convolutions are channels first. The graph input keeps the
 * project's tensor layout ([n, (z,) y, x, c], see engine.ts) and is transposed once to [n, c, (z,) y, x];
 * every output is transposed back once at the end. Spatial and batch dimensions are symbolic, so one
 * exported model runs any input size the network accepts.
 *
 * Batch norm (inference mode: y = s * x + t with s = gamma / sqrt(var + eps), t = beta - mean * s) is
 * folded where that is exact:
 *  - into the preceding conv when the conv is linear and the BN is its only consumer:
 *    w'[o] = w[o] * s[o], b'[o] = b[o] * s[o] + t[o];
 *  - into the following conv when the BN's only consumer is a conv that pads nothing (1x1 kernel or
 *    'valid'): w'[o, i] = w[o, i] * s[i], b'[o] = b[o] + sum_{i,k} w[o, i, k] * t[i]. With zero padding this
 *    would be wrong (the padded zeros would no longer pass through the affine map), so it is not done.
 * Any other BN becomes an ONNX BatchNormalization node (RA-UNet's pre-activation blocks have BN after
 * an Add, a Concatenate or a pooling; those stay).
 *
 * Nearest up-sampling by integer factors is a repeat of every voxel. In 3D it is exported by default as
 * Unsqueeze (a length-1 axis after each spatial axis) -> Expand (that axis to the factor) -> Reshape (merge
 * each pair): a broadcast copy, which ONNX Runtime's CPU provider runs in less time than its generic
 * rank-5 nearest `Resize`, which also runs on one thread (issue 16: a RA-UNet-II pass ~20% faster;
 * docs/inference.md). In 2D, `Resize` is as fast in wall time and cheaper in CPU, so it stays.
 * `upsampling: 'expand' | 'resize'` forces one form. Both give bitwise the same values.
 *
 * A 3x3(x3) convolution of an up-sampled map (or of a concatenation holding one) is written as 2^d small
 * convolutions of the map before up-sampling, one per output parity, interleaved by DepthToSpace and
 * added to the convolution of the other concatenated channels (`onnx/upsampled-conv.ts`; 3D by default):
 * RA-UNet's last decoder convolution is most of its arithmetic, and half of it becomes 8/27 as much
 * (issue 16).
 */
import type * as tf from '@tensorflow/tfjs';
import { DEPTH_TAP_MAX_OUTPUTS, depthTapBias, depthTapKernel } from './onnx/depth-tap-conv.ts';
import {
  encodeOnnxModel,
  type OnnxAttribute,
  type OnnxModel,
  type OnnxNode,
  type OnnxTensor,
  type OnnxValueInfo,
} from './onnx/onnx-model.ts';
import { kernelChannels, parityBits, parityKernel, parityPads } from './onnx/upsampled-conv.ts';

export const ONNX_OPSET = 17;
const ONNX_IR_VERSION = 8;

export interface ExportOptions {
  /** Fold batch norms into adjacent convolutions where exact (default true). */
  foldBatchNorm?: boolean;
  /** How nearest up-sampling is written (default 'auto': Expand in 3D, Resize in 2D; see above). */
  upsampling?: 'auto' | 'expand' | 'resize';
  /**
   * How a 3x3(x3) 'same' convolution of a channel concatenation holding a nearest 2x up-sampling (or of
   * the up-sampling itself) is written; all forms are equal up to summation order:
   *  - 'direct': the up-sampling, the concatenation and one convolution;
   *  - 'split': one convolution per concatenated part, summed (no concatenation is built);
   *  - 'low-res': as 'split', with each up-sampled part convolved at the low resolution
   *    (`onnx/upsampled-conv.ts`; no up-sampled map is built either);
   *  - 'auto' (default): 'low-res' in 3D (a RA-UNet-II pass ~25% faster), 'split' in 2D (a RA-UNet-I
   *    pass ~13% faster; the low-resolution form made it ~11% slower: ONNX Runtime's blocked 2D
   *    convolutions are fast already and the interleaving costs more than it saves there).
   */
  upsampledConvForm?: UpsampledConvForm;
  /**
   * A 3D 3x3x3 'same' convolution with at most 4 output channels is written as a (1,3,3) convolution to
   * one output group per depth tap plus a sum shifted along z (`onnx/depth-tap-conv.ts`; default true):
   * RA-UNet-II's last layer ~30% faster. Equal up to summation order.
   */
  depthTapConvs?: boolean;
}

export type UpsampledConvForm = 'auto' | 'direct' | 'split' | 'low-res';

/** Serialises `model` to ONNX bytes (the content of a `model.onnx` file). */
export function exportToOnnx(model: tf.LayersModel, opts: ExportOptions = {}): Uint8Array {
  return encodeOnnxModel(convertToOnnx(model, opts));
}

// ---- tfjs graph access (structural types over the public fields of tfjs-layers) ----------------------

export interface SymTensor {
  readonly id: number;
  readonly shape: Array<number | null>;
  sourceLayer: Layer;
  nodeIndex: number;
  tensorIndex: number;
}
export interface GraphNode {
  inputTensors: SymTensor[];
  outputTensors: SymTensor[];
}
export interface Layer {
  readonly name: string;
  inboundNodes: GraphNode[];
  weights: Array<{ name: string; shape: number[] }>;
  getWeights(): tf.Tensor[];
  getConfig(): Record<string, unknown>;
  getClassName(): string;
}
export interface Step {
  layer: Layer;
  nodeIndex: number;
  node: GraphNode;
}

/** Layer applications in dependency order, walking back from the model outputs. */
export function orderedSteps(outputs: SymTensor[]): Step[] {
  const steps: Step[] = [];
  const seen = new Set<string>();
  const visit = (t: SymTensor) => {
    const layer = t.sourceLayer;
    const key = `${layer.name}#${t.nodeIndex}`;
    if (seen.has(key)) return;
    seen.add(key);
    const node = layer.inboundNodes[t.nodeIndex];
    if (!node) throw new Error(`onnx export: layer '${layer.name}' has no inbound node ${t.nodeIndex}`);
    for (const i of node.inputTensors) visit(i);
    steps.push({ layer, nodeIndex: t.nodeIndex, node });
  };
  for (const o of outputs) visit(o);
  return steps;
}

// ---- weight helpers ----------------------------------------------------------------------------------

/** Weight name without the layer prefix and the `_N` suffix tfjs adds to repeated variable names. */
function shortName(name: string): string {
  return name.slice(name.lastIndexOf('/') + 1).replace(/_\d+$/, '');
}

function namedWeights(layer: Layer): Map<string, Float32Array> {
  const values = layer.getWeights();
  const out = new Map<string, Float32Array>();
  layer.weights.forEach((w, k) => {
    out.set(shortName(w.name), Float32Array.from(values[k]!.dataSync() as Float32Array));
  });
  // getWeights() returns the variables' own tensors: they must not be disposed here.
  return out;
}

/** tfjs conv kernel [k1..kn, in, out] -> ONNX [out, in, k1..kn]. */
export function kernelToOnnx(kernel: Float32Array, shape: readonly number[]): Float32Array {
  const cin = shape[shape.length - 2]!;
  const cout = shape[shape.length - 1]!;
  const k = shape.slice(0, -2).reduce((a, b) => a * b, 1);
  const out = new Float32Array(kernel.length);
  for (let p = 0; p < k; p++) {
    for (let i = 0; i < cin; i++) {
      const src = (p * cin + i) * cout;
      for (let o = 0; o < cout; o++) out[(o * cin + i) * k + p] = kernel[src + o]!;
    }
  }
  return out;
}

/** Per-channel affine map y = scale * x + offset of an inference-mode batch norm (float64). */
export interface Affine {
  scale: Float64Array;
  offset: Float64Array;
}

export function batchNormAffine(
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  mean: ArrayLike<number>,
  variance: ArrayLike<number>,
  epsilon: number,
): Affine {
  const c = mean.length;
  const scale = new Float64Array(c);
  const offset = new Float64Array(c);
  for (let i = 0; i < c; i++) {
    scale[i] = gamma[i]! / Math.sqrt(variance[i]! + epsilon);
    offset[i] = beta[i]! - mean[i]! * scale[i]!;
  }
  return { scale, offset };
}

/** Conv weights in ONNX layout, mutable until the graph is encoded (BN folding rewrites them). */
interface ConvWeights {
  w: OnnxTensor & { dataType: 'float32' };
  b: OnnxTensor & { dataType: 'float32' };
  cout: number;
  cin: number;
}

/** Affine applied after the conv (per output channel). */
function foldAfter(conv: ConvWeights, a: Affine): void {
  const { w, b, cout } = conv;
  const per = w.data.length / cout;
  for (let o = 0; o < cout; o++) {
    const s = a.scale[o]!;
    for (let j = 0; j < per; j++) w.data[o * per + j] = w.data[o * per + j]! * s;
    b.data[o] = b.data[o]! * s + a.offset[o]!;
  }
}

/** Affine applied to the conv's input (per input channel); exact only if the conv pads nothing. */
function foldBefore(conv: ConvWeights, a: Affine): void {
  const { w, b, cout, cin } = conv;
  const k = w.data.length / (cout * cin);
  for (let o = 0; o < cout; o++) {
    let shift = b.data[o]!;
    for (let i = 0; i < cin; i++) {
      const base = (o * cin + i) * k;
      let sum = 0;
      for (let p = 0; p < k; p++) sum += w.data[base + p]!;
      shift += sum * a.offset[i]!;
      for (let p = 0; p < k; p++) w.data[base + p] = w.data[base + p]! * a.scale[i]!;
    }
    b.data[o] = shift;
  }
}

// ---- conversion ----------------------------------------------------------------------------------

const SPATIAL_NAMES = ['z', 'y', 'x'];

function symbolicShape(shape: Array<number | null>, prefix: string): Array<number | string> {
  const spatial = shape.length - 2;
  return shape.map((d, k) => {
    if (k === 0) return 'batch';
    if (k === shape.length - 1 && d != null) return d;
    const axis = k - 1;
    return spatial <= 3 ? `${prefix}${SPATIAL_NAMES[3 - spatial + axis]}` : `${prefix}s${axis}`;
  });
}

/** Channels-last tfjs axis -> channels-first ONNX axis, for a tensor of rank `rank`. */
function channelsFirstAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a === 0) return 0;
  if (a === rank - 1) return 1;
  return a + 1;
}

const ints = (name: string, value: number[]): OnnxAttribute => ({ name, kind: 'ints', value });
const int = (name: string, value: number): OnnxAttribute => ({ name, kind: 'int', value });
const str = (name: string, value: string): OnnxAttribute => ({ name, kind: 'string', value });
const float = (name: string, value: number): OnnxAttribute => ({ name, kind: 'float', value });

const ACTIVATIONS: Record<string, { op: string; attrs?: (rank: number) => OnnxAttribute[] } | null> = {
  linear: null,
  relu: { op: 'Relu' },
  sigmoid: { op: 'Sigmoid' },
  tanh: { op: 'Tanh' },
  elu: { op: 'Elu' },
  softplus: { op: 'Softplus' },
  softmax: { op: 'Softmax', attrs: (rank) => [int('axis', rank > 2 ? 1 : -1)] },
};

const ELEMENTWISE: Record<string, { binary: string; nary?: string }> = {
  Add: { binary: 'Add', nary: 'Sum' },
  Multiply: { binary: 'Mul' },
  Subtract: { binary: 'Sub' },
  Maximum: { binary: 'Max', nary: 'Max' },
  Minimum: { binary: 'Min', nary: 'Min' },
  Average: { binary: 'Mean', nary: 'Mean' },
};

const PASS_THROUGH = new Set(['Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianNoise']);

/** A 'same' convolution with a kernel of 3 along every axis, stride 1 and dilation 1 (the rewritten forms). */
function isSame3Kernel(cfg: Record<string, unknown>): boolean {
  const all = (v: unknown, n: number) => (v as number[]).every((d) => d === n);
  return cfg.padding === 'same' && all(cfg.kernelSize, 3) && all(cfg.strides, 1) && all(cfg.dilationRate, 1);
}

/** A conv layer's fused activation, and the name of its output before that activation. */
function activationOf(cfg: Record<string, unknown>, outName: string) {
  const activation = String(cfg.activation ?? 'linear');
  return { activation, linearOut: activation === 'linear' ? outName : `${outName}_linear` };
}

/**
 * One channel range of a convolution's input: an up-sampled map convolved at the low resolution (`name` is
 * the map before up-sampling) or a tensor convolved as it is.
 */
interface ConvInputPart {
  lowRes: boolean;
  name: string;
  channels: number;
}

class Converter {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxTensor[] = [];
  private readonly names = new Map<number, string>();
  private readonly consumers = new Map<number, Step[]>();
  private readonly modelOutputs = new Set<number>();
  /** Convs whose output may still absorb a following BN, by ONNX output name. */
  private readonly foldableConvs = new Map<string, ConvWeights>();
  /** BN outputs deferred into the next conv: symbolic id -> source name and affine map. */
  private readonly pending = new Map<number, { source: string; affine: Affine }>();
  private readonly constants = new Map<string, string>();
  /**
   * Up-samplings and concatenations that are not written because the one convolution reading them is
   * split over their parts: symbolic id -> the input channel ranges they stand for.
   */
  private readonly splitInputs = new Map<number, ConvInputPart[]>();
  /** Fill initializers derived from weights that BN folding may still rewrite; run by `finish`. */
  private readonly derivations: Array<() => void> = [];
  readonly foldedBatchNorms: string[] = [];

  constructor(
    steps: Step[],
    outputs: SymTensor[],
    private readonly fold: boolean,
    private readonly upsampling: 'auto' | 'expand' | 'resize' = 'auto',
    private readonly upsampledConvForm: UpsampledConvForm = 'auto',
    private readonly depthTapConvs = true,
  ) {
    for (const s of steps) {
      for (const t of s.node.inputTensors) {
        const list = this.consumers.get(t.id) ?? [];
        list.push(s);
        this.consumers.set(t.id, list);
      }
    }
    for (const o of outputs) this.modelOutputs.add(o.id);
  }

  nameOf(t: SymTensor): string {
    const n = this.names.get(t.id);
    if (n === undefined) {
      if (this.splitInputs.has(t.id)) {
        throw new Error(`onnx export: internal error, '${t.sourceLayer.name}' was folded into a convolution`);
      }
      if (this.pending.has(t.id)) throw new Error('onnx export: internal error, deferred BN read twice');
      throw new Error(`onnx export: tensor of layer '${t.sourceLayer.name}' used before it was produced`);
    }
    return n;
  }

  private outName(step: Step, k = 0): string {
    const suffix = step.nodeIndex > 0 ? `_n${step.nodeIndex}` : '';
    return `${step.layer.name}${suffix}${k > 0 ? `:${k}` : ''}`;
  }

  private emit(opType: string, inputs: string[], output: string, attributes: OnnxAttribute[] = []): string {
    this.nodes.push({ opType, name: output, inputs, outputs: [output], attributes });
    return output;
  }

  private floatConst(name: string, dims: number[], data: Float32Array): OnnxTensor & { dataType: 'float32' } {
    const t = { name, dims, dataType: 'float32' as const, data };
    this.initializers.push(t);
    return t;
  }

  private sharedFloatConst(values: number[]): string {
    const key = `const_${values.join('_')}`;
    if (!this.constants.has(key)) {
      this.floatConst(key, [values.length], Float32Array.from(values));
      this.constants.set(key, key);
    }
    return key;
  }

  private sharedInt64Const(values: number[]): string {
    const key = `const_i64_${values.join('_')}`;
    if (!this.constants.has(key)) {
      this.initializers.push({ name: key, dims: [values.length], dataType: 'int64', data: values });
      this.constants.set(key, key);
    }
    return key;
  }

  /**
   * Nearest up-sampling of channels-first `input` by integer `factors` (one per spatial axis) as a
   * broadcast: [n, c, d1, .., dk] -> Unsqueeze -> [n, c, d1, 1, .., dk, 1] -> Expand -> [n, c, d1, f1, ..,
   * dk, fk] -> Reshape to Shape(input) * [1, 1, f1, .., fk] = [n, c, d1*f1, .., dk*fk]. In row-major order
   * the output voxel (.., i*f + r, ..) is input voxel (.., i, ..) for every r < f: a repeat, as `Resize`
   * nearest/asymmetric/floor computes it.
   */
  private upsampleByExpand(input: string, factors: number[], outName: string): string {
    const axes = factors.map((_, j) => 3 + 2 * j);
    const repeat = [1, 1, ...factors.flatMap((f) => [1, f])];
    const unsqueezed = this.emit('Unsqueeze', [input, this.sharedInt64Const(axes)], `${outName}_unsqueeze`);
    const expanded = this.emit('Expand', [unsqueezed, this.sharedInt64Const(repeat)], `${outName}_expand`);
    const shape = this.emit('Shape', [input], `${outName}_shape`);
    const target = this.emit('Mul', [shape, this.sharedInt64Const([1, 1, ...factors])], `${outName}_target`);
    return this.emit('Reshape', [expanded, target], outName);
  }

  /** The single consumer of `t` if it has exactly one and is not a model output. */
  private soleConsumer(t: SymTensor): Step | undefined {
    const c = this.consumers.get(t.id) ?? [];
    return c.length === 1 && !this.modelOutputs.has(t.id) ? c[0] : undefined;
  }

  /** Computes the derived initializers from the final weights (call once every step is converted). */
  finish(): void {
    for (const derive of this.derivations.splice(0)) derive();
  }

  private derivedFloatConst(name: string, dims: number[], compute: () => Float32Array): string {
    const t = this.floatConst(name, dims, new Float32Array(dims.reduce((a, b) => a * b, 1)));
    this.derivations.push(() => t.data.set(compute()));
    return name;
  }

  /**
   * The form a 2D/3D 3x3(x3) 'same' convolution with stride and dilation 1 takes when its input holds a
   * 2x up-sampling ('direct' for any other step).
   */
  private convFormOf(step: Step | undefined): Exclude<UpsampledConvForm, 'auto'> {
    if (!step) return 'direct';
    const cls = step.layer.getClassName();
    if (cls !== 'Conv2D' && cls !== 'Conv3D') return 'direct';
    if (!isSame3Kernel(step.layer.getConfig())) return 'direct';
    if (this.upsampledConvForm !== 'auto') return this.upsampledConvForm;
    return cls === 'Conv3D' ? 'low-res' : 'split';
  }

  /** The form of the convolution reading a channel concatenation as its only reader ('direct' otherwise). */
  private concatConvForm(step: Step | undefined): Exclude<UpsampledConvForm, 'auto'> {
    if (step?.layer.getClassName() !== 'Concatenate') return 'direct';
    const out = step.node.outputTensors[0]!;
    const axis = Number(step.layer.getConfig().axis ?? -1);
    const channelAxis = axis === -1 || axis === out.shape.length - 1;
    return channelAxis ? this.convFormOf(this.soleConsumer(out)) : 'direct';
  }

  /** True when `t` is the output of a nearest 2x up-sampling (the case the split forms are for). */
  private isUpsampledBy2(t: SymTensor): boolean {
    const cls = t.sourceLayer.getClassName();
    if (cls !== 'UpSampling2D' && cls !== 'UpSampling3D') return false;
    const cfg = t.sourceLayer.getConfig();
    const nearest = cfg.interpolation === undefined || cfg.interpolation === 'nearest';
    return nearest && (cfg.size as number[]).every((f) => f === 2);
  }

  /**
   * A nearest 2x up-sampling read only by a convolution in the low-resolution form, directly or through a
   * concatenation: it is not written.
   */
  private upsamplingFoldsIntoConv(step: Step): boolean {
    const out = step.node.outputTensors[0]!;
    if (!this.isUpsampledBy2(out)) return false;
    const next = this.soleConsumer(out);
    return this.convFormOf(next) === 'low-res' || this.concatConvForm(next) === 'low-res';
  }

  /**
   * Interleaves the 2^d parity-class outputs [n, c, (z,) y, x] (class index = parity bits, first axis
   * first) into [n, c, (2z,) 2y, 2x]. Stacking the classes right after z puts them, flattened with c and z,
   * in the channel order DepthToSpace (CRD) expects: ((c * z + k) * 2 + pz) * 4 + py * 2 + px, so the only
   * element-wise shuffle is DepthToSpace's own; the stacking copies whole y-x planes.
   */
  private interleaveParities(classes: string[], dims: number, name: string): string {
    const stackAxis = dims === 3 ? 3 : 2;
    const unsqueezed = classes.map((c, k) =>
      this.emit('Unsqueeze', [c, this.sharedInt64Const([stackAxis])], `${name}_unsqueeze${k}`),
    );
    const stacked = this.emit('Concat', unsqueezed, `${name}_stack`, [int('axis', stackAxis)]);
    let flatShape: string;
    if (dims === 3) {
      const lead = this.emit('Shape', [classes[0]!], `${name}_batch`, [int('start', 0), int('end', 1)]);
      const plane = this.emit('Shape', [classes[0]!], `${name}_plane`, [int('start', 3)]);
      flatShape = this.emit('Concat', [lead, this.sharedInt64Const([-1]), plane], `${name}_flat_shape`, [
        int('axis', 0),
      ]);
    } else {
      const shape = this.emit('Shape', [classes[0]!], `${name}_class_shape`);
      flatShape = this.emit('Mul', [shape, this.sharedInt64Const([1, 4, 1, 1])], `${name}_flat_shape`);
    }
    const flat = this.emit('Reshape', [stacked, flatShape], `${name}_flat`);
    const attrs = [int('blocksize', 2), str('mode', 'CRD')];
    if (dims === 2) return this.emit('DepthToSpace', [flat], name, attrs);
    const spread = this.emit('DepthToSpace', [flat], `${name}_d2s`, attrs);
    const shape = this.emit('Shape', [classes[0]!], `${name}_class_shape`);
    const target = this.emit('Mul', [shape, this.sharedInt64Const([1, 1, 2, 2, 2])], `${name}_shape`);
    return this.emit('Reshape', [spread, target], name);
  }

  addInput(t: SymTensor, name: string): OnnxValueInfo {
    const rank = t.shape.length;
    const info = { name, shape: symbolicShape(t.shape, '') };
    if (rank < 3) {
      this.names.set(t.id, name);
    } else {
      const perm = [0, rank - 1, ...Array.from({ length: rank - 2 }, (_, k) => k + 1)];
      this.names.set(t.id, this.emit('Transpose', [name], `${name}_channels_first`, [ints('perm', perm)]));
    }
    return info;
  }

  addOutput(t: SymTensor, name: string): OnnxValueInfo {
    const rank = t.shape.length;
    const source = this.nameOf(t);
    if (rank < 3) {
      this.emit('Identity', [source], name);
    } else {
      const perm = [0, ...Array.from({ length: rank - 2 }, (_, k) => k + 2), 1];
      this.emit('Transpose', [source], name, [ints('perm', perm)]);
    }
    return { name, shape: symbolicShape(t.shape, '') };
  }

  convert(step: Step): void {
    const { layer, node } = step;
    const cls = layer.getClassName();
    const cfg = layer.getConfig();
    const inputs = node.inputTensors;
    const out = node.outputTensors[0]!;
    const outName = this.outName(step);
    const rank = out.shape.length;
    if (cls === 'InputLayer') return;
    if (cfg.dataFormat !== undefined && cfg.dataFormat !== 'channelsLast') {
      throw new Error(
        `onnx export: layer '${layer.name}' uses dataFormat ${cfg.dataFormat}; only channelsLast`,
      );
    }
    const one = () => {
      if (inputs.length !== 1) throw new Error(`onnx export: layer '${layer.name}' expects one input`);
      return inputs[0]!;
    };
    switch (cls) {
      case 'Conv1D':
      case 'Conv2D':
      case 'Conv3D':
        this.conv(step, one(), outName, cfg);
        return;
      case 'BatchNormalization':
      case 'BatchNormND':
        this.batchNorm(step, one(), outName, cfg);
        return;
      case 'Activation':
        this.activation(layer, this.nameOf(one()), outName, String(cfg.activation), rank, out);
        return;
      case 'ReLU':
        if (cfg.maxValue != null) throw new Error(`onnx export: ReLU '${layer.name}' with maxValue`);
        this.names.set(out.id, this.emit('Relu', [this.nameOf(one())], outName));
        return;
      case 'MaxPooling1D':
      case 'MaxPooling2D':
      case 'MaxPooling3D':
      case 'AveragePooling1D':
      case 'AveragePooling2D':
      case 'AveragePooling3D':
        this.pool(layer, cls.startsWith('Max') ? 'MaxPool' : 'AveragePool', one(), outName, out, cfg);
        return;
      case 'UpSampling2D':
      case 'UpSampling3D': {
        if (cfg.interpolation !== undefined && cfg.interpolation !== 'nearest') {
          throw new Error(
            `onnx export: '${layer.name}' uses ${cfg.interpolation} interpolation; only nearest`,
          );
        }
        if (this.upsamplingFoldsIntoConv(step)) {
          const channels = one().shape[rank - 1]!;
          this.splitInputs.set(out.id, [{ lowRes: true, name: this.nameOf(one()), channels }]);
          return;
        }
        const size = cfg.size as number[];
        const expand = this.upsampling === 'expand' || (this.upsampling === 'auto' && size.length === 3);
        if (expand && size.every((f) => Number.isInteger(f) && f >= 1)) {
          this.names.set(out.id, this.upsampleByExpand(this.nameOf(one()), size, outName));
          return;
        }
        const scales = this.sharedFloatConst([1, 1, ...size]);
        const attrs = [
          str('mode', 'nearest'),
          str('coordinate_transformation_mode', 'asymmetric'),
          str('nearest_mode', 'floor'),
        ];
        this.names.set(out.id, this.emit('Resize', [this.nameOf(one()), '', scales], outName, attrs));
        return;
      }
      case 'Concatenate': {
        if (inputs.some((t) => this.isUpsampledBy2(t)) && this.concatConvForm(step) !== 'direct') {
          const parts = inputs.flatMap(
            (t) =>
              this.splitInputs.get(t.id) ?? [
                { lowRes: false, name: this.nameOf(t), channels: t.shape[rank - 1]! },
              ],
          );
          this.splitInputs.set(out.id, parts);
          return;
        }
        const axis = channelsFirstAxis(Number(cfg.axis ?? -1), rank);
        const ins = inputs.map((t) => this.nameOf(t));
        this.names.set(out.id, this.emit('Concat', ins, outName, [int('axis', axis)]));
        return;
      }
      default:
        break;
    }
    const ew = ELEMENTWISE[cls];
    if (ew) {
      const ins = inputs.map((t) => this.nameOf(t));
      if (ins.length === 2 || !ew.nary) {
        let acc = ins[0]!;
        for (let k = 1; k < ins.length; k++) {
          acc = this.emit(ew.binary, [acc, ins[k]!], k === ins.length - 1 ? outName : `${outName}_${k}`);
        }
        this.names.set(out.id, acc);
      } else {
        this.names.set(out.id, this.emit(ew.nary, ins, outName));
      }
      return;
    }
    if (PASS_THROUGH.has(cls)) {
      this.names.set(out.id, this.nameOf(one()));
      return;
    }
    throw new Error(`onnx export: layer '${layer.name}' of class ${cls} is not supported`);
  }

  private activation(layer: Layer, input: string, outName: string, fn: string, rank: number, out: SymTensor) {
    if (!(fn in ACTIVATIONS))
      throw new Error(`onnx export: activation '${fn}' of '${layer.name}' is not supported`);
    const a = ACTIVATIONS[fn];
    this.names.set(out.id, a ? this.emit(a.op, [input], outName, a.attrs?.(rank) ?? []) : input);
  }

  /**
   * A conv layer's kernel (ONNX layout) and bias, each written as an initializer when `initializers` says
   * so (derived forms of the convolution compute their own from them instead).
   */
  private convWeights(layer: Layer, outName: string, initializers: { kernel: boolean; bias: boolean }) {
    const weights = namedWeights(layer);
    const kernelShape = layer.weights.find((w) => shortName(w.name) === 'kernel')?.shape;
    const kernel = weights.get('kernel');
    if (!kernel || !kernelShape) throw new Error(`onnx export: conv '${layer.name}' has no kernel`);
    const spatialKernel = kernelShape.slice(0, -2);
    const cin = kernelShape[kernelShape.length - 2]!;
    const cout = kernelShape[kernelShape.length - 1]!;
    const dims = [cout, cin, ...spatialKernel];
    const onnxKernel = kernelToOnnx(kernel, kernelShape);
    const constant = (name: string, shape: number[], data: Float32Array, initializer: boolean) =>
      initializer
        ? this.floatConst(name, shape, data)
        : { name, dims: shape, dataType: 'float32' as const, data };
    const conv: ConvWeights = {
      w: constant(`${outName}_W`, dims, onnxKernel, initializers.kernel),
      b: constant(`${outName}_B`, [cout], weights.get('bias') ?? new Float32Array(cout), initializers.bias),
      cout,
      cin,
    };
    return { conv, spatialKernel };
  }

  /** Emits the fused activation of a conv layer after `linearOut`, or records the conv as foldable. */
  private finishConv(step: Step, conv: ConvWeights, linearOut: string, outName: string, activation: string) {
    const out = step.node.outputTensors[0]!;
    if (activation === 'linear') {
      this.names.set(out.id, linearOut);
      this.foldableConvs.set(linearOut, conv);
    } else {
      this.activation(step.layer, linearOut, outName, activation, out.shape.length, out);
    }
  }

  /**
   * A 3x3(x3) 'same' conv over the channel ranges `parts`, summed: a part convolved as it is goes through
   * an ordinary conv with its input channels of the kernel, an up-sampled part in the low-resolution form
   * through one 2x2(x2) conv per output parity of the map before up-sampling (`onnx/upsampled-conv.ts`),
   * interleaved. The bias is added once, by the first term. The derived kernels are computed from the
   * final weights, after any following BN has been folded into them.
   */
  private splitConv(step: Step, parts: ConvInputPart[], outName: string, cfg: Record<string, unknown>) {
    const { conv, spatialKernel } = this.convWeights(step.layer, outName, { kernel: false, bias: true });
    const { cout, cin } = conv;
    const dims = spatialKernel.length;
    const { activation, linearOut } = activationOf(cfg, outName);
    let from = 0;
    const ranges = parts.map((p) => {
      const range = { ...p, from };
      from += p.channels;
      return range;
    });
    if (from !== cin)
      throw new Error(`onnx export: internal error, '${step.layer.name}' parts do not add up`);
    const direct = ranges.filter((r) => !r.lowRes);
    const lowRes = ranges.filter((r) => r.lowRes);
    const terms = direct.map((r, k) => {
      const w = this.derivedFloatConst(`${outName}_direct${k}_W`, [cout, r.channels, ...spatialKernel], () =>
        kernelChannels(conv.w.data, cout, cin, r.from, r.channels),
      );
      const inputs = [r.name, w, ...(k === 0 ? [conv.b.name] : [])];
      const pads = ints('pads', new Array(2 * dims).fill(1));
      return this.emit('Conv', inputs, `${outName}_direct${k}`, [ints('kernel_shape', spatialKernel), pads]);
    });
    if (lowRes.length === 0) {
      this.emit('Sum', terms, linearOut);
      this.finishConv(step, conv, linearOut, outName, activation);
      return;
    }
    const classes: string[] = [];
    for (let c = 0; c < 2 ** dims; c++) {
      const bits = parityBits(c, dims);
      const tag = `${outName}_parity${bits.join('')}`;
      const perPart = lowRes.map((r, k) => {
        const kernel = new Array(dims).fill(2);
        const w = this.derivedFloatConst(`${tag}_${k}_W`, [cout, r.channels, ...kernel], () =>
          parityKernel(conv.w.data, cout, cin, r.from, r.channels, bits),
        );
        const inputs = [r.name, w, ...(direct.length === 0 && k === 0 ? [conv.b.name] : [])];
        const attrs = [ints('kernel_shape', kernel), ints('pads', parityPads(bits))];
        return this.emit('Conv', inputs, lowRes.length === 1 ? tag : `${tag}_${k}`, attrs);
      });
      classes.push(perPart.length === 1 ? perPart[0]! : this.emit('Sum', perPart, tag));
    }
    const interleaved = this.interleaveParities(
      classes,
      dims,
      terms.length === 0 ? linearOut : `${outName}_interleaved`,
    );
    if (terms.length > 0) this.emit(terms.length === 1 ? 'Add' : 'Sum', [...terms, interleaved], linearOut);
    this.finishConv(step, conv, linearOut, outName, activation);
  }

  /** A 3D 3x3x3 'same' convolution, stride and dilation 1, with at most DEPTH_TAP_MAX_OUTPUTS outputs. */
  private usesDepthTaps(step: Step): boolean {
    if (!this.depthTapConvs || step.layer.getClassName() !== 'Conv3D') return false;
    const cfg = step.layer.getConfig();
    return isSame3Kernel(cfg) && Number(cfg.filters) <= DEPTH_TAP_MAX_OUTPUTS;
  }

  /**
   * The depth-tap form (`onnx/depth-tap-conv.ts`): a (1,3,3) convolution to 3 * cout channels, zero
   * padding of one slice at each end of z, and the sum of the three channel groups, group kz taken from
   * slice kz on. The derived kernel and bias are computed from the final weights (a following BN folds in).
   */
  private depthTapConv(step: Step, source: string, outName: string, cfg: Record<string, unknown>): void {
    const { conv } = this.convWeights(step.layer, outName, { kernel: false, bias: false });
    const { cout, cin } = conv;
    const { activation, linearOut } = activationOf(cfg, outName);
    const w = this.derivedFloatConst(`${outName}_taps_W`, [3 * cout, cin, 1, 3, 3], () =>
      depthTapKernel(conv.w.data, cout, cin),
    );
    const b = this.derivedFloatConst(`${outName}_taps_B`, [3 * cout], () => depthTapBias(conv.b.data));
    const attrs = [ints('kernel_shape', [1, 3, 3]), ints('pads', [0, 1, 1, 0, 1, 1])];
    const taps = this.emit('Conv', [source, w, b], `${outName}_taps`, attrs);
    const zPads = this.sharedInt64Const([0, 0, 1, 0, 0, 0, 0, 1, 0, 0]);
    const padded = this.emit('Pad', [taps, zPads], `${outName}_taps_padded`);
    const axes = this.sharedInt64Const([1, 2]);
    // group kz of output slice z is padded slice z + kz: slices [kz, kz + Z) of the Z + 2
    const shifted = [0, 1, 2].map((kz) => {
      const starts = this.sharedInt64Const([kz * cout, kz]);
      const ends = this.sharedInt64Const([(kz + 1) * cout, kz === 2 ? 2 ** 31 - 1 : kz - 2]);
      return this.emit('Slice', [padded, starts, ends, axes], `${outName}_tap${kz}`);
    });
    this.emit('Sum', shifted, linearOut);
    this.finishConv(step, conv, linearOut, outName, activation);
  }

  private conv(step: Step, input: SymTensor, outName: string, cfg: Record<string, unknown>): void {
    const parts = this.splitInputs.get(input.id);
    if (parts) {
      this.splitConv(step, parts, outName, cfg);
      return;
    }
    if (this.usesDepthTaps(step)) {
      this.depthTapConv(step, this.nameOf(input), outName, cfg);
      return;
    }
    const { conv, spatialKernel } = this.convWeights(step.layer, outName, { kernel: true, bias: true });
    const strides = cfg.strides as number[];
    const dilations = cfg.dilationRate as number[];
    const deferred = this.pending.get(input.id);
    if (deferred) {
      foldBefore(conv, deferred.affine);
      this.pending.delete(input.id);
    }
    const source = deferred ? deferred.source : this.nameOf(input);
    const attrs: OnnxAttribute[] = [
      ints('kernel_shape', spatialKernel),
      ints('strides', strides),
      ints('dilations', dilations),
    ];
    if (cfg.padding === 'same') {
      if (strides.every((s) => s === 1)) {
        const before = spatialKernel.map((k, d) => Math.floor(((k - 1) * dilations[d]!) / 2));
        const after = spatialKernel.map((k, d) => (k - 1) * dilations[d]! - before[d]!);
        attrs.push(ints('pads', [...before, ...after]));
      } else {
        attrs.push(str('auto_pad', 'SAME_UPPER'));
      }
    } else if (cfg.padding !== 'valid') {
      throw new Error(`onnx export: conv '${step.layer.name}' padding ${cfg.padding} is not supported`);
    }
    const { activation, linearOut } = activationOf(cfg, outName);
    this.emit('Conv', [source, conv.w.name, conv.b.name], linearOut, attrs);
    this.finishConv(step, conv, linearOut, outName, activation);
  }

  private batchNorm(step: Step, input: SymTensor, outName: string, cfg: Record<string, unknown>): void {
    const { layer } = step;
    const out = step.node.outputTensors[0]!;
    const rank = out.shape.length;
    const axis = Number(cfg.axis ?? -1);
    if (axis !== -1 && axis !== rank - 1) {
      throw new Error(`onnx export: batch norm '${layer.name}' over axis ${axis}; only the channel axis`);
    }
    const c = out.shape[rank - 1]!;
    const w = namedWeights(layer);
    const gamma = w.get('gamma') ?? new Float32Array(c).fill(1);
    const beta = w.get('beta') ?? new Float32Array(c);
    const mean = w.get('moving_mean');
    const variance = w.get('moving_variance');
    if (!mean || !variance)
      throw new Error(`onnx export: batch norm '${layer.name}' has no moving statistics`);
    const epsilon = Number(cfg.epsilon ?? 1e-3);
    const affine = batchNormAffine(gamma, beta, mean, variance, epsilon);

    if (this.fold) {
      const inName = this.pending.has(input.id) ? undefined : this.nameOf(input);
      const producer = inName !== undefined ? this.foldableConvs.get(inName) : undefined;
      const producerStep = this.soleConsumer(input);
      if (producer && producerStep === step) {
        foldAfter(producer, affine);
        this.foldableConvs.delete(inName!);
        this.names.set(out.id, inName!);
        if (this.soleConsumer(out)) this.foldableConvs.set(inName!, producer);
        this.foldedBatchNorms.push(layer.name);
        return;
      }
      const next = this.soleConsumer(out);
      if (inName !== undefined && next && this.padsNothing(next)) {
        this.pending.set(out.id, { source: inName, affine });
        this.foldedBatchNorms.push(layer.name);
        return;
      }
    }
    const p = (name: string, data: ArrayLike<number>) =>
      this.floatConst(`${outName}_${name}`, [c], Float32Array.from(data)).name;
    const ins = [this.nameOf(input), p('scale', gamma), p('bias', beta), p('mean', mean), p('var', variance)];
    this.names.set(out.id, this.emit('BatchNormalization', ins, outName, [float('epsilon', epsilon)]));
  }

  /** True when `step` is a conv whose output does not depend on zero padding of its input. */
  private padsNothing(step: Step): boolean {
    const cls = step.layer.getClassName();
    if (cls !== 'Conv1D' && cls !== 'Conv2D' && cls !== 'Conv3D') return false;
    const cfg = step.layer.getConfig();
    return cfg.padding === 'valid' || (cfg.kernelSize as number[]).every((k) => k === 1);
  }

  private pool(
    layer: Layer,
    op: string,
    input: SymTensor,
    outName: string,
    out: SymTensor,
    cfg: Record<string, unknown>,
  ) {
    const attrs = [ints('kernel_shape', cfg.poolSize as number[]), ints('strides', cfg.strides as number[])];
    if (cfg.padding === 'same') attrs.push(str('auto_pad', 'SAME_UPPER'));
    else if (cfg.padding !== 'valid')
      throw new Error(`onnx export: pooling '${layer.name}' padding ${cfg.padding}`);
    this.names.set(out.id, this.emit(op, [this.nameOf(input)], outName, attrs));
  }
}

/** The ONNX model of a LayersModel, before encoding (tests inspect it; `exportToOnnx` encodes it). */
export function convertToOnnx(
  model: tf.LayersModel,
  opts: ExportOptions = {},
): OnnxModel & { foldedBatchNorms: string[] } {
  const inputs = model.inputs as unknown as SymTensor[];
  const outputs = model.outputs as unknown as SymTensor[];
  const steps = orderedSteps(outputs);
  const conv = new Converter(
    steps,
    outputs,
    opts.foldBatchNorm ?? true,
    opts.upsampling,
    opts.upsampledConvForm,
    opts.depthTapConvs ?? true,
  );
  const graphInputs = inputs.map((t, k) => conv.addInput(t, inputs.length === 1 ? 'input' : `input_${k}`));
  for (const s of steps) conv.convert(s);
  conv.finish();
  const graphOutputs = outputs.map((t, k) =>
    conv.addOutput(t, outputs.length === 1 ? 'output' : `output_${k}`),
  );
  return {
    irVersion: ONNX_IR_VERSION,
    opsetVersion: ONNX_OPSET,
    producerName: 'raunet-pipeline',
    producerVersion: '0.1.0',
    graph: {
      name: model.name,
      nodes: conv.nodes,
      initializers: conv.initializers,
      inputs: graphInputs,
      outputs: graphOutputs,
      docString: 'Exported from a TensorFlow.js LayersModel; input and output are channels last.',
    },
    metadata: { source_model: model.name, layout: 'channels_last' },
    foldedBatchNorms: conv.foldedBatchNorms,
  };
}
