/**
 * Fixes for tfjs-backend-webgpu 4.22 kernels the RA-UNets need on rank-5 tensors, registered after the
 * backend module loads and before it starts (`installWebGpuKernelPatches`). Each was found by running
 * the kernel on webgpu (Dawn on lavapipe) and on the pure-JS cpu backend (test/model/webgpu-kernels.test.ts):
 *  - Element-wise binary ops (`Add`, `Multiply`, ...) between a rank-5 tensor and a rank-1 one take a
 *    shared-memory path whose WGSL indexes the rank-5 coordinate struct (`cannot index type 'vec5'`):
 *    the shader does not compile and the output is zeros (every batch-norm scale and offset). All rank
 *    5+ binary ops run on a view with adjacent axes merged where both operands broadcast alike
 *    ([2,32,32,32,8] + [8] -> [32768, 8] + [1, 8]); views are free (same buffer, other shape).
 *  - `PadV2` on rank 5 fails the same way (`vec5` indexed): padded axes are merged with the unpadded
 *    axes after them (padding a merged axis by l*inner, r*inner is exact), and when that still leaves
 *    rank 5 the padding runs in two passes (leading three axes, then the last two).
 *  - `ResizeNearestNeighborGrad` (the gradient of RA-UNet-I's 2D upsampling) sums the wrong window of
 *    dy: replaced by a WGSL kernel of ours that visits, for each input pixel, the few dy pixels around
 *    its preimage and keeps those whose nearest source is that pixel (the forward rule).
 *  - `MaxPoolGrad` (2D) sends the gradient of a window with tied maxima (zeros after a ReLU) to another
 *    element than the cpu backend and TensorFlow (the first maximum): replaced by a WGSL kernel of ours
 *    with that rule. (The 3D kernel already follows it.)
 *  - `Conv3D` and its two gradients are direct loops, far too slow for training on a GPU: replaced there
 *    by tiled matrix products of ours (lib/model/webgpu-conv3d.ts).
 *  - Synchronous reads (`dataSync`) need an OffscreenCanvas, which Node lacks: they fail with a message
 *    that says to use `await tensor.data()` instead of `OffscreenCanvas is not defined`.
 */
import * as tf from '@tensorflow/tfjs';
import { type Conv3dKernels, useGemmConv3d } from './webgpu-conv3d.ts';

type KernelFn = tf.KernelConfig['kernelFunc'];
type Info = tf.TensorInfo;

/** What these patches (and webgpu-conv3d.ts) use of tfjs-backend-webgpu's WebGPUBackend. */
export interface WebGpuBackend {
  runWebGPUProgram(
    program: WgslProgram,
    inputs: Info[],
    outputDtype: tf.DataType,
    uniforms?: { type: 'float32' | 'int32'; data: number[] }[],
  ): Info;
  disposeData(id: object): boolean;
  readSync(id: object): unknown;
}

/** The program object WebGPUBackend.runWebGPUProgram compiles (its WebGPUProgram interface). */
export interface WgslProgram {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  size: boolean;
  uniforms?: string;
  getUserCode(): string;
}

const PATCHED = Symbol.for('raunet.webgpu.patched');

function wrapKernel(name: string, make: (original: KernelFn) => KernelFn): void {
  const config = tf.getKernel(name, 'webgpu');
  if (!config) return;
  const original = config.kernelFunc;
  if ((original as unknown as Record<symbol, boolean>)[PATCHED]) return;
  const patched = make(original);
  (patched as unknown as Record<symbol, boolean>)[PATCHED] = true;
  tf.unregisterKernel(name, 'webgpu');
  tf.registerKernel({ ...config, kernelFunc: patched });
}

function view(t: Info, shape: number[]): Info {
  return { ...t, shape };
}

/** Highest rank the webgpu backend's generated WGSL handles (coordinates up to vec4<i32>). */
const MAX_SAFE_RANK = 4;

/**
 * Shapes of equal-size views of a and b, and of their broadcast output, with size-1 output axes dropped
 * and adjacent axes merged where a and b each either span the axis or broadcast along it alike. The
 * element-wise op on the views is the op on the originals. `null` when the shapes do not broadcast.
 */
export function mergedBroadcastViews(
  a: readonly number[],
  b: readonly number[],
): { a: number[]; b: number[]; out: number[] } | null {
  const rank = Math.max(a.length, b.length);
  const pa = [...Array<number>(rank - a.length).fill(1), ...a];
  const pb = [...Array<number>(rank - b.length).fill(1), ...b];
  const out: number[] = [];
  const keys: string[] = [];
  for (let i = 0; i < rank; i++) {
    const [x, y] = [pa[i]!, pb[i]!];
    if (x !== y && x !== 1 && y !== 1) return null;
    const d = Math.max(x, y);
    if (d === 1) continue;
    const key = `${x === d ? 'a' : '-'}${y === d ? 'b' : '-'}`;
    if (keys.length > 0 && keys[keys.length - 1] === key) out[out.length - 1]! *= d;
    else {
      out.push(d);
      keys.push(key);
    }
  }
  if (out.length === 0) return { a: [1], b: [1], out: [1] };
  return {
    a: out.map((d, i) => (keys[i]![0] === 'a' ? d : 1)),
    b: out.map((d, i) => (keys[i]![1] === 'b' ? d : 1)),
    out,
  };
}

function binaryOnMergedView(original: KernelFn): KernelFn {
  return (args) => {
    const { a, b } = args.inputs as { a: Info; b: Info };
    if (Math.max(a.shape.length, b.shape.length) <= MAX_SAFE_RANK) return original(args);
    const views = mergedBroadcastViews(a.shape, b.shape);
    if (!views || views.out.length > MAX_SAFE_RANK) return original(args);
    const shape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const out = original({
      ...args,
      inputs: { a: view(a, views.a), b: view(b, views.b) },
    }) as Info;
    return view(out, shape);
  };
}

/** The element-wise binary kernels (inputs `a`, `b`, broadcasting) the networks, losses and Adam use. */
export const BINARY_KERNELS = [
  'Add',
  'Sub',
  'Multiply',
  'RealDiv',
  'Maximum',
  'Minimum',
  'SquaredDifference',
  'Pow',
  'Equal',
  'NotEqual',
  'Greater',
  'GreaterEqual',
  'Less',
  'LessEqual',
  'LogicalAnd',
  'LogicalOr',
  'FloorDiv',
] as const;

/**
 * Groups for padding on a view: each group is a run of axes of which only the first may be padded, so
 * padding the merged axis by (l, r) times the product of the rest is exact.
 */
export function mergedPadding(
  shape: readonly number[],
  paddings: readonly (readonly [number, number])[],
): { shape: number[]; paddings: [number, number][]; outShape: number[] } {
  const outShape = shape.map((d, i) => d + paddings[i]![0] + paddings[i]![1]);
  const merged: number[] = [];
  const pads: [number, number][] = [];
  shape.forEach((d, i) => {
    const [l, r] = paddings[i]!;
    if (merged.length > 0 && l === 0 && r === 0) {
      const k = merged.length - 1;
      merged[k]! *= d;
      pads[k] = [pads[k]![0] * d, pads[k]![1] * d];
    } else {
      merged.push(d);
      pads.push([l, r]);
    }
  });
  return { shape: merged, paddings: pads, outShape };
}

function padOnMergedView(original: KernelFn): KernelFn {
  const padOnce = (args: Parameters<KernelFn>[0], x: Info, paddings: [number, number][]): Info => {
    const m = mergedPadding(x.shape, paddings);
    const attrs = { ...args.attrs, paddings: m.paddings } as unknown as tf.NamedAttrMap;
    const out = original({ ...args, inputs: { x: view(x, m.shape) }, attrs }) as Info;
    return view(out, m.outShape);
  };
  return (args) => {
    const { x } = args.inputs as { x: Info };
    const paddings = (args.attrs as unknown as { paddings: [number, number][] }).paddings;
    if (x.shape.length <= MAX_SAFE_RANK) return original(args);
    if (mergedPadding(x.shape, paddings).shape.length <= MAX_SAFE_RANK) return padOnce(args, x, paddings);
    if (x.shape.length !== 5) return original(args);
    // Two passes, each of which merges to rank <= 3: axes 0-2 (3-4 unpadded), then axes 3-4.
    const first = padOnce(
      args,
      x,
      paddings.map((p, i) => (i < 3 ? p : [0, 0])),
    );
    const second = padOnce(
      args,
      first,
      paddings.map((p, i) => (i < 3 ? [0, 0] : p)),
    );
    (args.backend as unknown as WebGpuBackend).disposeData(first.dataId);
    return second;
  };
}

/** Source index of output index i under tfjs' nearest-neighbour resize rule, as a WGSL expression. */
function nearestSourceWgsl(alignCorners: boolean, halfPixelCenters: boolean): string {
  const frac = halfPixelCenters ? '(f32(i) + 0.5) * scale' : 'f32(i) * scale';
  const rounded = alignCorners ? `floor(${frac} + 0.5)` : `floor(${frac})`;
  const clamped = `min(f32(size - 1), ${rounded})`;
  return halfPixelCenters ? `i32(max(0.0, ${clamped}))` : `i32(${clamped})`;
}

/**
 * Gradient of the nearest-neighbour resize: for each input pixel (b, r, c, d), the sum of dy over the
 * output pixels whose nearest source is (r, c). Output pixel i maps to floor(i * scale) (scale = in/out
 * sizes, adjusted for aligned corners), so the candidates for input row r lie in a window of
 * ceil(1/scale) + 3 rows from floor(r / scale) - 1; each candidate is checked with the forward rule.
 */
export function resizeNearestGradProgram(
  inputShape: [number, number, number, number],
  alignCorners: boolean,
  halfPixelCenters: boolean,
): WgslProgram {
  const outputShape = [...inputShape];
  const workgroupSize: [number, number, number] = [64, 1, 1];
  const dispatchLayout = { x: outputShape.map((_, i) => i) };
  const groups = Math.ceil(outputShape.reduce((p, d) => p * d, 1) / workgroupSize[0]);
  const source = nearestSourceWgsl(alignCorners, halfPixelCenters);
  return {
    variableNames: ['dy'],
    outputShape,
    shaderKey: `raunetResizeNearestGrad_${alignCorners}_${halfPixelCenters}`,
    dispatchLayout,
    dispatch: [groups, 1, 1], // the backend splits it over y/z past the per-dimension limit
    workgroupSize,
    size: true,
    uniforms: 'scale : vec2<f32>, invScale : vec2<f32>, win : vec2<i32>,',
    getUserCode: () => `
      fn nearestSource(i : i32, scale : f32, size : i32) -> i32 {
        return ${source};
      }
      fn main(index : i32) {
        if (index < uniforms.size) {
          let coords = getOutputCoords();
          let b = coords[0];
          let r = coords[1];
          let c = coords[2];
          let d = coords[3];
          let row0 = i32(floor(f32(r) * uniforms.invScale.x)) - 1;
          let col0 = i32(floor(f32(c) * uniforms.invScale.y)) - 1;
          var sum = 0.0;
          for (var i = 0; i < uniforms.win.x; i++) {
            let y = row0 + i;
            if (y < 0 || y >= uniforms.dyShape[1]) { continue; }
            if (nearestSource(y, uniforms.scale.x, uniforms.outShape[1]) != r) { continue; }
            for (var j = 0; j < uniforms.win.y; j++) {
              let x = col0 + j;
              if (x < 0 || x >= uniforms.dyShape[2]) { continue; }
              if (nearestSource(x, uniforms.scale.y, uniforms.outShape[2]) != c) { continue; }
              sum = sum + getDy(b, y, x, d);
            }
          }
          setOutputAtIndex(index, sum);
        }
      }
    `,
  };
}

/** Per axis: the forward scale (input/output, as tfjs computes it), its inverse, the candidate window. */
export function resizeAxisScale(
  inSize: number,
  outSize: number,
  alignCorners: boolean,
): { scale: number; invScale: number; win: number } {
  const effIn = alignCorners && outSize > 1 ? inSize - 1 : inSize;
  const effOut = alignCorners && outSize > 1 ? outSize - 1 : outSize;
  const scale = effIn / effOut;
  // scale 0 (one input row, aligned corners): every output row maps to row 0; visit them all.
  if (scale === 0) return { scale, invScale: 0, win: outSize + 1 };
  return { scale, invScale: 1 / scale, win: Math.ceil(1 / scale) + 3 };
}

function resizeNearestGrad(): KernelFn {
  return (args) => {
    const { images, dy } = args.inputs as { images: Info; dy: Info };
    const { alignCorners, halfPixelCenters } = args.attrs as unknown as {
      alignCorners: boolean;
      halfPixelCenters: boolean;
    };
    const [, inH, inW] = images.shape as [number, number, number, number];
    const [, outH, outW] = dy.shape as [number, number, number, number];
    const rows = resizeAxisScale(inH, outH, alignCorners);
    const cols = resizeAxisScale(inW, outW, alignCorners);
    const program = resizeNearestGradProgram(
      images.shape as [number, number, number, number],
      alignCorners,
      halfPixelCenters,
    );
    return (args.backend as unknown as WebGpuBackend).runWebGPUProgram(program, [dy], 'float32', [
      { type: 'float32', data: [rows.scale, cols.scale] },
      { type: 'float32', data: [rows.invScale, cols.invScale] },
      { type: 'int32', data: [rows.win, cols.win] },
    ]);
  };
}

/**
 * Gradient of 2D max pooling with the cpu backend's (and TensorFlow's) rule for ties: each window's
 * gradient goes to its first maximum in row-major order. For each input pixel, the kernel visits the
 * windows that contain it, finds each window's first maximum and adds that window's dy where it is
 * this pixel. (The webgpu backend's own kernel sends ties elsewhere; after a ReLU, windows of zeros are
 * common, and RA-UNet-I's gradients came out several times off.)
 */
export function maxPoolGradProgram(xShape: [number, number, number, number]): WgslProgram {
  const outputShape = [...xShape];
  const workgroupSize: [number, number, number] = [64, 1, 1];
  const groups = Math.ceil(outputShape.reduce((p, d) => p * d, 1) / workgroupSize[0]);
  return {
    variableNames: ['dy', 'x'],
    outputShape,
    shaderKey: 'raunetMaxPoolGradFirstMax',
    dispatchLayout: { x: outputShape.map((_, i) => i) },
    dispatch: [groups, 1, 1],
    workgroupSize,
    size: true,
    uniforms: 'stride : vec2<i32>, pad : vec2<i32>, window : vec2<i32>,',
    getUserCode: () => `
      fn firstWindowIndex(p : i32, axis : i32) -> i32 {
        let t = p + uniforms.pad[axis] - uniforms.window[axis] + 1;
        return select(0, (t + uniforms.stride[axis] - 1) / uniforms.stride[axis], t > 0);
      }
      fn main(index : i32) {
        if (index < uniforms.size) {
          let coords = getOutputCoords();
          let b = coords[0];
          let r = coords[1];
          let c = coords[2];
          let d = coords[3];
          let oy1 = min(uniforms.dyShape[1] - 1, (r + uniforms.pad[0]) / uniforms.stride[0]);
          let ox1 = min(uniforms.dyShape[2] - 1, (c + uniforms.pad[1]) / uniforms.stride[1]);
          var sum = 0.0;
          for (var oy = firstWindowIndex(r, 0); oy <= oy1; oy++) {
            for (var ox = firstWindowIndex(c, 1); ox <= ox1; ox++) {
              var best = 0.0;
              var bestR = -1;
              var bestC = -1;
              for (var wy = 0; wy < uniforms.window[0]; wy++) {
                let y = oy * uniforms.stride[0] - uniforms.pad[0] + wy;
                if (y < 0 || y >= uniforms.xShape[1]) { continue; }
                for (var wx = 0; wx < uniforms.window[1]; wx++) {
                  let x = ox * uniforms.stride[1] - uniforms.pad[1] + wx;
                  if (x < 0 || x >= uniforms.xShape[2]) { continue; }
                  let v = getX(b, y, x, d);
                  if (bestR < 0 || v > best) {
                    best = v;
                    bestR = y;
                    bestC = x;
                  }
                }
              }
              if (bestR == r && bestC == c) {
                sum = sum + getDy(b, oy, ox, d);
              }
            }
          }
          setOutputAtIndex(index, sum);
        }
      }
    `,
  };
}

function maxPoolGrad(original: KernelFn): KernelFn {
  return (args) => {
    const { dy, input } = args.inputs as { dy: Info; input: Info };
    const attrs = args.attrs as unknown as {
      filterSize: number | [number, number];
      strides: number | [number, number];
      pad: 'valid' | 'same' | number;
      dimRoundingMode?: 'floor' | 'round' | 'ceil';
    };
    if (input.dtype !== 'float32') return original(args);
    const info = tf.backend_util.computePool2DInfo(
      input.shape as [number, number, number, number],
      attrs.filterSize,
      attrs.strides,
      1,
      attrs.pad,
      attrs.dimRoundingMode,
    );
    if (info.dilationHeight !== 1 || info.dilationWidth !== 1) return original(args);
    const program = maxPoolGradProgram(input.shape as [number, number, number, number]);
    return (args.backend as unknown as WebGpuBackend).runWebGPUProgram(program, [dy, input], 'float32', [
      { type: 'int32', data: [info.strideHeight, info.strideWidth] },
      { type: 'int32', data: [info.padInfo.top, info.padInfo.left] },
      { type: 'int32', data: [info.filterHeight, info.filterWidth] },
    ]);
  };
}

/** Make the backend's synchronous read fail with advice instead of `OffscreenCanvas is not defined`. */
function guardSyncReads(backend: WebGpuBackend): void {
  const flagged = backend as unknown as Record<symbol, boolean>;
  if (flagged[PATCHED] || typeof (globalThis as { OffscreenCanvas?: unknown }).OffscreenCanvas === 'function')
    return;
  const readSync = backend.readSync.bind(backend);
  backend.readSync = (id: object) => {
    try {
      return readSync(id);
    } catch (e) {
      if (e instanceof ReferenceError && /OffscreenCanvas/.test(e.message)) {
        throw new Error(
          'the webgpu backend cannot read GPU data synchronously in Node.js (dataSync/arraySync); use await tensor.data()',
        );
      }
      throw e;
    }
  };
  flagged[PATCHED] = true;
}

/**
 * Install the patches on the registered webgpu kernels (idempotent). `conv3d`: which 3D convolution
 * kernels (see defaultConv3dKernels).
 */
export function installWebGpuKernelPatches(conv3d: Conv3dKernels = 'baked'): void {
  for (const name of BINARY_KERNELS) wrapKernel(name, binaryOnMergedView);
  wrapKernel('PadV2', padOnMergedView);
  wrapKernel('ResizeNearestNeighborGrad', resizeNearestGrad);
  wrapKernel('MaxPoolGrad', maxPoolGrad);
  if (conv3d === 'tfjs') useGemmConv3d(false);
  else useGemmConv3d(true, conv3d);
}

/** Patches on the backend instance, once it exists (after `tf.setBackend('webgpu')`). */
export function patchWebGpuBackendInstance(): void {
  guardSyncReads(tf.findBackend('webgpu') as unknown as WebGpuBackend);
}
