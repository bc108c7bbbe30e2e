/** Shared helpers of the inference tests: seeded random weights (BN statistics included) and diffs. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';

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

interface SymLike {
  id: number;
  sourceLayer: tf.layers.Layer;
  nodeIndex: number;
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
  const values = new Map<number, tf.Tensor>();
  const uses = new Map<number, number>();
  const order: Array<{ layer: tf.layers.Layer; inputs: SymLike[]; outputs: SymLike[] }> = [];
  const seen = new Set<string>();
  const visit = (t: SymLike) => {
    const key = `${t.sourceLayer.name}#${t.nodeIndex}`;
    if (seen.has(key)) return;
    seen.add(key);
    const node = t.sourceLayer.inboundNodes[t.nodeIndex]!;
    const inputs = node.inputTensors as unknown as SymLike[];
    for (const i of inputs) visit(i);
    order.push({ layer: t.sourceLayer, inputs, outputs: node.outputTensors as unknown as SymLike[] });
  };
  const outputs = model.outputs as unknown as SymLike[];
  for (const o of outputs) visit(o);
  for (const s of order) for (const i of s.inputs) uses.set(i.id, (uses.get(i.id) ?? 0) + 1);
  const input = (model.inputs as unknown as SymLike[])[0]!;
  values.set(input.id, tf.tensor(x, shape));
  for (const s of order) {
    if (s.layer.getClassName() === 'InputLayer') continue;
    const t0 = performance.now();
    const ins = s.inputs.map((i) => values.get(i.id)!);
    const y = s.layer.apply(ins.length === 1 ? ins[0]! : ins) as tf.Tensor;
    values.set(s.outputs[0]!.id, y);
    for (const i of s.inputs) {
      const left = uses.get(i.id)! - 1;
      uses.set(i.id, left);
      if (left === 0 && i.id !== outputs[0]!.id) values.get(i.id)!.dispose();
    }
    onLayer?.(s.layer.name, performance.now() - t0);
    await new Promise((r) => setImmediate(r));
  }
  const out = values.get(outputs[0]!.id)!;
  const data = Float32Array.from(out.dataSync() as Float32Array);
  out.dispose();
  return data;
}
