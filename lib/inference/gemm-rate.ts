/**
 * The machine's single-precision matrix-multiply rate as ONNX Runtime reaches it with the engine's own CPU
 * session settings: the yardstick `npm run bench` divides every network's achieved GFLOP/s by, so the
 * ratio is comparable across machines and load (a convolution network cannot beat its GEMM kernels).
 */
import * as ort from 'onnxruntime-node';
import { encodeOnnxModel } from './onnx/onnx-model.ts';
import { cpuSessionOptions } from './onnx-engine.ts';

/**
 * An ONNX graph `y = a · w · w · ... · w` (`chain` MatMuls of an n x n input by the n x n initializer
 * `w`): several products per run so that copying the input in and the output out is a small share.
 */
export function gemmChainModel(n: number, chain: number, w: Float32Array): Uint8Array {
  if (w.length !== n * n) throw new RangeError(`w has ${w.length} values, n x n needs ${n * n}`);
  if (!(Number.isInteger(chain) && chain >= 1)) throw new RangeError(`chain must be >= 1, got ${chain}`);
  const nodes = Array.from({ length: chain }, (_, k) => ({
    opType: 'MatMul',
    name: `matmul_${k}`,
    inputs: [k === 0 ? 'a' : `y_${k - 1}`, 'w'],
    outputs: [k === chain - 1 ? 'y' : `y_${k}`],
    attributes: [],
  }));
  return encodeOnnxModel({
    irVersion: 8,
    opsetVersion: 17,
    producerName: 'raunet-gemm-rate',
    producerVersion: '1',
    metadata: {},
    graph: {
      name: 'gemm_chain',
      nodes,
      initializers: [{ name: 'w', dims: [n, n], dataType: 'float32', data: w }],
      inputs: [{ name: 'a', shape: [n, n] }],
      outputs: [{ name: 'y', shape: [n, n] }],
    },
  });
}

export interface GemmRate {
  /** Matrix side. */
  n: number;
  /** Median seconds per MatMul. */
  seconds: number;
  /** 2 n^3 / seconds, in GFLOP/s. */
  gflops: number;
}

/**
 * Times `runs` runs (after one warm-up) of a chain of 4 n x n MatMuls on ONNX Runtime's CPU provider with
 * `threads` intra-op threads (default: one per core, as the engine) and returns the median rate.
 * The values are scaled (orthogonal-ish, norm ~1) so the chain neither overflows nor underflows.
 */
export async function measureGemmRate(
  opts: { n?: number; threads?: number; runs?: number } = {},
): Promise<GemmRate> {
  const n = opts.n ?? 2048;
  const chain = 4;
  const scale = 1 / Math.sqrt(n);
  let seed = 12345;
  const next = () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return (seed / 2 ** 32 - 0.5) * 2 * Math.sqrt(3) * scale; // unit variance times 1/sqrt(n)
  };
  const w = Float32Array.from({ length: n * n }, next);
  const a = Float32Array.from({ length: n * n }, next);
  const session = await ort.InferenceSession.create(
    gemmChainModel(n, chain, w),
    cpuSessionOptions(opts.threads),
  );
  try {
    const feed = () => ({ a: new ort.Tensor('float32', a, [n, n]) });
    const times: number[] = [];
    for (let k = 0; k <= (opts.runs ?? 3); k++) {
      const t0 = performance.now();
      const out = await session.run(feed());
      const dt = (performance.now() - t0) / 1000 / chain;
      for (const t of Object.values(out)) t.dispose();
      if (k > 0) times.push(dt); // the first run is the warm-up
    }
    times.sort((p, q) => p - q);
    const seconds = times[Math.floor(times.length / 2)]!;
    return { n, seconds, gflops: (2 * n ** 3) / seconds / 1e9 };
  } finally {
    await session.release();
  }
}
