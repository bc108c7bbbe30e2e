/**
 * Fixes and speed-ups for tfjs-backend-wasm 4.22 kernels the RA-UNets need, registered before the
 * backend starts (`installWasmKernelPatches`):
 *  - `Conv2DBackpropFilter` is missing (no 2D network could train): run the 3D filter gradient on
 *    depth-1 views.
 *  - `Conv3DBackpropInputV2` returns wrong gradients: use the forward convolution with the flipped,
 *    channel-swapped filter.
 *  - `MaxPool3D`, `MaxPoolGrad`, `MaxPool3DGrad` and `ResizeNearestNeighborGrad` are wrong once a side
 *    reaches 8: 'valid' max pooling (all the networks use) runs typed-array kernels (`pool-kernels.ts`),
 *    anything else the cpu backend's kernels on copies of the inputs.
 *  - `Conv3DBackpropFilterV2` is a direct loop: stride-1 'same' filter gradients become, per depth tap,
 *    one matrix product of shifted input columns (`conv-columns.ts`) with dy (1.5-2x faster).
 *  - `Conv3D` is a direct loop (~0.3 GFLOP/s): stride-1 'same' convolutions become sums of XNNPACK
 *    Conv2Ds over the depth taps, 1x1x1 ones a single matrix product (~20x faster).
 *  - Rank-5 tensors fall off wasm's fast paths: `Sum`/`Mean` (batch-norm statistics and the gradients
 *    of every broadcast) first transpose them with a generic kernel, and `SplitV` (the gradient of
 *    every channel concatenation) slices them element by element. Reductions run on merged axes
 *    (adjacent axes treated alike are one axis: [2,32,32,32,8] sum 61 -> 1 ms); splits and
 *    concatenations are plain row copies on [outer, axis * inner] views (split 638 -> ~3 ms).
 */
import * as tf from '@tensorflow/tfjs';
import { filterGradientColumns } from './conv-columns.ts';
import { maxPoolForward, maxPoolGradient, type PoolGeometry, poolOutputShape } from './pool-kernels.ts';

type KernelFn = tf.KernelConfig['kernelFunc'];
type Info = tf.TensorInfo;
interface Backend {
  disposeData(id: object): void;
}

const PATCHED = Symbol.for('raunet.wasm.patched');

/** Replace a registered wasm kernel by `make(original)`, once; the original's set-up is kept. */
function wrapKernel(name: string, make: (original: KernelFn) => KernelFn): void {
  const config = tf.getKernel(name, 'wasm');
  if (!config) return;
  const original = config.kernelFunc;
  if ((original as unknown as Record<symbol, boolean>)[PATCHED]) return;
  const patched = make(original);
  (patched as unknown as Record<symbol, boolean>)[PATCHED] = true;
  tf.unregisterKernel(name, 'wasm');
  tf.registerKernel({ ...config, kernelFunc: patched });
}

/** A view of the same buffer with another shape of equal size. */
function view(t: Info, shape: number[]): Info {
  return { ...t, shape };
}

/**
 * Groups adjacent axes with equal keys: returns the merged shape and, for each merged axis, the key
 * of its group. `mergeAxes([2,3,4,5], [a,a,b,b])` -> shape [6, 20], keys [a, b].
 */
export function mergeAxes<K>(shape: readonly number[], keys: readonly K[]): { shape: number[]; keys: K[] } {
  const out: number[] = [];
  const outKeys: K[] = [];
  shape.forEach((d, i) => {
    const k = keys[i]!;
    if (out.length > 0 && outKeys[outKeys.length - 1] === k) out[out.length - 1]! *= d;
    else {
      out.push(d);
      outKeys.push(k);
    }
  });
  return { shape: out, keys: outKeys };
}

/** Axes as non-negative indices; null or undefined means every axis (as tfjs reductions read it). */
function normaliseAxes(axis: number | number[] | null | undefined, rank: number): number[] {
  if (axis == null) return Array.from({ length: rank }, (_, i) => i);
  return (Array.isArray(axis) ? axis : [axis]).map((a) => (a < 0 ? a + rank : a));
}

/** Sum/Mean over any axes: merge runs of reduced and of kept axes, reduce, restore the output shape. */
function reductionOverMergedAxes(original: KernelFn): KernelFn {
  return (args) => {
    const { x } = args.inputs as { x: Info };
    const attrs = args.attrs as unknown as { axis: number | number[] | null; keepDims: boolean };
    const rank = x.shape.length;
    const reduced = new Set(normaliseAxes(attrs.axis, rank));
    if (rank <= 2) return original(args);
    const merged = mergeAxes(
      x.shape,
      x.shape.map((_, i) => reduced.has(i)),
    );
    const axes = merged.keys.flatMap((r, i) => (r ? [i] : []));
    const out = original({
      ...args,
      inputs: { x: view(x, merged.shape) },
      attrs: { ...attrs, axis: axes, keepDims: false } as unknown as tf.NamedAttrMap,
    }) as Info;
    const shape = attrs.keepDims
      ? x.shape.map((d, i) => (reduced.has(i) ? 1 : d))
      : x.shape.filter((_, i) => !reduced.has(i));
    return { ...out, shape };
  };
}

/** The wasm backend's buffer access (public methods of its BackendWasm class). */
interface WasmBuffers extends Backend {
  makeOutput(shape: number[], dtype: tf.DataType): Info;
  typedArrayFromHeap(t: Info): Float32Array;
}

/**
 * Copies `rows` rows of `width` values from src (row stride srcStride, starting at srcOff) to dst
 * (stride dstStride, from dstOff). Narrow rows (the channel slices of a channels-last tensor) are
 * copied element by element: a typed-array view per row costs more than the copy itself.
 */
export function copyRows(
  src: Float32Array,
  srcStride: number,
  srcOff: number,
  dst: Float32Array,
  dstStride: number,
  dstOff: number,
  rows: number,
  width: number,
): void {
  if (width >= 64) {
    for (let r = 0; r < rows; r++) {
      const s = srcOff + r * srcStride;
      dst.set(src.subarray(s, s + width), dstOff + r * dstStride);
    }
    return;
  }
  for (let r = 0; r < rows; r++) {
    const s = srcOff + r * srcStride;
    const d = dstOff + r * dstStride;
    for (let k = 0; k < width; k++) dst[d + k] = src[s + k]!;
  }
}

/** Product of shape[from..to). */
function span(shape: readonly number[], from: number, to = shape.length): number {
  let p = 1;
  for (let i = from; i < to; i++) p *= shape[i]!;
  return p;
}

/**
 * SplitV of a float32 tensor along any axis as a row copy on the [outer, axis * inner] view (wasm's
 * own kernel slices rank-5 tensors element by element through generic index arithmetic).
 */
function splitAsRowCopies(original: KernelFn): KernelFn {
  return (args) => {
    const { x } = args.inputs as { x: Info };
    const attrs = args.attrs as unknown as { numOrSizeSplits: number | number[]; axis: number };
    if (x.dtype !== 'float32') return original(args);
    const axis = normaliseAxes(attrs.axis, x.shape.length)[0]!;
    const len = x.shape[axis]!;
    const sizes =
      typeof attrs.numOrSizeSplits === 'number'
        ? Array<number>(attrs.numOrSizeSplits).fill(len / attrs.numOrSizeSplits)
        : attrs.numOrSizeSplits;
    if (sizes.some((v) => !Number.isInteger(v) || v < 0)) return original(args);
    const b = args.backend as unknown as WasmBuffers;
    const outer = span(x.shape, 0, axis);
    const inner = span(x.shape, axis + 1);
    const src = b.typedArrayFromHeap(x);
    let offset = 0;
    return sizes.map((size) => {
      const out = b.makeOutput(
        x.shape.map((d, i) => (i === axis ? size : d)),
        'float32',
      );
      copyRows(
        src,
        len * inner,
        offset * inner,
        b.typedArrayFromHeap(out),
        size * inner,
        0,
        outer,
        size * inner,
      );
      offset += size;
      return out;
    });
  };
}

/** Concat of float32 tensors along any axis as row copies on [outer, axis * inner] views. */
function concatAsRowCopies(original: KernelFn): KernelFn {
  return (args) => {
    const inputs = (Array.isArray(args.inputs) ? args.inputs : Object.values(args.inputs)) as Info[];
    const first = inputs[0];
    if (!first || inputs.length < 2 || inputs.some((t) => t.dtype !== 'float32' || span(t.shape, 0) === 0)) {
      return original(args);
    }
    const axis = normaliseAxes((args.attrs as unknown as { axis: number }).axis, first.shape.length)[0]!;
    const total = inputs.reduce((sum, t) => sum + t.shape[axis]!, 0);
    const b = args.backend as unknown as WasmBuffers;
    const outer = span(first.shape, 0, axis);
    const inner = span(first.shape, axis + 1);
    const out = b.makeOutput(
      first.shape.map((d, i) => (i === axis ? total : d)),
      'float32',
    );
    const dst = b.typedArrayFromHeap(out);
    let offset = 0;
    for (const t of inputs) {
      const width = t.shape[axis]! * inner;
      copyRows(b.typedArrayFromHeap(t), width, 0, dst, total * inner, offset * inner, outer, width);
      offset += t.shape[axis]!;
    }
    return out;
  };
}

/**
 * Runs the cpu backend's kernel of the same name on copies of the inputs and writes the result into a
 * wasm tensor: for wasm kernels that are wrong (the pure-JS ones are the reference the tests use).
 */
function viaCpuBackend(name: string): KernelFn {
  return (args) => {
    const cpu = tf.findBackend('cpu');
    const kernel = tf.getKernel(name, 'cpu');
    if (!cpu || !kernel) throw new Error(`${name} on wasm needs the cpu backend's kernel, which is missing`);
    const wasm = args.backend as unknown as WasmBuffers & { readSync(id: object): tf.TypedArray };
    const made: object[] = [];
    const inputs: Record<string, Info> = {};
    for (const [key, t] of Object.entries(args.inputs as Record<string, Info>)) {
      const dataId = cpu.write(wasm.readSync(t.dataId).slice(), t.shape, t.dtype);
      made.push(dataId);
      inputs[key] = { dataId, shape: t.shape, dtype: t.dtype };
    }
    try {
      const out = kernel.kernelFunc({ inputs, backend: cpu, attrs: args.attrs }) as Info;
      made.push(out.dataId);
      const result = wasm.makeOutput(out.shape, out.dtype);
      wasm.typedArrayFromHeap(result).set(cpu.readSync(out.dataId) as Float32Array);
      return result;
    } finally {
      for (const id of made) cpu.disposeData(id);
    }
  };
}

/** Runs a registered wasm kernel directly (inside another kernel, so nothing is taped or tracked). */
function runKernel(backend: unknown, name: string, inputs: Record<string, Info>, attrs: object): Info {
  const kernel = tf.getKernel(name, 'wasm');
  if (!kernel) throw new Error(`the wasm backend has no ${name} kernel`);
  return kernel.kernelFunc({
    inputs,
    backend: backend as tf.KernelBackend,
    attrs: attrs as tf.NamedAttrMap,
  }) as Info;
}

function allOnes(v: number | number[] | undefined): boolean {
  return v === undefined || (typeof v === 'number' ? [v] : v).every((s) => s === 1);
}

/**
 * The convolutions the replacement kernels handle: stride 1, no dilation and 'same' padding ('valid' is
 * the same thing for a 1x1x1 kernel). `kernel` is [kd, kh, kw].
 */
function strideOneSame(
  a: { strides: number | number[]; pad: unknown; dilations?: number | number[] },
  kernel: readonly number[],
): boolean {
  const pointwise = kernel.every((k) => k === 1);
  return allOnes(a.strides) && allOnes(a.dilations) && (a.pad === 'same' || (pointwise && a.pad === 'valid'));
}

/**
 * Conv3D with stride 1, 'same' padding and an odd depth kernel, as wasm's fast (XNNPACK) kernels:
 * a 1x1x1 kernel is one matrix product [voxels, in] x [in, out]; a kd x kh x kw kernel is the sum over
 * the kd depth taps of a 2D convolution of the depth-shifted input (zero-padded in z) with that tap's
 * kh x kw filter. Same arithmetic as the direct convolution (up to summation order); about 20x faster
 * than wasm's own Conv3D (376 -> 17 ms for [2,32,32,32,8] * [3,3,3,8,4]). Anything else runs the original.
 */
function conv3dFromFastKernels(original: KernelFn): KernelFn {
  return (args) => {
    const { x, filter } = args.inputs as { x: Info; filter: Info };
    const a = args.attrs as unknown as {
      strides: number | number[];
      pad: unknown;
      dilations?: number | number[];
      dataFormat?: string;
    };
    const [kd, kh, kw, ci, co] = filter.shape as [number, number, number, number, number];
    const pointwise = kd === 1 && kh === 1 && kw === 1;
    if (!strideOneSame(a, [kd, kh, kw]) || (a.dataFormat ?? 'NDHWC') !== 'NDHWC' || kd % 2 !== 1) {
      return original(args);
    }
    const [n, d, h, w] = x.shape as [number, number, number, number];
    const b = args.backend as unknown as Backend;
    const outShape = [n, d, h, w, co];
    if (pointwise) {
      const out = runKernel(
        args.backend,
        'BatchMatMul',
        { a: view(x, [1, n * d * h * w, ci]), b: view(filter, [1, ci, co]) },
        { transposeA: false, transposeB: false },
      );
      return { ...out, shape: outShape };
    }
    const r = (kd - 1) / 2;
    const padded =
      r > 0
        ? runKernel(
            args.backend,
            'PadV2',
            { x },
            {
              paddings: [
                [0, 0],
                [r, r],
                [0, 0],
                [0, 0],
                [0, 0],
              ],
              constantValue: 0,
            },
          )
        : x;
    const tap = kh * kw * ci * co;
    let sum: Info | undefined;
    for (let dz = 0; dz < kd; dz++) {
      const xs = runKernel(
        args.backend,
        'Slice',
        { x: view(padded, [n, d + 2 * r, h * w * ci]) },
        { begin: [0, dz, 0], size: [n, d, h * w * ci] },
      );
      const fs = runKernel(
        args.backend,
        'Slice',
        { x: view(filter, [kd, tap]) },
        { begin: [dz, 0], size: [1, tap] },
      );
      const y = runKernel(
        args.backend,
        'Conv2D',
        { x: view(xs, [n * d, h, w, ci]), filter: view(fs, [kh, kw, ci, co]) },
        { strides: [1, 1], pad: 'same', dilations: [1, 1], dataFormat: 'NHWC' },
      );
      b.disposeData(xs.dataId);
      b.disposeData(fs.dataId);
      if (sum === undefined) sum = y;
      else {
        const next = runKernel(args.backend, 'Add', { a: sum, b: y }, {});
        b.disposeData(sum.dataId);
        b.disposeData(y.dataId);
        sum = next;
      }
    }
    if (padded !== x) b.disposeData(padded.dataId);
    return { ...sum!, shape: outShape };
  };
}

/**
 * tfjs-backend-wasm 4.x has no `Conv2DBackpropFilter` kernel, so no 2D network can train on it. The
 * filter gradient of a 2D convolution is the 3D one with a depth-1 input and a depth-1 filter, which
 * wasm has: run `Conv3DBackpropFilterV2` on [n, 1, h, w, c] views of the same buffers.
 */
function registerConv2DBackpropFilter(): void {
  if (tf.getKernel('Conv2DBackpropFilter', 'wasm') || !tf.getKernel('Conv3DBackpropFilterV2', 'wasm')) return;
  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x, dy } = inputs as { x: Info; dy: Info };
      const a = attrs as unknown as {
        strides: number | [number, number];
        pad: unknown;
        dataFormat?: string;
        filterShape: [number, number, number, number];
      };
      const [sh, sw] = typeof a.strides === 'number' ? [a.strides, a.strides] : a.strides;
      // Stride 1 only: the wasm 3D kernel disagrees with the cpu backend for strided 'same' convolutions.
      if (
        (a.dataFormat ?? 'NHWC') !== 'NHWC' ||
        (a.pad !== 'same' && a.pad !== 'valid') ||
        sh !== 1 ||
        sw !== 1
      ) {
        throw new Error(
          `Conv2DBackpropFilter on wasm: only NHWC, stride 1, 'same'/'valid' padding are supported`,
        );
      }
      const as5d = (t: Info): Info => view(t, [t.shape[0]!, 1, ...t.shape.slice(1)]);
      const dw = runKernel(
        backend,
        'Conv3DBackpropFilterV2',
        { x: as5d(x), dy: as5d(dy) },
        { strides: [1, sh, sw], pad: a.pad, filterShape: [1, ...a.filterShape] },
      );
      return { dataId: dw.dataId, shape: [...a.filterShape], dtype: dw.dtype };
    },
  });
}

/**
 * tfjs-backend-wasm 4.22's `Conv3DBackpropInputV2` returns wrong input gradients (checked against the
 * cpu backend and finite differences), so 3D networks would train on garbage. For stride 1 with odd
 * kernels and 'same' padding (all the networks use), the input gradient is the forward convolution of
 * dy with the spatially flipped filter whose in/out channels are swapped; wasm's forward Conv3D is right.
 */
function replaceConv3DBackpropInput(): void {
  wrapKernel('Conv3DBackpropInputV2', () => ({ inputs, backend, attrs }) => {
    const { dy, filter } = inputs as { dy: Info; filter: Info };
    const a = attrs as unknown as { strides: number | number[]; pad: unknown };
    const kernel = filter.shape.slice(0, 3);
    if (!strideOneSame(a, kernel) || kernel.some((k) => k % 2 !== 1)) {
      throw new Error(
        `Conv3DBackpropInputV2 on wasm: only stride 1, odd kernels, 'same' padding are supported`,
      );
    }
    const b = backend as unknown as Backend;
    const flipped = runKernel(backend, 'Reverse', { x: filter }, { dims: [0, 1, 2] });
    const swapped = runKernel(backend, 'Transpose', { x: flipped }, { perm: [0, 1, 2, 4, 3] });
    b.disposeData(flipped.dataId);
    // the Conv3D registered now (the fast one of `conv3dFromFastKernels` when installed)
    const dx = runKernel(
      backend,
      'Conv3D',
      { x: dy, filter: swapped },
      { strides: [1, 1, 1], pad: 'same', dilations: [1, 1, 1] },
    );
    b.disposeData(swapped.dataId);
    return dx;
  });
}

/**
 * The pooling geometry of 'valid', undilated, channels-last max pooling of a rank-4 (2D) or rank-5 (3D)
 * input as [n, d, h, w, c] (d = 1 in 2D); null for anything else.
 */
function poolGeometry(shape: readonly number[], attrs: object): PoolGeometry | null {
  const a = attrs as {
    filterSize: number | number[];
    strides: number | number[];
    pad: unknown;
    dilations?: number | number[];
    dataFormat?: string;
  };
  const rank = shape.length - 2;
  const triple = (v: number | number[]): [number, number, number] | null => {
    const list = typeof v === 'number' ? Array<number>(rank).fill(v) : v;
    if (list.length !== rank) return null;
    return rank === 2 ? [1, list[0]!, list[1]!] : [list[0]!, list[1]!, list[2]!];
  };
  const window = triple(a.filterSize);
  const strides = triple(a.strides);
  const channelsLast = a.dataFormat === undefined || a.dataFormat === 'NDHWC' || a.dataFormat === 'NHWC';
  if (!window || !strides || !(a.pad === 'valid' || a.pad === 0) || !allOnes(a.dilations) || !channelsLast) {
    return null;
  }
  const [n, ...rest] = shape as number[];
  const input: PoolGeometry['input'] =
    rank === 2 ? [n!, 1, rest[0]!, rest[1]!, rest[2]!] : [n!, rest[0]!, rest[1]!, rest[2]!, rest[3]!];
  if (window.some((k, i) => k < 1 || k > input[i + 1]!)) return null;
  return { input, window, strides };
}

/** Max pooling (`gradient` false: `x` -> output) or its gradient (`dy`, `input` -> dx) on typed arrays. */
function maxPoolKernel(name: string, gradient: boolean): KernelFn {
  const fallback = viaCpuBackend(name);
  return (args) => {
    const inputs = args.inputs as Record<string, Info>;
    const x = gradient ? inputs.input! : inputs.x!;
    const g = x.dtype === 'float32' ? poolGeometry(x.shape, args.attrs ?? {}) : null;
    if (!g) return fallback(args);
    const b = args.backend as unknown as WasmBuffers;
    if (gradient) {
      const dx = b.makeOutput([...x.shape], 'float32');
      maxPoolGradient(b.typedArrayFromHeap(x), b.typedArrayFromHeap(inputs.dy!), g, b.typedArrayFromHeap(dx));
      return dx;
    }
    const [n, od, oh, ow, c] = poolOutputShape(g);
    const out = b.makeOutput(x.shape.length === 5 ? [n, od, oh, ow, c] : [n, oh, ow, c], 'float32');
    maxPoolForward(b.typedArrayFromHeap(x), g, b.typedArrayFromHeap(out));
    return out;
  };
}

/**
 * Floats in one column matrix of the filter gradient (32 MB); larger inputs go plane run by run.
 * Mutable so that tests can exercise the runs on small tensors.
 */
export const FILTER_GRADIENT = { columnBudget: 1 << 23 };

/**
 * Conv3DBackpropFilterV2 for stride 1, odd kernels, 'same' padding (and 1x1x1 'valid'): for each depth
 * tap, the shifted-input column matrix [kh*kw*ci, voxels] times dy [voxels, co] (wasm's BatchMatMul)
 * is that tap's [kh, kw, ci, co] slab; runs of (batch, z) planes keep the columns within the budget.
 * Measured on [2,32,64,64,ci] inputs: 8 -> 4 channels 780 -> 470 ms, [2,16,32,32,8] 8 -> 8 130 -> 60 ms;
 * with a single input or output channel wasm's own loop is as fast or faster and runs instead.
 */
function conv3dFilterGradientFromMatMul(original: KernelFn): KernelFn {
  return (args) => {
    const { x, dy } = args.inputs as { x: Info; dy: Info };
    const a = args.attrs as unknown as {
      strides: number | number[];
      pad: unknown;
      dilations?: number | number[];
      filterShape: [number, number, number, number, number];
    };
    const [kd, kh, kw, ci, co] = a.filterShape;
    if (
      !strideOneSame(a, [kd, kh, kw]) ||
      [kd, kh, kw].some((k) => k % 2 !== 1) ||
      x.dtype !== 'float32' ||
      x.shape.length !== 5 ||
      // one input or output channel: the columns cost more than wasm's direct loop saves
      ci < 2 ||
      co < 2
    ) {
      return original(args);
    }
    const [n, d, h, w] = x.shape as [number, number, number, number];
    const b = args.backend as unknown as WasmBuffers;
    const rows = kh * kw * ci;
    const planeVoxels = h * w;
    const planesTotal = n * d;
    const budget = FILTER_GRADIENT.columnBudget;
    const chunk = Math.max(1, Math.min(planesTotal, Math.floor(budget / (rows * planeVoxels))));
    const sum = new Float32Array(kd * rows * co);
    for (let tap = 0; tap < kd; tap++) {
      for (let first = 0; first < planesTotal; first += chunk) {
        const planes = Math.min(chunk, planesTotal - first);
        const voxels = planes * planeVoxels;
        const columns = b.makeOutput([1, rows, voxels], 'float32');
        filterGradientColumns(
          b.typedArrayFromHeap(x),
          { shape: [n, d, h, w, ci], kernel: [kd, kh, kw], tap, firstPlane: first, planes },
          b.typedArrayFromHeap(columns),
        );
        const whole = planes === planesTotal;
        const dyRows = whole ? view(dy, [1, voxels, co]) : b.makeOutput([1, voxels, co], 'float32');
        if (!whole) {
          const from = first * planeVoxels * co;
          b.typedArrayFromHeap(dyRows).set(b.typedArrayFromHeap(dy).subarray(from, from + voxels * co));
        }
        const product = runKernel(
          args.backend,
          'BatchMatMul',
          { a: columns, b: dyRows },
          { transposeA: false, transposeB: false },
        );
        const values = b.typedArrayFromHeap(product);
        const offset = tap * rows * co;
        for (let i = 0; i < rows * co; i++) sum[offset + i] = sum[offset + i]! + values[i]!;
        b.disposeData(columns.dataId);
        b.disposeData(product.dataId);
        if (!whole) b.disposeData(dyRows.dataId);
      }
    }
    const out = b.makeOutput([...a.filterShape], 'float32');
    b.typedArrayFromHeap(out).set(sum);
    return out;
  };
}

/** Register all wasm kernel fixes; call after importing tfjs-backend-wasm, before `setBackend('wasm')`. */
export function installWasmKernelPatches(): void {
  wrapKernel('Conv3D', conv3dFromFastKernels);
  registerConv2DBackpropFilter();
  replaceConv3DBackpropInput();
  wrapKernel('Sum', reductionOverMergedAxes);
  wrapKernel('Mean', reductionOverMergedAxes);
  wrapKernel('Conv3DBackpropFilterV2', conv3dFilterGradientFromMatMul);
  // wrong for inputs of 8+ pixels a side (tfjs 4.22; checked against the cpu backend and by hand):
  wrapKernel('MaxPool3D', () => maxPoolKernel('MaxPool3D', false));
  wrapKernel('MaxPool3DGrad', () => maxPoolKernel('MaxPool3DGrad', true));
  wrapKernel('MaxPoolGrad', () => maxPoolKernel('MaxPoolGrad', true));
  wrapKernel('ResizeNearestNeighborGrad', () => viaCpuBackend('ResizeNearestNeighborGrad'));
  wrapKernel('SplitV', splitAsRowCopies);
  wrapKernel('Concat', concatAsRowCopies);
}
