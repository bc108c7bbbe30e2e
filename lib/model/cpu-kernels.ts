/**
 * A fix for the pure-JS cpu backend of tfjs 4.22 (which the wasm patches also call): its
 * `ResizeNearestNeighborGrad` offsets dy by the *input's* batch stride, so for batch sizes above 1
 * every sample after the first gets the gradient of the wrong part of dy (RA-UNet-I's 2D upsampling
 * trained with wrong gradients on cpu and wasm). Replaced by a scatter over dy with the forward rule.
 */
import * as tf from '@tensorflow/tfjs';

/** Source index of output index i of a nearest-neighbour resize from `inSize` to `outSize` (tfjs' rule). */
export function nearestSource(
  i: number,
  inSize: number,
  outSize: number,
  alignCorners: boolean,
  halfPixelCenters: boolean,
): number {
  const effIn = alignCorners && outSize > 1 ? inSize - 1 : inSize;
  const effOut = alignCorners && outSize > 1 ? outSize - 1 : outSize;
  const scale = effIn / effOut;
  const frac = halfPixelCenters ? scale * (i + 0.5) : scale * i;
  const nearest = Math.min(inSize - 1, alignCorners ? Math.round(frac) : Math.floor(frac));
  return halfPixelCenters ? Math.max(0, nearest) : nearest;
}

/** dx of a nearest-neighbour resize of an [n, h, w, c] image to dy's [n, H, W, c]: dy scattered to sources. */
export function nearestResizeGradient(
  dy: ArrayLike<number>,
  dyShape: readonly number[],
  inShape: readonly number[],
  alignCorners: boolean,
  halfPixelCenters: boolean,
): Float32Array {
  const [n, h, w, c] = inShape as [number, number, number, number];
  const [, H, W] = dyShape as [number, number, number, number];
  const rows = Array.from({ length: H }, (_, y) => nearestSource(y, h, H, alignCorners, halfPixelCenters));
  const cols = Array.from({ length: W }, (_, x) => nearestSource(x, w, W, alignCorners, halfPixelCenters));
  const dx = new Float32Array(n * h * w * c);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const src = ((b * H + y) * W + x) * c;
        const dst = ((b * h + rows[y]!) * w + cols[x]!) * c;
        for (let k = 0; k < c; k++) dx[dst + k]! += dy[src + k]!;
      }
    }
  }
  return dx;
}

interface CpuBackend {
  data: { get(id: object): { values: ArrayLike<number> } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
}

const FIXED = Symbol.for('raunet.cpu.fixed');

/** Install the fix on the registered cpu kernel (idempotent). */
export function installCpuKernelFixes(): void {
  const config = tf.getKernel('ResizeNearestNeighborGrad', 'cpu');
  if (!config || (config.kernelFunc as unknown as Record<symbol, boolean>)[FIXED]) return;
  const kernelFunc: tf.KernelConfig['kernelFunc'] = (args) => {
    const { images, dy } = args.inputs as { images: tf.TensorInfo; dy: tf.TensorInfo };
    const { alignCorners, halfPixelCenters } = args.attrs as unknown as {
      alignCorners: boolean;
      halfPixelCenters: boolean;
    };
    const cpu = args.backend as unknown as CpuBackend;
    const dx = nearestResizeGradient(
      cpu.data.get(dy.dataId).values,
      dy.shape,
      images.shape,
      alignCorners,
      halfPixelCenters,
    );
    return cpu.makeTensorInfo(images.shape, 'float32', dx);
  };
  (kernelFunc as unknown as Record<symbol, boolean>)[FIXED] = true;
  tf.unregisterKernel('ResizeNearestNeighborGrad', 'cpu');
  tf.registerKernel({ ...config, kernelFunc });
}
