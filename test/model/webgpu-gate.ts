/**
 * Gate for the WebGPU suites. With an adapter they run. Without one they fail when
 * RAUNET_REQUIRE_WEBGPU_TESTS=1 (CI, which installs the Mesa Vulkan driver) and are skipped otherwise,
 * with a warning naming the reason, so a missing GPU stack never passes silently.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../lib/model/backend.ts';
import { ensureNavigatorGpu } from '../../lib/model/webgpu-adapter.ts';

export const WEBGPU_REQUIRED = /^(1|true|yes)$/i.test(process.env.RAUNET_REQUIRE_WEBGPU_TESTS ?? '');

/** Resolves to whether the suite named should run (true also when it must run and will fail). */
export async function webgpuSuiteRuns(suite: string): Promise<boolean> {
  try {
    await ensureNavigatorGpu();
    return true;
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    if (WEBGPU_REQUIRED) return true; // startWebGpu() then fails the suite with this reason
    console.warn(
      `\n!!! SKIPPED ${suite}: no WebGPU adapter (${why}). Set RAUNET_REQUIRE_WEBGPU_TESTS=1 to make this a failure.\n`,
    );
    return false;
  }
}

/**
 * Starts the webgpu backend for a suite; throws naming the cause when it cannot. CPU forwarding of
 * small ops is turned off so every kernel under test really runs as WGSL.
 */
export async function startWebGpu(): Promise<void> {
  try {
    await initBackend('webgpu', () => {});
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new Error(`the WebGPU suites need a WebGPU adapter (RAUNET_REQUIRE_WEBGPU_TESTS=1): ${why}`);
  }
  tf.env().set('WEBGPU_CPU_FORWARD', false);
}

/** Deterministic values in [-1, 1). */
export function values(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

export function randomTensor(shape: number[], seed: number): tf.Tensor {
  return tf.tensor(
    values(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ),
    shape,
  );
}

export interface Result {
  shape: number[];
  data: Float32Array;
}

/** Runs fn on the named backend and reads its outputs back (asynchronously: webgpu cannot dataSync). */
export async function runOn(backend: 'cpu' | 'webgpu', fn: () => tf.Tensor | tf.Tensor[]): Promise<Result[]> {
  await tf.setBackend(backend);
  const out = tf.tidy(fn);
  const list = Array.isArray(out) ? out : [out];
  const results: Result[] = [];
  for (const t of list) results.push({ shape: t.shape, data: Float32Array.from(await t.data()) });
  tf.dispose(list);
  return results;
}

/** max |a - b| / max |a| over all outputs (a: the reference). Shapes must match. */
export function relativeError(ref: Result[], got: Result[]): number {
  if (ref.length !== got.length) throw new Error(`${got.length} outputs, expected ${ref.length}`);
  let diff = 0;
  let scale = 0;
  ref.forEach((r, k) => {
    const g = got[k]!;
    if (r.shape.join('x') !== g.shape.join('x')) throw new Error(`shape ${g.shape} != ${r.shape}`);
    r.data.forEach((v, i) => {
      const d = Math.abs(v - g.data[i]!);
      diff = Number.isNaN(d) ? Number.POSITIVE_INFINITY : Math.max(diff, d);
      scale = Math.max(scale, Math.abs(v));
    });
  });
  return diff / (scale || 1);
}

/** Relative error of webgpu against the cpu backend for fn. */
export async function webgpuVsCpu(fn: () => tf.Tensor | tf.Tensor[]): Promise<number> {
  const ref = await runOn('cpu', fn);
  const got = await runOn('webgpu', fn);
  await tf.setBackend('cpu');
  return relativeError(ref, got);
}
