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
 * Every size is a constant of the generated shader (one pipeline per layer shape, cached by tfjs), so the
 * index arithmetic divides by constants. Other convolutions (strides, dilations, non-float32) keep tfjs'
 * kernels. Checked against the cpu backend in test/model/webgpu-conv3d.test.ts.
 */
import * as tf from '@tensorflow/tfjs';
import type { WgslProgram } from './webgpu-kernels.ts';

type KernelFn = tf.KernelConfig['kernelFunc'];
type Info = tf.TensorInfo;

interface Backend {
  runWebGPUProgram(
    program: WgslProgram,
    inputs: Info[],
    outputDtype: tf.DataType,
    uniforms?: { type: 'float32' | 'int32'; data: number[] }[],
  ): Info;
  disposeData(id: object): boolean;
}

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

const dimsKey = (d: ConvDims) => Object.values(d).join('_');

/**
 * WGSL that splits voxel index `v` of a [batch, D, H, W] grid into `prefix`B/Z/Y/X and a filter
 * offset index `k` of [kD, kH, kW, C] into `prefix`KD/KH/KW/KC.
 */
function splitVoxel(v: string, D: number, H: number, W: number): string {
  return `let vx = ${v} % ${W}; let vyzb = ${v} / ${W}; let vy = vyzb % ${H}; let vzb = vyzb / ${H};
      let vz = vzb % ${D}; let vb = vzb / ${D};`;
}
function splitTap(k: string, kH: number, kW: number, C: number): string {
  return `let kc = ${k} % ${C}; let kt = ${k} / ${C}; let kw = kt % ${kW}; let kdh = kt / ${kW};
      let kh = kdh % ${kH}; let kd = kdh / ${kH};`;
}

/** A loader reading `buffer` ([batch, D, H, W, C]) at voxel (vb, z, y, x), channel c; zero outside. */
function gather(buffer: string, D: number, H: number, W: number, C: number): string {
  return `if (z < 0 || z >= ${D} || y < 0 || y >= ${H} || x < 0 || x >= ${W}) { return 0.0; }
      return ${buffer}[(((vb * ${D} + z) * ${H} + y) * ${W} + x) * ${C} + c];`;
}

interface GemmSource {
  /** Key of the shader (with every baked-in size). */
  key: string;
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
  const { M, N, K, TM, TN, TK, chunk } = plan;
  const WN = TN / RN; // threads along n
  const WM = TM / RM; // threads along m
  const nTiles = Math.ceil(N / TN);
  const stageA = src.aAlongK
    ? 'let kk = e % TK; let mm = e / TK;'
    : 'let mm = e % TM; let kk = e / TM;';
  return {
    variableNames: [...src.inputs],
    outputShape: [plan.splits * M, N],
    shaderKey: `raunetConv3dGemm_${src.key}_${TM}_${TN}_${TK}_${chunk}`,
    dispatchLayout: { x: [0, 1] },
    dispatch: [...plan.dispatch],
    workgroupSize: [THREADS, 1, 1],
    size: false,
    getUserCode: () => `
      const GM = ${M};
      const GN = ${N};
      const GK = ${K};
      const TM = ${TM};
      const TN = ${TN};
      const TK = ${TK};
      const CHUNK = ${chunk};
      var<workgroup> tileA : array<f32, ${TK * TM}>;
      var<workgroup> tileB : array<f32, ${TK * TN}>;
      fn loadA(m : i32, k : i32) -> f32 {
        ${src.loadA}
      }
      fn loadB(k : i32, n : i32) -> f32 {
        ${src.loadB}
      }
      fn main(index : i32) {
        _ = uniforms.NAN; // all sizes are constants; keeps the uniform binding tfjs always supplies
        let tid = i32(localIndex);
        let m0 = i32(workgroupId.x + workgroupId.z * numWorkgroups.x) * TM;
        let n0 = (i32(workgroupId.y) % ${nTiles}) * TN;
        let split = i32(workgroupId.y) / ${nTiles};
        let k0 = split * CHUNK;
        let tn = tid % ${WN};
        let tm = tid / ${WN};
        var acc : array<f32, ${RM * RN}>;
        for (var t = 0; t < CHUNK / TK; t++) {
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
            var a : array<f32, ${RM}>;
            var b : array<f32, ${RN}>;
            for (var i = 0; i < ${RM}; i++) { a[i] = tileA[kk * TM + tm + i * ${WM}]; }
            for (var j = 0; j < ${RN}; j++) { b[j] = tileB[kk * TN + tn + j * ${WN}]; }
            for (var i = 0; i < ${RM}; i++) {
              for (var j = 0; j < ${RN}; j++) {
                acc[i * ${RN} + j] = fma(a[i], b[j], acc[i * ${RN} + j]);
              }
            }
          }
          workgroupBarrier();
        }
        for (var i = 0; i < ${RM}; i++) {
          let m = m0 + tm + i * ${WM};
          if (m >= GM) { continue; }
          for (var j = 0; j < ${RN}; j++) {
            let n = n0 + tn + j * ${WN};
            if (n < GN) { result[(split * GM + m) * GN + n] = acc[i * ${RN} + j]; }
          }
        }
      }
    `,
  };
}

/** Sums the `splits` partial products [splits * M, N] into [M, N]. */
export function sumSlicesProgram(splits: number, M: number, N: number): WgslProgram {
  const size = M * N;
  return {
    variableNames: ['slices'],
    outputShape: [M, N],
    shaderKey: `raunetConv3dSumSlices_${splits}_${size}`,
    dispatchLayout: { x: [0, 1] },
    dispatch: [Math.ceil(size / 64), 1, 1], // the backend folds it over y/z past the limit
    workgroupSize: [64, 1, 1],
    size: true,
    getUserCode: () => `
      fn main(index : i32) {
        if (index < uniforms.size) {
          var s = 0.0;
          for (var i = 0; i < ${splits}; i++) { s = s + slices[i * ${size} + index]; }
          setOutputAtIndex(index, s);
        }
      }
    `,
  };
}

/** Product of the sources for the three kernels. */
export function forwardSource(d: ConvDims): GemmSource {
  return {
    key: `fwd_${dimsKey(d)}`,
    inputs: ['convX', 'convFilter'],
    loadA: `${splitVoxel('m', d.outD, d.outH, d.outW)}
      ${splitTap('k', d.kH, d.kW, d.inC)}
      let z = vz + kd - ${d.padFront}; let y = vy + kh - ${d.padTop}; let x = vx + kw - ${d.padLeft};
      let c = kc;
      ${gather('convX', d.inD, d.inH, d.inW, d.inC)}`,
    loadB: `return convFilter[k * ${d.outC} + n];`,
    aAlongK: true,
  };
}

export function inputGradSource(d: ConvDims): GemmSource {
  return {
    key: `dx_${dimsKey(d)}`,
    inputs: ['convDy', 'convFilter'],
    // dx[v, ci] = sum over taps and co of dy[v + pad - tap, co] * filter[tap, ci, co]
    loadA: `${splitVoxel('m', d.inD, d.inH, d.inW)}
      ${splitTap('k', d.kH, d.kW, d.outC)}
      let z = vz + ${d.padFront} - kd; let y = vy + ${d.padTop} - kh; let x = vx + ${d.padLeft} - kw;
      let c = kc;
      ${gather('convDy', d.outD, d.outH, d.outW, d.outC)}`,
    loadB: `let tap = k / ${d.outC}; let co = k % ${d.outC};
      return convFilter[(tap * ${d.inC} + n) * ${d.outC} + co];`,
    aAlongK: true,
  };
}

export function filterGradSource(d: ConvDims): GemmSource {
  return {
    key: `dw_${dimsKey(d)}`,
    inputs: ['convX', 'convDy'],
    // dW[tap, ci, co] = sum over output voxels v of x[v + tap - pad, ci] * dy[v, co]
    loadA: `${splitVoxel('k', d.outD, d.outH, d.outW)}
      ${splitTap('m', d.kH, d.kW, d.inC)}
      let z = vz + kd - ${d.padFront}; let y = vy + kh - ${d.padTop}; let x = vx + kw - ${d.padLeft};
      let c = kc;
      ${gather('convX', d.inD, d.inH, d.inW, d.inC)}`,
    loadB: `return convDy[k * ${d.outC} + n];`,
    aAlongK: false,
  };
}

const flat = (t: Info, cols: number): Info => ({ ...t, shape: [t.shape.reduce((a, b) => a * b, 1) / cols, cols] });

/** Runs the product; sums the slices when the plan splits the sum. Returns [M, N]. */
function runGemm(backend: Backend, plan: GemmPlan, src: GemmSource, a: Info, b: Info): Info {
  const partial = backend.runWebGPUProgram(gemmProgram(plan, src), [a, b], 'float32');
  if (plan.splits === 1) return partial;
  const out = backend.runWebGPUProgram(sumSlicesProgram(plan.splits, plan.M, plan.N), [partial], 'float32');
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
      forwardSource(d),
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
      inputGradSource(d),
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
      filterGradSource(d),
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

/** tfjs' own kernels, kept when ours are first installed (to switch back for comparisons). */
const tfjsKernels = new Map<string, tf.KernelConfig>();

/**
 * Registers our kernels for the three (enabled) or tfjs' own again (disabled, for before/after
 * measurements). Idempotent; call after tfjs-backend-webgpu has registered its kernels.
 */
export function useGemmConv3d(enabled: boolean): void {
  for (const [name, make] of Object.entries(CONV3D_KERNELS)) {
    const current = tf.getKernel(name, 'webgpu');
    if (!current) continue;
    if (!tfjsKernels.has(name)) tfjsKernels.set(name, current);
    const own = tfjsKernels.get(name)!;
    tf.unregisterKernel(name, 'webgpu');
    tf.registerKernel(enabled ? { ...own, kernelFunc: make(own.kernelFunc) } : own);
  }
}
