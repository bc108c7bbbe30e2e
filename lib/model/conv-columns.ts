/**
 * Transposed im2col for the filter gradient of a stride-1 'same' 3D convolution with an odd kernel.
 *
 * With x channels-last [n, d, h, w, ci] zero-padded by half the kernel on each side, the gradient of
 * filter tap (a, b, e) is dW[a, b, e, ci, co] = sum over voxels v of x[v + (a, b, e) - r, ci] * dy[v, co].
 * For one depth tap `a`, the rows (b, e, ci) of the matrix built here hold the shifted input of every
 * voxel of a run of (batch, z) planes, so dW[a] is this [kh*kw*ci, voxels] matrix times dy's
 * [voxels, co] rows of the same planes: one matrix product instead of a direct 6-deep loop.
 */

export interface ColumnsRequest {
  /** x as [n, d, h, w, ci]. */
  shape: readonly [number, number, number, number, number];
  /** Kernel [kd, kh, kw], all odd. */
  kernel: readonly [number, number, number];
  /** Depth tap 0..kd-1. */
  tap: number;
  /** First (batch, z) plane (plane index b * d + z) and how many planes. */
  firstPlane: number;
  planes: number;
}

/** Fills `out` ([kh*kw*ci, planes*h*w], row-major) with the shifted input columns; returns it. */
export function filterGradientColumns(x: Float32Array, req: ColumnsRequest, out: Float32Array): Float32Array {
  const [, d, h, w, ci] = req.shape;
  const [kd, kh, kw] = req.kernel;
  const [rd, rh, rw] = [(kd - 1) / 2, (kh - 1) / 2, (kw - 1) / 2];
  const voxels = req.planes * h * w;
  for (let b = 0; b < kh; b++) {
    for (let e = 0; e < kw; e++) {
      const dx = e - rw;
      const x0 = Math.max(0, -dx);
      const x1 = Math.min(w, w - dx);
      for (let c = 0; c < ci; c++) {
        const rowStart = ((b * kw + e) * ci + c) * voxels;
        for (let p = 0; p < req.planes; p++) {
          const plane = req.firstPlane + p;
          const z = (plane % d) + req.tap - rd;
          const n = Math.floor(plane / d);
          const planeStart = rowStart + p * h * w;
          if (z < 0 || z >= d) {
            out.fill(0, planeStart, planeStart + h * w);
            continue;
          }
          for (let y = 0; y < h; y++) {
            const dst = planeStart + y * w;
            const yy = y + b - rh;
            if (yy < 0 || yy >= h) {
              out.fill(0, dst, dst + w);
              continue;
            }
            const src = (((n * d + z) * h + yy) * w + dx) * ci + c;
            for (let xo = 0; xo < x0; xo++) out[dst + xo] = 0;
            for (let xo = x0; xo < x1; xo++) out[dst + xo] = x[src + xo * ci]!;
            for (let xo = x1; xo < w; xo++) out[dst + xo] = 0;
          }
        }
      }
    }
  }
  return out;
}
