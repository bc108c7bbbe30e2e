/**
 * Whole-network parity on the webgpu backend (Dawn; lavapipe in CI) against the pure-JS cpu backend:
 * RA-UNet-I, RA-UNet-II and the brain variant at reduced width and size, with the same weights. One
 * training-mode forward pass (batch norm on batch statistics, attention modules, UpSampling3D), the Dice
 * loss and the gradient of every trainable weight.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ArchName, buildRAUNet } from '../../lib/model/archs.ts';
import { diceLoss } from '../../lib/model/loss.ts';
import { useGemmConv3d } from '../../lib/model/webgpu-conv3d.ts';
import { startWebGpu, values, webgpuSuiteRuns } from './webgpu-gate.ts';

interface Pass {
  prediction: Float32Array;
  loss: number;
  grads: Map<string, Float32Array>;
}

/** Forward, loss and gradients of a freshly built seeded model on the active backend. */
async function pass(arch: ArchName, width: number, shape: number[], weights?: Float32Array[]): Promise<Pass> {
  const model = buildRAUNet(arch, { width, inputShape: shape.slice(1), seed: 7 });
  if (weights) {
    const ts = model.getWeights().map((w, i) => tf.tensor(weights[i]!, w.shape));
    model.setWeights(ts);
    tf.dispose(ts);
  }
  const size = shape.reduce((a, b) => a * b, 1);
  const x = tf.tensor(values(size, 11), shape);
  const voxels = shape.slice(0, -1);
  const y = tf.tensor(
    Float32Array.from(values(size / shape.at(-1)!, 12), (v) => (v > 0.2 ? 1 : 0)),
    [...voxels, 1],
  );
  let predicted: tf.Tensor | undefined;
  const { value, grads } = tf.variableGrads(() => {
    const p = model.apply(x, { training: true }) as tf.Tensor;
    predicted = tf.keep(p);
    return diceLoss(y, p);
  });
  const out: Pass = {
    prediction: Float32Array.from(await predicted!.data()),
    loss: (await value.data())[0]!,
    grads: new Map(),
  };
  // Each build suffixes its variable names (`conv1/kernel_3`): compare by the layer's own name.
  for (const [name, g] of Object.entries(grads))
    out.grads.set(name.replace(/_\d+$/, ''), Float32Array.from(await g.data()));
  tf.dispose([x, y, predicted!, value, ...Object.values(grads)]);
  model.dispose();
  return out;
}

async function cpuWeights(arch: ArchName, width: number, shape: number[]): Promise<Float32Array[]> {
  const model = buildRAUNet(arch, { width, inputShape: shape.slice(1), seed: 7 });
  const ws = await Promise.all(model.getWeights().map(async (w) => Float32Array.from(await w.data())));
  model.dispose();
  return ws;
}

function maxAbs(a: Float32Array): number {
  return a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
}
function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++)
    m = Math.max(m, Math.abs(a[i]! - b[i]!) || (Number.isNaN(b[i]!) ? Infinity : 0));
  return m;
}

const runs = await webgpuSuiteRuns('webgpu whole-network parity');

describe.skipIf(!runs)('whole networks on webgpu match the cpu backend', () => {
  // With the project's tiled 3D convolution kernels, what a GPU runs (on lavapipe the backend would keep
  // tfjs' own by default), sizes as uniforms as on any software adapter.
  beforeAll(async () => {
    await startWebGpu();
    useGemmConv3d(true, 'uniform');
  });
  afterAll(() => useGemmConv3d(false));

  const cases: [ArchName, number, number[]][] = [
    ['raunet1', 0.25, [2, 32, 32, 1]],
    ['raunet2', 0.125, [1, 32, 32, 32, 1]],
    ['raunet2-brain', 0.0625, [1, 32, 32, 32, 4]],
  ];
  for (const [arch, width, shape] of cases) {
    it(`${arch} width ${width} input ${shape.join('x')}: forward, Dice loss and every gradient`, async () => {
      await tf.setBackend('cpu');
      const weights = await cpuWeights(arch, width, shape);
      let t0 = Date.now();
      const ref = await pass(arch, width, shape, weights);
      const cpuMs = Date.now() - t0;
      await tf.setBackend('webgpu');
      t0 = Date.now();
      const got = await pass(arch, width, shape, weights);
      const gpuMs = Date.now() - t0;
      await tf.setBackend('cpu');
      const fwd = maxDiff(ref.prediction, got.prediction);
      expect(fwd).toBeLessThan(1e-4);
      expect(Math.abs(ref.loss - got.loss)).toBeLessThan(1e-5);
      expect([...got.grads.keys()].sort()).toEqual([...ref.grads.keys()].sort());
      // The cpu backend accumulates sums in float64, webgpu and wasm in float32; batch norm on the small deep
      // maps is ill-conditioned, so tiny gradients differ relatively. Errors are measured against the
      // largest gradient of the network (all of them), and per weight where its gradient is not tiny.
      const globalMax = Math.max(...[...ref.grads.values()].map(maxAbs));
      let worstAbs = 0;
      let worst = 0;
      let worstName = '';
      for (const [name, g] of ref.grads) {
        const d = maxDiff(g, got.grads.get(name)!);
        worstAbs = Math.max(worstAbs, d / globalMax);
        const scale = maxAbs(g);
        if (scale < 0.01 * globalMax) continue;
        if (d / scale > worst) [worst, worstName] = [d / scale, name];
      }
      console.log(
        `${arch}: forward max |diff| ${fwd.toExponential(2)}, loss ${ref.loss.toFixed(6)} vs ${got.loss.toFixed(6)}, gradients: max |diff| / max |grad| ${worstAbs.toExponential(2)}, worst weight ${worstName} ${worst.toExponential(2)} relative; cpu ${cpuMs} ms, webgpu ${gpuMs} ms`,
      );
      // Noise level measured: wasm vs cpu on RA-UNet-II differs by 6.0e-3 (global) and 1.6e-2 (per weight).
      // Real kernel bugs gave errors of 1-700x (the 2D max-pool gradient's ties, the batch-norm broadcast).
      expect(worstAbs).toBeLessThan(5e-3);
      expect(worst).toBeLessThan(2e-2);
    }, 300_000); // lavapipe compiles each new shader in seconds (the 3D convolutions' too), more under load
  }
});
