/**
 * Stand-alone WebGPU check for a GPU machine (bundled with esbuild and run there with a plain Node.js,
 * see docs/training.md): prints the adapter first, then the parity of the project's 3D convolution
 * kernels (lib/model/webgpu-conv3d.ts) and of a whole network against the cpu backend, then forward and
 * training-step (Dice loss gradient + Adam update) times of the networks at the paper's sizes and batch
 * sizes, full width, then a 3D overfit run (width 1/8 RA-UNet-II, one 64x64x32 phantom patch, to
 * inference-mode Dice > 0.9), then, as time allows, the batch-1 times again with tfjs' own convolution
 * kernels. Results go to stdout and, as JSON, to $OUT/webgpu-device.json when OUT is set.
 * `WEBGPU_DEVICE_BUDGET_S` (default 360) stops starting new measurements past that many seconds;
 * `WEBGPU_DEVICE_PROBE=1` only prints the adapter (exit 0 on a GPU, 3 on a software adapter).
 */
import { writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { type ArchName, buildRAUNet } from '../lib/model/archs.ts';
import { initBackend } from '../lib/model/backend.ts';
import { diceLoss } from '../lib/model/loss.ts';
import { ensureNavigatorGpu, formatAdapter } from '../lib/model/webgpu-adapter.ts';
import { useGemmConv3d } from '../lib/model/webgpu-conv3d.ts';
import { generatePhantom } from '../lib/phantom/phantom.ts';
import { boundingBox, cropArray } from '../lib/preprocess/crop.ts';
import { windowAndNormalize } from '../lib/preprocess/window.ts';
import { trainModel } from '../lib/training/trainer.ts';

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
// Ours, also on a software adapter (where the backend would keep tfjs' by default), to try the script there.
useGemmConv3d(true, adapter.software ? 'uniform' : 'baked');

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

/** Forward output and both gradients of sum(conv3d(x, f) * w), read back, on the active backend. */
async function convOutputs(
  xShape: number[],
  fShape: number[],
  pad: 'same' | 'valid',
): Promise<Float32Array[]> {
  const outs = tf.tidy(() => {
    const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
    const x = tf.tensor5d(values(size(xShape), 1), xShape as [number, number, number, number, number]);
    const f = tf.mul(tf.tensor(values(size(fShape), 2), fShape), 0.3) as tf.Tensor5D;
    const y = tf.conv3d(x, f, 1, pad);
    const w = tf.tensor(values(y.size, 3), y.shape);
    const [dx, df] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(tf.conv3d(a as tf.Tensor5D, b as tf.Tensor5D, 1, pad), w)),
    )([x, f]);
    return [y, dx!, df!];
  });
  const data = await Promise.all(outs.map(async (t) => Float32Array.from(await t.data())));
  tf.dispose(outs);
  return data;
}

const convCases: [number[], number[], 'same' | 'valid'][] = [
  [[2, 9, 10, 11, 1], [3, 3, 3, 1, 5], 'same'],
  [[2, 6, 5, 7, 4], [3, 3, 3, 4, 70], 'same'],
  [[1, 7, 6, 9, 37], [3, 3, 3, 37, 7], 'valid'],
  [[2, 5, 6, 7, 6], [1, 1, 1, 6, 1], 'same'],
  [[1, 8, 12, 12, 32], [3, 3, 3, 32, 64], 'same'], // small: the cpu reference is single-threaded JS
];
const convParity: Record<string, unknown>[] = [];
results.convParity = convParity;
for (const [xShape, fShape, pad] of convCases) {
  try {
    await tf.setBackend('cpu');
    const ref = await convOutputs(xShape, fShape, pad);
    await tf.setBackend('webgpu');
    const got = await convOutputs(xShape, fShape, pad);
    // max |diff| / max |reference| of the forward output, the input gradient, the filter gradient
    const rel = ref.map((r, k) => {
      const scale = r.reduce((m, v) => Math.max(m, Math.abs(v)), 0) || 1;
      return r.reduce((m, v, i) => Math.max(m, Math.abs(v - got[k]![i]!)), 0) / scale;
    });
    const row = { x: xShape, filter: fShape, pad, relErrForward: rel[0], relErrDx: rel[1], relErrDw: rel[2] };
    convParity.push(row);
    log(`conv3d parity ${JSON.stringify(row)}`);
  } catch (e) {
    convParity.push({ x: xShape, filter: fShape, error: String(e) });
    log(`conv3d parity failed: ${e}`);
  }
}
save();

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
  ['RA-UNet-II liver 224x224x32 batch 1', 'raunet2', [1, 32, 224, 224, 1]],
  ['RA-UNet-II brain 64x64x64x4 batch 1', 'raunet2-brain', [1, 64, 64, 64, 4]],
  ['RA-UNet-I 256x256 batch 8', 'raunet1', [8, 256, 256, 1]],
  ['RA-UNet-II liver 224x224x32 batch 2', 'raunet2', [2, 32, 224, 224, 1]],
  ['RA-UNet-II tumor 128x128x32 batch 6', 'raunet2', [6, 32, 128, 128, 1]],
  ['RA-UNet-I 256x256 batch 32', 'raunet1', [32, 256, 256, 1]],
];
/** Measured again with tfjs' own convolution kernels at the end, as time allows. */
const before = configs.filter(([what]) => what.includes('batch 1'));
// WEBGPU_DEVICE_SMALL=1: one small configuration (to try the script on a CPU adapter).
if (process.env.WEBGPU_DEVICE_SMALL)
  configs.splice(0, configs.length, ['RA-UNet-II 32x32x32 batch 1 (small)', 'raunet2', [1, 32, 32, 32, 1]]);
async function timeConfigs(list: typeof configs, label: string, timings: Record<string, unknown>[]) {
  await tf.setBackend('webgpu');
  for (const [what, arch, shape] of list) {
    if ((performance.now() - started) / 1000 > budgetS) {
      log(`skipped ${what} (${label}): past the ${budgetS} s budget`);
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
      log(`${what} (${label}): forward ${forward.mean.toFixed(3)} s (first ${forward.first.toFixed(1)} s)`);
      const step = await time(async () => {
        const loss = opt.minimize(() => diceLoss(y, model.apply(x, { training: true }) as tf.Tensor), true);
        await loss!.data();
        loss!.dispose();
      }, 2);
      log(`${what} (${label}): train step ${step.mean.toFixed(3)} s (first ${step.first.toFixed(1)} s)`);
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
      log(`${what} (${label}) failed: ${e}`);
    }
    save();
  }
}

/** A 64x64x32 patch of a windowed phantom CT centred on its liver, with the liver (+tumor) mask. */
function liverPatch(): { x: Float32Array; y: Float32Array; shape: number[] } {
  const patch = [64, 64, 32];
  const { ct, seg } = generatePhantom({ seed: 4242, dims: [80, 80, 40], spacing: [5, 5, 7.5], tumors: 1 });
  const box = boundingBox(seg.data, seg.dims, 0);
  if (!box) throw new Error('phantom without liver');
  const start = box.start.map((s, a) => {
    const centre = Math.floor((s + box.end[a]!) / 2);
    return Math.min(Math.max(0, centre - patch[a]! / 2), seg.dims[a]! - patch[a]!);
  }) as [number, number, number];
  const patchBox = { start, end: start.map((s, a) => s + patch[a]!) as [number, number, number] };
  const x = cropArray(windowAndNormalize(ct).data, ct.dims, patchBox);
  const y = Float32Array.from(cropArray(seg.data, seg.dims, patchBox), (v) => (v > 0 ? 1 : 0));
  return { x, y, shape: [1, patch[2]!, patch[1]!, patch[0]!, 1] };
}

/** The overfit test's run (test/model/overfit.test.ts) on webgpu: steps until inference-mode Dice > 0.9. */
async function overfit3d(): Promise<Record<string, unknown>> {
  await tf.setBackend('webgpu');
  const batch = liverPatch();
  const model = buildRAUNet('raunet2', {
    width: 0.125,
    inputShape: batch.shape.slice(1),
    bnMomentum: 0,
    seed: 1,
  });
  const stop = new AbortController();
  const t0 = performance.now();
  const dice: number[] = [];
  try {
    const result = await trainModel(model, {
      train: () => [batch],
      validation: () => [batch],
      epochs: process.env.WEBGPU_DEVICE_SMALL ? 2 : 150, // small: only try the code on a CPU adapter
      initialLr: 3e-3,
      signal: stop.signal,
      onEpoch: (l) => {
        dice.push(Number(l.valDice.toFixed(4)));
        if (l.valDice > 0.9) stop.abort();
      },
    });
    const out = {
      steps: result.history.length,
      bestValDice: result.bestValDice,
      seconds: (performance.now() - t0) / 1000,
      dicePerStep: dice,
    };
    log(
      `3D overfit: Dice ${out.bestValDice.toFixed(3)} after ${out.steps} steps, ${out.seconds.toFixed(1)} s`,
    );
    return out;
  } finally {
    model.dispose();
  }
}

const timings: Record<string, unknown>[] = [];
results.timings = timings;
await timeConfigs(configs, 'our conv3d kernels', timings);
try {
  results.overfit3d = await overfit3d();
} catch (e) {
  results.overfit3d = { error: String(e) };
  log(`3D overfit failed: ${e}`);
}
save();
useGemmConv3d(false);
const timingsTfjs: Record<string, unknown>[] = [];
results.timingsTfjsConv3d = timingsTfjs;
if (!process.env.WEBGPU_DEVICE_SMALL) await timeConfigs(before, "tfjs' conv3d kernels", timingsTfjs);
useGemmConv3d(true);
log(`done; ${tf.memory().numTensors} tensors left`);
save();
process.exit(0);
