/** Shared helpers of the inference tests: seeded random weights (BN statistics included) and diffs. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { orderedSteps, type SymTensor } from '../../lib/inference/onnx-export.ts';

/** Deterministic uniform [0, 1) generator (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomArray(n: number, lo: number, hi: number, next: () => number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * next();
  return a;
}

/**
 * Replaces every weight of `model` by seeded random values: conv kernels uniform with a fan-in scale
 * (activations stay O(1) through deep nets), biases and BN beta/mean in [-0.5, 0.5], BN gamma in
 * [0.5, 1.5] and moving variance in [0.5, 2], so BN folding is really exercised.
 */
export function randomizeWeights(model: tf.LayersModel, seed: number): void {
  const next = rng(seed);
  for (const layer of model.layers) {
    const ws = layer.weights;
    if (ws.length === 0) continue;
    const values = ws.map((w) => {
      const short = w.name.slice(w.name.lastIndexOf('/') + 1);
      const dims = w.shape as number[];
      const n = dims.reduce((a, b) => a * b, 1);
      let data: Float32Array;
      if (short.startsWith('kernel')) {
        const fanIn = dims.slice(0, -1).reduce((a, b) => a * b, 1);
        const r = Math.sqrt(3 / fanIn);
        data = randomArray(n, -r, r, next);
      } else if (short.startsWith('gamma')) data = randomArray(n, 0.5, 1.5, next);
      else if (short.startsWith('moving_variance')) data = randomArray(n, 0.5, 2, next);
      else data = randomArray(n, -0.5, 0.5, next);
      return tf.tensor(data, dims);
    });
    layer.setWeights(values);
    tf.dispose(values);
  }
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

/** Runs `model` with tfjs on `x` (channels last) and returns the values of its (first) output. */
export function tfjsForward(model: tf.LayersModel, x: Float32Array, shape: number[]): Float32Array {
  return tf.tidy(() => {
    const y = model.predict(tf.tensor(x, shape)) as tf.Tensor;
    return Float32Array.from(y.dataSync() as Float32Array);
  });
}

/** Writes bytes to a fresh temporary file and returns its path. */
export function writeTemp(name: string, bytes: Uint8Array): string {
  const dir = mkdtempSync(join(tmpdir(), 'raunet-onnx-'));
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

/**
 * The same forward pass as `model.predict`, run layer by layer by tfjs itself, yielding to the event
 * loop between layers: a full-width 3D forward on the pure-JS backend takes many seconds, and one long
 * synchronous call would starve the test runner's worker. `onLayer` sees each layer's time (profiling).
 */
export async function tfjsForwardYielding(
  model: tf.LayersModel,
  x: Float32Array,
  shape: number[],
  onLayer?: (name: string, ms: number) => void,
): Promise<Float32Array> {
  const outputs = model.outputs as unknown as SymTensor[];
  const steps = orderedSteps(outputs);
  const values = new Map<number, tf.Tensor>();
  const uses = new Map<number, number>();
  for (const s of steps) for (const i of s.node.inputTensors) uses.set(i.id, (uses.get(i.id) ?? 0) + 1);
  values.set((model.inputs as unknown as SymTensor[])[0]!.id, tf.tensor(x, shape));
  for (const { layer, node } of steps) {
    if (layer.getClassName() === 'InputLayer') continue;
    const t0 = performance.now();
    const ins = node.inputTensors.map((i) => values.get(i.id)!);
    const y =
      (await convInSlabs(layer as unknown as tf.layers.Layer, ins[0]!)) ??
      ((layer as unknown as tf.layers.Layer).apply(ins.length === 1 ? ins[0]! : ins) as tf.Tensor);
    values.set(node.outputTensors[0]!.id, y);
    for (const i of node.inputTensors) {
      const left = uses.get(i.id)! - 1;
      uses.set(i.id, left);
      if (left === 0) values.get(i.id)!.dispose();
    }
    onLayer?.(layer.name, performance.now() - t0);
    await new Promise((r) => setImmediate(r));
  }
  const out = values.get(outputs[0]!.id)!;
  const data = Float32Array.from(out.dataSync() as Float32Array);
  out.dispose();
  return data;
}

const SLAB_ACTIVATIONS: Record<string, (t: tf.Tensor) => tf.Tensor> = {
  linear: (t) => t,
  relu: (t) => tf.relu(t),
  sigmoid: (t) => tf.sigmoid(t),
};

/**
 * A stride-1 'same' Conv2D/Conv3D layer applied in slabs along the first spatial axis, yielding to
 * the event loop between slabs (the full-resolution convs of a full-width 3D net run for many seconds
 * each). Same tfjs ops as the layer: zero padding, then 'valid' convs on overlapping slabs, bias,
 * activation. Undefined for any other layer.
 */
async function convInSlabs(layer: tf.layers.Layer, x: tf.Tensor): Promise<tf.Tensor | undefined> {
  const cls = layer.getClassName();
  if (cls !== 'Conv2D' && cls !== 'Conv3D') return undefined;
  const cfg = layer.getConfig();
  const k = cfg.kernelSize as number[];
  const unit = (v: unknown) => (v as number[]).every((d) => d === 1);
  const act = SLAB_ACTIVATIONS[String(cfg.activation)];
  if (cfg.padding !== 'same' || !unit(cfg.strides) || !unit(cfg.dilationRate) || !act) return undefined;
  if (k.some((d) => d % 2 === 0)) return undefined;
  const [kernel, bias] = layer.getWeights(); // the variables' own tensors: not disposed here
  const padded = tf.pad(x, [[0, 0], ...k.map((d): [number, number] => [(d - 1) / 2, (d - 1) / 2]), [0, 0]]);
  const depth = x.shape[1]!;
  const step = Math.max(1, Math.floor(depth / 8));
  const slabs: tf.Tensor[] = [];
  for (let z0 = 0; z0 < depth; z0 += step) {
    const n = Math.min(step, depth - z0);
    slabs.push(
      tf.tidy(() => {
        const begin = padded.shape.map((_, a) => (a === 1 ? z0 : 0));
        const size = padded.shape.map((d, a) => (a === 1 ? n + k[0]! - 1 : d));
        const part = tf.slice(padded, begin, size);
        let y =
          cls === 'Conv3D'
            ? tf.conv3d(part as tf.Tensor5D, kernel as tf.Tensor5D, 1, 'valid')
            : tf.conv2d(part as tf.Tensor4D, kernel as tf.Tensor4D, 1, 'valid');
        if (bias) y = tf.add(y, bias);
        return act(y);
      }),
    );
    await new Promise((r) => setImmediate(r));
  }
  padded.dispose();
  const out = tf.concat(slabs, 1);
  tf.dispose(slabs);
  return out;
}
