/**
 * Exact Euclidean distance transform with anisotropic voxel spacing.
 *
 * Felzenszwalb & Huttenlocher's lower envelope of parabolas, applied separably along x, then y, then z:
 * after the pass along an axis every voxel holds the squared distance (in mm^2) to the nearest feature
 * voxel among those reachable by moves along the axes processed so far; after the three passes this is
 * the exact squared Euclidean distance. Linear time in the number of voxels.
 *
 * Squared distances are stored in a Float32Array (half the memory of float64; each 1D pass computes in
 * double precision and rounds once when storing). Voxels with no feature voxel anywhere get +Infinity.
 */
import type { Vec3 } from '../volume/volume.ts';

interface Scratch {
  v: Int32Array; // parabola apexes of the lower envelope (voxel index along the line)
  h: Float64Array; // their values f(v) + (v s)^2
  fv: Float64Array; // their values f(v)
  z: Float64Array; // left boundaries of their regions (mm)
}

function scratch(n: number): Scratch {
  return {
    v: new Int32Array(n),
    h: new Float64Array(n),
    fv: new Float64Array(n),
    z: new Float64Array(n + 1),
  };
}

/**
 * In place along one line: `a[off + p*stride]` for p < n becomes min_q (s*(p-q))^2 + a[off + q*stride].
 */
function transformLine(a: Float32Array, off: number, stride: number, n: number, s: number, w: Scratch): void {
  const { v, h, fv, z } = w;
  let k = -1;
  for (let q = 0; q < n; q++) {
    const fq = a[off + q * stride];
    if (fq === Number.POSITIVE_INFINITY) continue;
    const pq = q * s;
    const hq = fq + pq * pq;
    let x = Number.NEGATIVE_INFINITY;
    while (k >= 0) {
      x = (hq - h[k]) / (2 * (pq - v[k] * s));
      if (x <= z[k]) k--;
      else break;
    }
    if (k < 0) x = Number.NEGATIVE_INFINITY;
    k++;
    v[k] = q;
    h[k] = hq;
    fv[k] = fq;
    z[k] = x;
  }
  if (k < 0) return; // no finite value on the line: all stay +Infinity
  z[k + 1] = Number.POSITIVE_INFINITY;
  let j = 0;
  for (let p = 0; p < n; p++) {
    const pp = p * s;
    while (z[j + 1] < pp) j++;
    const d = pp - v[j] * s;
    a[off + p * stride] = d * d + fv[j];
  }
}

/**
 * Squared Euclidean distance (mm^2) from every voxel to the nearest voxel where `features` is non-zero,
 * with voxel size `spacing` (mm along x, y, z). Feature voxels get 0; all voxels get +Infinity when there
 * is no feature voxel.
 */
export function squaredDistanceTransform(features: Uint8Array, dims: Vec3, spacing: Vec3): Float32Array {
  const [nx, ny, nz] = dims;
  const n = nx * ny * nz;
  if (features.length !== n) {
    throw new RangeError(`features have ${features.length} voxels, dims ${dims.join('x')} need ${n}`);
  }
  const d = new Float32Array(n);
  const w = scratch(Math.max(nx, ny, nz));
  // x: on the binary input the 1D transform is the squared distance to the nearest feature in the row,
  // found by a forward and a backward scan.
  const sx = spacing[0];
  const INF = Number.POSITIVE_INFINITY;
  for (let r = 0; r < ny * nz; r++) {
    const base = r * nx;
    let last = -1;
    for (let x = 0; x < nx; x++) {
      if (features[base + x] !== 0) last = x;
      d[base + x] = last < 0 ? INF : x - last;
    }
    if (last < 0) continue; // no feature in the row: all +Infinity
    last = -1;
    for (let x = nx - 1; x >= 0; x--) {
      if (features[base + x] !== 0) last = x;
      let g = d[base + x];
      if (last >= 0 && last - x < g) g = last - x;
      const mm = g * sx;
      d[base + x] = mm * mm;
    }
  }
  // y: lines of stride nx inside each (contiguous) z plane.
  if (ny > 1) {
    for (let zz = 0; zz < nz; zz++) {
      const base = zz * nx * ny;
      for (let x = 0; x < nx; x++) transformLine(d, base + x, nx, ny, spacing[1], w);
    }
  }
  // z: copy each x-z plane into a compact buffer first so the strided reads stay in cache.
  if (nz > 1) {
    const plane = new Float32Array(nx * nz);
    for (let y = 0; y < ny; y++) {
      for (let zz = 0; zz < nz; zz++) {
        const s = (zz * ny + y) * nx;
        plane.set(d.subarray(s, s + nx), zz * nx);
      }
      for (let x = 0; x < nx; x++) transformLine(plane, x, nx, nz, spacing[2], w);
      for (let zz = 0; zz < nz; zz++) d.set(plane.subarray(zz * nx, zz * nx + nx), (zz * ny + y) * nx);
    }
  }
  return d;
}
