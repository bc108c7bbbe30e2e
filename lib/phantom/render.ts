/**
 * Composes the phantom slice by slice: paint every structure (painter's algorithm), add Gaussian noise,
 * smooth in-plane with a [1 4 1]/6 kernel (a mild scanner point-spread; it also correlates the noise as
 * CT noise is), round to Int16 HU clamped to [-1024, 3071]. Alongside, the organ map (`ORGAN` codes).
 */
import { type Grid, indexRange, worldAt } from './grid.ts';
import type { LatticeNoise, WhiteNoise } from './noise.ts';
import type { Box } from './shapes.ts';
import type { Painter, Slice } from './slice.ts';

/** The [1 4 1]/6 kernel applied along x then y scales the standard deviation of white noise by 1/2. */
export const SMOOTHING_NOISE_FACTOR = 0.5;

/** [1 4 1]/6 along x from `src` into `tmp`, then along y from `tmp` into `out`, rounded and clamped. */
function smoothInPlane(src: Float32Array, tmp: Float32Array, out: Int16Array, nx: number, ny: number): void {
  for (let j = 0; j < ny; j++) {
    const row = j * nx;
    for (let i = 0; i < nx; i++) {
      const l = src[row + (i > 0 ? i - 1 : i)];
      const r = src[row + (i < nx - 1 ? i + 1 : i)];
      tmp[row + i] = (l + 4 * src[row + i] + r) / 6;
    }
  }
  for (let j = 0; j < ny; j++) {
    const up = (j > 0 ? j - 1 : j) * nx;
    const row = j * nx;
    const down = (j < ny - 1 ? j + 1 : j) * nx;
    for (let i = 0; i < nx; i++) {
      const v = Math.round((tmp[up + i] + 4 * tmp[row + i] + tmp[down + i]) / 6);
      out[row + i] = Math.min(3071, Math.max(-1024, v));
    }
  }
}

/**
 * Renders the volume. `grainBox` bounds (world mm, x-y) where structures read the shared grain texture;
 * outside it the grain buffer stays zero.
 */
export function renderVolume(
  grid: Grid,
  painters: readonly Painter[],
  white: WhiteNoise,
  grainNoise: LatticeNoise,
  grainBox: Box,
  noiseSigma: number,
): { ct: Int16Array; organs: Uint8Array } {
  const [nx, ny, nz] = grid.dims;
  const plane = nx * ny;
  const ct = new Int16Array(plane * nz);
  const organs = new Uint8Array(plane * nz);
  const xs = Float64Array.from({ length: nx }, (_, i) => worldAt(grid, 0, i));
  const ys = Float64Array.from({ length: ny }, (_, j) => worldAt(grid, 1, j));
  const hu = new Float32Array(plane);
  const tmp = new Float32Array(plane);
  const grain = new Float32Array(plane);
  const [gi0, gi1] = indexRange(grid, 0, grainBox.min[0], grainBox.max[0]);
  const [gj0, gj1] = indexRange(grid, 1, grainBox.min[1], grainBox.max[1]);
  const sigma = noiseSigma / SMOOTHING_NOISE_FACTOR;
  for (let k = 0; k < nz; k++) {
    const z = worldAt(grid, 2, k);
    const lab = organs.subarray(k * plane, (k + 1) * plane);
    const slice: Slice = { grid, k, z, xs, ys, hu, lab, grain };
    grainNoise.prepareSlice(k);
    for (let j = gj0; j <= gj1; j++) for (let i = gi0; i <= gi1; i++) grain[i + nx * j] = grainNoise.at(i, j);
    hu.fill(-1000);
    for (const p of painters) if (z >= p.zMin && z <= p.zMax) p.paint(slice);
    white.addTo(hu, sigma);
    smoothInPlane(hu, tmp, ct.subarray(k * plane, (k + 1) * plane), nx, ny);
  }
  return { ct, organs };
}
