/**
 * Stand-alone WebGPU check for a GPU machine (bundled with esbuild and run there with a plain Node.js,
 * see docs/training.md): prints the adapter first, then a small parity check against the cpu backend,
 * then forward and training-step (Dice loss gradient + Adam update) times of the networks at the paper's
 * sizes, full width. Results go to stdout and, as JSON, to $OUT/webgpu-device.json when OUT is set.
 * `WEBGPU_DEVICE_BUDGET_S` (default 360) stops starting new measurements past that many seconds;
 * `WEBGPU_DEVICE_PROBE=1` only prints the adapter (exit 0 on a GPU, 3 on a software adapter).
 */
import { writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { type ArchName, buildRAUNet } from '../lib/model/archs.ts';
import { initBackend } from '../lib/model/backend.ts';
import { diceLoss } from '../lib/model/loss.ts';
import { ensureNavigatorGpu, formatAdapter } from '../lib/model/webgpu-adapter.ts';

const started = performance.now();
const budgetS = Number(process.env.WEBGPU_DEVICE_BUDGET_S ?? 360);
const results: Record<string, unknown> = {};
const save = () => {
  if (process.env.OUT)
    writeFileSync(`${process.env.OUT}/webgpu-device.json`, `${JSON.stringify(results, null, 2)}\n`);
};
const log = (line: string) => console.log(`[${((performance.now() - started) / 1000).toFixed(0)}s] ${line}`);

function values(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

const adapter = await ensureNavigatorGpu();
results.adapter = adapter;
log(`adapter: ${formatAdapter(adapter)} ${JSON.stringify(adapter)}`);
save();
if (process.env.WEBGPU_DEVICE_PROBE) process.exit(adapter.software ? 3 : 0); // adapter only
log(await initBackend('webgpu', () => {}));

/** One training-mode pass: prediction, loss and gradients, read back. */
async function pass(arch: ArchName, width: number, shape: number[], weights: Float32Array[]) {
  const model = buildRAUNet(arch, { width, inputShape: shape.slice(1), seed: 7 });
  const ts = model.getWeights().map((w, i) => tf.tensor(weights[i]!, w.shape));
  model.setWeights(ts);
  tf.dispose(ts);
  const size = shape.reduce((a, b) => a * b, 1);
  const x = tf.tensor(values(size, 11), shape);
  const y = tf.tensor(
    Float32Array.from(values(size / shape.at(-1)!, 12), (v) => (v > 0.2 ? 1 : 0)),
    [...shape.slice(0, -1), 1],
  );
  let p: tf.Tensor | undefined;
  const { value, grads } = tf.variableGrads(() => {
    p = tf.keep(model.apply(x, { training: true }) as tf.Tensor);
    return diceLoss(y, p);
  });
  const out = {
    p: Float32Array.from(await p!.data()),
    loss: (await value.data())[0]!,
    g: await Promise.all(Object.values(grads).map(async (g) => Float32Array.from(await g.data()))),
  };
  tf.dispose([x, y, p!, value, ...Object.values(grads)]);
  model.dispose();
  return out;
}

async function parity(arch: ArchName, width: number, shape: number[]) {
  await tf.setBackend('cpu');
  const m = buildRAUNet(arch, { width, inputShape: shape.slice(1), seed: 7 });
  const weights = await Promise.all(m.getWeights().map(async (w) => Float32Array.from(await w.data())));
  m.dispose();
  const ref = await pass(arch, width, shape, weights);
  await tf.setBackend('webgpu');
  const got = await pass(arch, width, shape, weights);
  const maxAbs = (a: Float32Array) => a.reduce((s, v) => Math.max(s, Math.abs(v)), 0);
  const diff = (a: Float32Array, b: Float32Array) =>
    a.reduce((s, v, i) => Math.max(s, Math.abs(v - b[i]!)), 0);
  const gmax = Math.max(...ref.g.map(maxAbs));
  const r = {
    arch,
    width,
    shape,
    forwardMaxDiff: diff(ref.p, got.p),
    lossCpu: ref.loss,
    lossWebgpu: got.loss,
    gradMaxDiffOverMaxGrad: Math.max(...ref.g.map((g, i) => diff(g, got.g[i]!))) / gmax,
  };
  log(`parity ${JSON.stringify(r)}`);
  return r;
}

try {
  results.parity = await parity('raunet2', 0.125, [1, 32, 32, 32, 1]);
} catch (e) {
  results.parity = { error: String(e) };
  log(`parity failed: ${e}`);
}
save();

/** Mean seconds of `fn` (awaited) over `reps` runs after one warm-up (shader compilation). */
async function time(fn: () => Promise<void>, reps: number): Promise<{ first: number; mean: number }> {
  let t = performance.now();
  await fn();
  const first = (performance.now() - t) / 1000;
  t = performance.now();
  for (let i = 0; i < reps; i++) await fn();
  return { first, mean: (performance.now() - t) / 1000 / reps };
}

const configs: [string, ArchName, number[]][] = [
  ['RA-UNet-II tumor 128x128x32 batch 1', 'raunet2', [1, 32, 128, 128, 1]],
  ['RA-UNet-I 256x256 batch 8', 'raunet1', [8, 256, 256, 1]],
  ['RA-UNet-II liver 224x224x32 batch 1', 'raunet2', [1, 32, 224, 224, 1]],
  ['RA-UNet-I 256x256 batch 32', 'raunet1', [32, 256, 256, 1]],
  ['RA-UNet-II brain 64x64x64x4 batch 1', 'raunet2-brain', [1, 64, 64, 64, 4]],
];
// WEBGPU_DEVICE_SMALL=1: one small configuration (to try the script on a CPU adapter).
if (process.env.WEBGPU_DEVICE_SMALL)
  configs.splice(0, configs.length, ['RA-UNet-II 32x32x32 (small)', 'raunet2', [1, 32, 32, 32, 1]]);
const timings: Record<string, unknown>[] = [];
results.timings = timings;
await tf.setBackend('webgpu');
for (const [what, arch, shape] of configs) {
  if ((performance.now() - started) / 1000 > budgetS) {
    log(`skipped ${what}: past the ${budgetS} s budget`);
    continue;
  }
  try {
    const model = buildRAUNet(arch, { inputShape: shape.slice(1) });
    const x = tf.randomUniform(shape);
    const y = tf.cast(tf.greater(tf.randomUniform([...shape.slice(0, -1), 1]), 0.7), 'float32');
    const opt = tf.train.adam(1e-3);
    const forward = await time(async () => {
      const p = tf.tidy(() => model.apply(x, { training: false }) as tf.Tensor);
      await p.data();
      p.dispose();
    }, 3);
    log(`${what}: forward ${forward.mean.toFixed(3)} s (first ${forward.first.toFixed(1)} s)`);
    const step = await time(async () => {
      const loss = opt.minimize(() => diceLoss(y, model.apply(x, { training: true }) as tf.Tensor), true);
      await loss!.data();
      loss!.dispose();
    }, 2);
    log(`${what}: train step ${step.mean.toFixed(3)} s (first ${step.first.toFixed(1)} s)`);
    timings.push({
      what,
      shape,
      forwardS: forward.mean,
      forwardFirstS: forward.first,
      stepS: step.mean,
      stepFirstS: step.first,
    });
    tf.dispose([x, y]);
    opt.dispose();
    model.dispose();
  } catch (e) {
    timings.push({ what, shape, error: String(e) });
    log(`${what} failed: ${e}`);
  }
  save();
}
log(`done; ${tf.memory().numTensors} tensors left`);
save();
process.exit(0);
