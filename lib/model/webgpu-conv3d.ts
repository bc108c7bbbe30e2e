/**
 * 3D convolution and its two gradients on the webgpu backend as tiled matrix products (implicit GEMM):
 * tfjs-backend-webgpu 4.22's `Conv3D`, `Conv3DBackpropInputV2` and `Conv3DBackpropFilterV2` are direct
 * loops with one output element per thread and no shared memory; the filter gradient in particular runs
 * one thread per filter weight over every voxel of the batch (a 3x3x3 filter on one input channel: 27
 * x Cout threads for millions of products each), and an RA-UNet-II training step on an H200 took 5.6-7.8 s
 * against 0.3 s for the forward pass.
 *
 * Each of the three is a product C[M, N] = sum_k A(m, k) B(k, n) whose A is gathered from a tensor on the
 * fly (NDHWC, stride 1, no dilation; zero outside the volume):
 *  - forward:         m = output voxel, k = (kd, kh, kw, ci), n = co;  A = x shifted, B = filter [K, Cout]
 *  - input gradient:  m = input voxel,  k = (kd, kh, kw, co), n = ci;  A = dy shifted back, B = filter
 *  - filter gradient: m = (kd, kh, kw, ci), k = output voxel, n = co;  A = x shifted, B = dy [voxels, Cout]
 * A workgroup of 256 threads computes a TM x TN tile of C, each thread 4 x 4 of it, staging TK-long slices
 * of A and B in workgroup memory. The filter gradient's sum runs over every voxel of the batch while its
 * C is small, so that sum is split over workgroups (partial products, then one summing pass).
 * On a GPU every size is a constant of the generated shader (one pipeline per layer shape, cached by
 * tfjs), so the index arithmetic divides by constants; on a software adapter sizes are uniforms (see
 * SizeMode). Other convolutions (strides, dilations, non-float32) keep tfjs'
 * kernels. Checked against the cpu backend in test/model/webgpu-conv3d.test.ts.
 */
import * as tf from '@tensorflow/tfjs';
import type { WebGpuBackend as Backend, WgslProgram } from './webgpu-kernels.ts';

type KernelFn = tf.KernelConfig['kernelFunc'];
type Info = tf.TensorInfo;

/** Threads per workgroup (WebGPU's guaranteed minimum of maxComputeInvocationsPerWorkgroup). */
const THREADS = 256;
/** Outputs per thread along m and along n. */
const RM = 4;
const RN = 4;
/** WebGPU's guaranteed maxComputeWorkgroupsPerDimension. */
const MAX_GROUPS_PER_DIM = 65535;
/** Workgroups worth filling the GPU with before the filter gradient splits its sum no further. */
const TARGET_GROUPS = 1024;
/** Shortest slice of the sum one workgroup takes when the sum is split (a multiple of every TK). */
const MIN_CHUNK = 256;

/** Tile sizes, split of the sum and dispatch of one matrix product. */
export interface GemmPlan {
  M: number;
  N: number;
  K: number;
  /** Tile of C per workgroup, and the slice of the sum staged at a time. */
  TM: number;
  TN: number;
  TK: number;
  /** Number of partial sums (slices of k), each CHUNK long (a multiple of TK). */
  splits: number;
  chunk: number;
  /** Workgroups: x (tiles of m, folded into z past the per-dimension limit), y (tiles of n x splits), z. */
  dispatch: [number, number, number];
}

/**
 * Plans C[M, N] = sum over K: the n tile is the smallest of 16/32/64 that holds N (channel counts of 1-16
 * waste little), the m tile fills the 256 threads at 4 x 4 outputs each; the sum is split only when the
 * tiles of C alone give fewer than TARGET_GROUPS workgroups and the slices stay >= MIN_CHUNK long.
 */
export function planGemm(M: number, N: number, K: number, allowSplit: boolean): GemmPlan {
  const TN = N <= 16 ? 16 : N <= 32 ? 32 : 64;
  const TM = (RM * THREADS) / (TN / RN);
  // Workgroup memory (TM + TN) x TK floats must stay within WebGPU's guaranteed 16 KiB.
  const TK = (TM + TN) * 16 * 4 <= 16384 ? 16 : 8;
  const mTiles = Math.ceil(M / TM);
  const nTiles = Math.ceil(N / TN);
  const roundUp = (v: number, to: number) => Math.ceil(v / to) * to;
  let splits = 1;
  if (allowSplit && mTiles * nTiles < TARGET_GROUPS) {
    const wanted = Math.ceil(TARGET_GROUPS / (mTiles * nTiles));
    splits = Math.max(1, Math.min(wanted, Math.floor(K / MIN_CHUNK)));
  }
  const chunk = roundUp(Math.ceil(K / splits), TK);
  splits = Math.ceil(K / chunk); // rounding the chunk up may leave fewer slices
  const fold = Math.ceil(mTiles / MAX_GROUPS_PER_DIM);
  return {
    M,
    N,
    K,
    TM,
    TN,
    TK,
    splits,
    chunk,
    dispatch: [Math.ceil(mTiles / fold), nTiles * splits, fold],
  };
}

/** Sizes of a stride-1 NDHWC convolution, from tfjs' Conv3DInfo. */
export interface ConvDims {
  batch: number;
  inD: number;
  inH: number;
  inW: number;
  inC: number;
  outD: number;
  outH: number;
  outW: number;
  outC: number;
  kD: number;
  kH: number;
  kW: number;
  padFront: number;
  padTop: number;
  padLeft: number;
}

/** The dims when our kernels apply (stride 1, dilation 1), else null (tfjs' kernel runs). */
export function convDims(info: tf.backend_util.Conv3DInfo): ConvDims | null {
  const unit = [info.strideDepth, info.strideHeight, info.strideWidth, info.dilationDepth];
  if (unit.some((v) => v !== 1) || info.dilationHeight !== 1 || info.dilationWidth !== 1) return null;
  return {
    batch: info.batchSize,
    inD: info.inDepth,
    inH: info.inHeight,
    inW: info.inWidth,
    inC: info.inChannels,
    outD: info.outDepth,
    outH: info.outHeight,
    outW: info.outWidth,
    outC: info.outChannels,
    kD: info.filterDepth,
    kH: info.filterHeight,
    kW: info.filterWidth,
    padFront: info.padInfo.front,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

const DIM_NAMES = [
  'batch',
  'inD',
  'inH',
  'inW',
  'inC',
  'outD',
  'outH',
  'outW',
  'outC',
  'kD',
  'kH',
  'kW',
  'padFront',
  'padTop',
  'padLeft',
] as const satisfies readonly (keyof ConvDims)[];

/**
 * Which 3D convolution kernels run: ours with sizes `baked` into each shader (on a GPU), ours with sizes
 * as `uniform`s, or tfjs' own (`tfjs`).
 */
export type Conv3dKernels = SizeMode | 'tfjs';

/**
 * The default on an adapter: tfjs' kernels everywhere until ours have been measured on a GPU. On lavapipe
 * ours measured slower (RA-UNet-II width 1/8, 2 x 64x64x32: 136 s per training step against 26 s; a CPU
 * runs the gathers' integer index arithmetic and the idle threads of part-filled tiles at full cost), and
 * on a GPU they are checked for parity only on a software adapter, which runs a workgroup's invocations in
 * a way that could hide a missing barrier; `bench/webgpu-device.ts` measures both on the GPU first.
 * `RAUNET_WEBGPU_CONV3D=tiled` opts in (sizes baked into each shader on a GPU, as uniforms on a software
 * adapter), `=tfjs` states the default.
 */
export function defaultConv3dKernels(software: boolean, override?: string): Conv3dKernels {
  if (override === 'tfjs' || override === undefined || override === '') return 'tfjs';
  if (override === 'tiled') return software ? 'uniform' : 'baked';
  throw new Error(`RAUNET_WEBGPU_CONV3D=${override}: expected tiled or tfjs`);
}

/**
 * How sizes enter a shader. `baked`: as WGSL literals, one pipeline per layer shape (divisions by
 * constants; what a GPU, which compiles in milliseconds, runs). `uniform`: read from uniforms, one
 * pipeline per tile configuration (lavapipe's LLVM takes seconds per shader: the networks' dozens of
 * layer shapes would cost minutes of compilation).
 */
export type SizeMode = 'baked' | 'uniform';

/** A dims reference for generated WGSL: the literal or `uniforms.<name>`. */
type Ref = (name: (typeof DIM_NAMES)[number]) => string;
const refFor =
  (mode: SizeMode, d: ConvDims): Ref =>
  (name) =>
    mode === 'baked' ? String(d[name]) : `uniforms.${name}`;

/**
 * WGSL that splits voxel index `v` of a [batch, D, H, W] grid into vb/vz/vy/vx and a filter tap index
 * `k` of [kD, kH, kW, C] into kd/kh/kw/kc.
 */
function splitVoxel(v: string, D: string, H: string, W: string): string {
  return `let vx = ${v} % ${W}; let vyzb = ${v} / ${W}; let vy = vyzb % ${H}; let vzb = vyzb / ${H};
      let vz = vzb % ${D}; let vb = vzb / ${D};`;
}
function splitTap(k: string, kH: string, kW: string, C: string): string {
  return `let kc = ${k} % ${C}; let kt = ${k} / ${C}; let kw = kt % ${kW}; let kdh = kt / ${kW};
      let kh = kdh % ${kH}; let kd = kdh / ${kH};`;
}

/** A loader reading `buffer` ([batch, D, H, W, C]) at voxel (vb, z, y, x), channel c; zero outside. */
function gather(buffer: string, D: string, H: string, W: string, C: string): string {
  return `if (z < 0 || z >= ${D} || y < 0 || y >= ${H} || x < 0 || x >= ${W}) { return 0.0; }
      return ${buffer}[(((vb * ${D} + z) * ${H} + y) * ${W} + x) * ${C} + c];`;
}

interface GemmSource {
  /** Which product (part of the shader key). */
  kind: 'fwd' | 'dx' | 'dw';
  dims: ConvDims;
  mode: SizeMode;
  /** Input names (tfjs binds them as storage arrays of these names). */
  inputs: [string, string];
  /** WGSL bodies of `fn loadA(m : i32, k : i32) -> f32` and `fn loadB(k : i32, n : i32) -> f32`. */
  loadA: string;
  loadB: string;
  /** Whether consecutive threads stage consecutive k of A (else consecutive m): the contiguous one. */
  aAlongK: boolean;
}

/** The tiled product as a program for the backend; output [splits * M, N] (partial sums by slice). */
export function gemmProgram(plan: GemmPlan, src: GemmSource): WgslProgram {
  const { M, N, K, TM, TN, TK } = plan;
  const WN = TN / RN; // threads along n
  const WM = TM / RM; // threads along m
  const nTiles = Math.ceil(N / TN);
  const baked = src.mode === 'baked';
  // The 4 x 4 outputs of a thread as scalars (an indexed array compiles slowly on lavapipe).
  const cells = range(RM).flatMap((i) => range(RN).map((j) => [i, j] as const));
  const stageA = src.aAlongK ? 'let kk = e % TK; let mm = e / TK;' : 'let mm = e % TM; let kk = e / TM;';
  const sizes = baked ? `const GM = ${M}; const GN = ${N}; const GK = ${K}; const NT = ${nTiles};` : '';
  const sizesInMain = baked
    ? ''
    : 'let GM = uniforms.gM; let GN = uniforms.gN; let GK = uniforms.gK; let NT = uniforms.nTiles;';
  const key = baked ? `${src.kind}_${DIM_NAMES.map((n) => src.dims[n]).join('_')}` : src.kind;
  return {
    variableNames: [...src.inputs],
    outputShape: [plan.splits * M, N],
    shaderKey: `raunetConv3dGemm_${key}_${TM}_${TN}_${TK}`,
    dispatchLayout: { x: [0, 1] },
    dispatch: [...plan.dispatch],
    workgroupSize: [THREADS, 1, 1],
    size: false,
    uniforms: baked
      ? 'kTiles : i32,'
      : `kTiles : i32, gM : i32, gN : i32, gK : i32, nTiles : i32, ${DIM_NAMES.map((n) => `${n} : i32,`).join(' ')}`,
    getUserCode: () => `
      const TM = ${TM};
      const TN = ${TN};
      const TK = ${TK};
      ${sizes}
      var<workgroup> tileA : array<f32, ${TK * TM}>;
      var<workgroup> tileB : array<f32, ${TK * TN}>;
      fn loadA(m : i32, k : i32) -> f32 {
        ${src.loadA}
      }
      fn loadB(k : i32, n : i32) -> f32 {
        ${src.loadB}
      }
      fn main(index : i32) {
        ${sizesInMain}
        let tid = i32(localIndex);
        let m0 = i32(workgroupId.x + workgroupId.z * numWorkgroups.x) * TM;
        let n0 = (i32(workgroupId.y) % NT) * TN;
        let split = i32(workgroupId.y) / NT;
        let k0 = split * uniforms.kTiles * TK;
        let tn = tid % ${WN};
        let tm = tid / ${WN};
        ${cells.map(([i, j]) => `var acc${i}${j} = 0.0;`).join(' ')}
        // A uniform bound (a constant one invites unrolling the whole sum into a huge shader).
        for (var t = 0; t < uniforms.kTiles; t++) {
          let kBase = k0 + t * TK;
          for (var e = tid; e < TK * TM; e += ${THREADS}) {
            ${stageA}
            let m = m0 + mm;
            let k = kBase + kk;
            var v = 0.0;
            if (m < GM && k < GK) { v = loadA(m, k); }
            tileA[kk * TM + mm] = v;
          }
          for (var e = tid; e < TK * TN; e += ${THREADS}) {
            let nn = e % TN;
            let kk = e / TN;
            let n = n0 + nn;
            let k = kBase + kk;
            var v = 0.0;
            if (n < GN && k < GK) { v = loadB(k, n); }
            tileB[kk * TN + nn] = v;
          }
          workgroupBarrier();
          for (var kk = 0; kk < TK; kk++) {
            ${range(RM)
              .map((i) => `let a${i} = tileA[kk * TM + tm + ${i * WM}];`)
              .join(' ')}
            ${range(RN)
              .map((j) => `let b${j} = tileB[kk * TN + tn + ${j * WN}];`)
              .join(' ')}
            ${cells.map(([i, j]) => `acc${i}${j} = fma(a${i}, b${j}, acc${i}${j});`).join('\n            ')}
          }
          workgroupBarrier();
        }
        ${range(RM)
          .map(
            (i) => `if (m0 + tm + ${i * WM} < GM) {
          let row = (split * GM + m0 + tm + ${i * WM}) * GN;
          ${range(RN)
            .map((j) => `if (n0 + tn + ${j * WN} < GN) { result[row + n0 + tn + ${j * WN}] = acc${i}${j}; }`)
            .join('\n          ')}
        }`,
          )
          .join('\n        ')}
      }
    `,
  };
}

/** The uniforms gemmProgram declares, in order. */
function gemmUniforms(plan: GemmPlan, src: GemmSource): { type: 'int32'; data: number[] }[] {
  const kTiles = plan.chunk / plan.TK;
  if (src.mode === 'baked') return [{ type: 'int32', data: [kTiles] }];
  const sizes = [kTiles, plan.M, plan.N, plan.K, Math.ceil(plan.N / plan.TN)];
  return [...sizes, ...DIM_NAMES.map((n) => src.dims[n])].map((v) => ({ type: 'int32', data: [v] }));
}

/** Sums the `splits` partial products [splits * M, N] into [M, N]. */
export function sumSlicesProgram(M: number, N: number): WgslProgram {
  const size = M * N;
  return {
    variableNames: ['slices'],
    outputShape: [M, N],
    shaderKey: 'raunetConv3dSumSlices',
    dispatchLayout: { x: [0, 1] },
    dispatch: [Math.ceil(size / 64), 1, 1], // the backend folds it over y/z past the limit
    workgroupSize: [64, 1, 1],
    size: true,
    uniforms: 'splits : i32,',
    getUserCode: () => `
      fn main(index : i32) {
        if (index < uniforms.size) {
          var s = 0.0;
          for (var i = 0; i < uniforms.splits; i++) { s = s + slices[i * uniforms.size + index]; }
          setOutputAtIndex(index, s);
        }
      }
    `,
  };
}

/** The three products' sources. */
export function forwardSource(d: ConvDims, mode: SizeMode): GemmSource {
  const r = refFor(mode, d);
  return {
    kind: 'fwd',
    dims: d,
    mode,
    inputs: ['convX', 'convFilter'],
    loadA: `${splitVoxel('m', r('outD'), r('outH'), r('outW'))}
      ${splitTap('k', r('kH'), r('kW'), r('inC'))}
      let z = vz + kd - ${r('padFront')}; let y = vy + kh - ${r('padTop')}; let x = vx + kw - ${r('padLeft')};
      let c = kc;
      ${gather('convX', r('inD'), r('inH'), r('inW'), r('inC'))}`,
    loadB: `return convFilter[k * ${r('outC')} + n];`,
    aAlongK: true,
  };
}

export function inputGradSource(d: ConvDims, mode: SizeMode): GemmSource {
  const r = refFor(mode, d);
  return {
    kind: 'dx',
    dims: d,
    mode,
    inputs: ['convDy', 'convFilter'],
    // dx[v, ci] = sum over taps and co of dy[v + pad - tap, co] * filter[tap, ci, co]
    loadA: `${splitVoxel('m', r('inD'), r('inH'), r('inW'))}
      ${splitTap('k', r('kH'), r('kW'), r('outC'))}
      let z = vz + ${r('padFront')} - kd; let y = vy + ${r('padTop')} - kh; let x = vx + ${r('padLeft')} - kw;
      let c = kc;
      ${gather('convDy', r('outD'), r('outH'), r('outW'), r('outC'))}`,
    loadB: `let tap = k / ${r('outC')}; let co = k % ${r('outC')};
      return convFilter[(tap * ${r('inC')} + n) * ${r('outC')} + co];`,
    aAlongK: true,
  };
}

export function filterGradSource(d: ConvDims, mode: SizeMode): GemmSource {
  const r = refFor(mode, d);
  return {
    kind: 'dw',
    dims: d,
    mode,
    inputs: ['convX', 'convDy'],
    // dW[tap, ci, co] = sum over output voxels v of x[v + tap - pad, ci] * dy[v, co]
    loadA: `${splitVoxel('k', r('outD'), r('outH'), r('outW'))}
      ${splitTap('m', r('kH'), r('kW'), r('inC'))}
      let z = vz + kd - ${r('padFront')}; let y = vy + kh - ${r('padTop')}; let x = vx + kw - ${r('padLeft')};
      let c = kc;
      ${gather('convX', r('inD'), r('inH'), r('inW'), r('inC'))}`,
    loadB: `return convDy[k * ${r('outC')} + n];`,
    aAlongK: false,
  };
}

const flat = (t: Info, cols: number): Info => ({
  ...t,
  shape: [t.shape.reduce((a, b) => a * b, 1) / cols, cols],
});

/** Runs the product; sums the slices when the plan splits the sum. Returns [M, N]. */
function runGemm(backend: Backend, plan: GemmPlan, src: GemmSource, a: Info, b: Info): Info {
  const partial = backend.runWebGPUProgram(
    gemmProgram(plan, src),
    [a, b],
    'float32',
    gemmUniforms(plan, src),
  );
  if (plan.splits === 1) return partial;
  const out = backend.runWebGPUProgram(sumSlicesProgram(plan.M, plan.N), [partial], 'float32', [
    { type: 'int32', data: [plan.splits] },
  ]);
  backend.disposeData(partial.dataId);
  return out;
}

const isFloat = (...ts: Info[]) => ts.every((t) => t.dtype === 'float32');

function conv3d(original: KernelFn): KernelFn {
  return (args) => {
    const { x, filter } = args.inputs as { x: Info; filter: Info };
    const { strides, pad, dilations } = args.attrs as unknown as {
      strides: [number, number, number] | number;
      pad: 'valid' | 'same';
      dilations: [number, number, number] | number;
    };
    const info = tf.backend_util.computeConv3DInfo(
      x.shape as [number, number, number, number, number],
      filter.shape as [number, number, number, number, number],
      strides,
      dilations,
      pad,
    );
    const d = convDims(info);
    if (!d || !isFloat(x, filter)) return original(args);
    const plan = planGemm(d.batch * d.outD * d.outH * d.outW, d.outC, d.kD * d.kH * d.kW * d.inC, false);
    const out = runGemm(
      args.backend as unknown as Backend,
      plan,
      forwardSource(d, sizeMode),
      flat(x, d.inC),
      flat(filter, d.outC),
    );
    return { ...out, shape: info.outShape };
  };
}

function conv3dInputGrad(original: KernelFn): KernelFn {
  return (args) => {
    const { dy, filter } = args.inputs as { dy: Info; filter: Info };
    const { strides, pad, inputShape } = args.attrs as unknown as {
      strides: [number, number, number] | number;
      pad: 'valid' | 'same';
      inputShape: [number, number, number, number, number];
    };
    const info = tf.backend_util.computeConv3DInfo(
      inputShape,
      filter.shape as [number, number, number, number, number],
      strides,
      1,
      pad,
    );
    const d = convDims(info);
    if (!d || !isFloat(dy, filter)) return original(args);
    const plan = planGemm(d.batch * d.inD * d.inH * d.inW, d.inC, d.kD * d.kH * d.kW * d.outC, false);
    const out = runGemm(
      args.backend as unknown as Backend,
      plan,
      inputGradSource(d, sizeMode),
      flat(dy, d.outC),
      flat(filter, d.outC),
    );
    return { ...out, shape: [...inputShape] };
  };
}

function conv3dFilterGrad(original: KernelFn): KernelFn {
  return (args) => {
    const { x, dy } = args.inputs as { x: Info; dy: Info };
    const { strides, pad, filterShape } = args.attrs as unknown as {
      strides: [number, number, number] | number;
      pad: 'valid' | 'same';
      filterShape: [number, number, number, number, number];
    };
    const info = tf.backend_util.computeConv3DInfo(
      x.shape as [number, number, number, number, number],
      filterShape,
      strides,
      1,
      pad,
    );
    const d = convDims(info);
    if (!d || !isFloat(x, dy)) return original(args);
    const plan = planGemm(d.kD * d.kH * d.kW * d.inC, d.outC, d.batch * d.outD * d.outH * d.outW, true);
    const out = runGemm(
      args.backend as unknown as Backend,
      plan,
      filterGradSource(d, sizeMode),
      flat(x, d.inC),
      flat(dy, d.outC),
    );
    return { ...out, shape: [...filterShape] };
  };
}

/** Kernel name -> replacement (given tfjs' kernel, used for the cases ours do not cover). */
export const CONV3D_KERNELS: Record<string, (original: KernelFn) => KernelFn> = {
  Conv3D: conv3d,
  Conv3DBackpropInputV2: conv3dInputGrad,
  Conv3DBackpropFilterV2: conv3dFilterGrad,
};

let sizeMode: SizeMode = 'baked';

/** tfjs' own kernels, kept when ours are first installed (to switch back for comparisons). */
const tfjsKernels = new Map<string, tf.KernelConfig>();

/**
 * Registers our kernels for the three (enabled) or tfjs' own again (disabled, for before/after
 * measurements), with sizes in shaders as `mode` says (default: as before, initially `baked`). Idempotent; call after tfjs-backend-webgpu has registered its kernels.
 */
export function useGemmConv3d(enabled: boolean, mode: SizeMode = sizeMode): void {
  sizeMode = mode;
  for (const [name, make] of Object.entries(CONV3D_KERNELS)) {
    const current = tf.getKernel(name, 'webgpu');
    if (!current) continue;
    if (!tfjsKernels.has(name)) tfjsKernels.set(name, current);
    const own = tfjsKernels.get(name)!;
    tf.unregisterKernel(name, 'webgpu');
    tf.registerKernel(enabled ? { ...own, kernelFunc: make(own.kernelFunc) } : own);
  }
}
