/**
 * Resampling of volumes to a new shape or spacing: trilinear for images, nearest neighbour for label maps
 * (which therefore never gain new label values).
 *
 * Coordinate convention ("align corners = false", voxel centres): along an axis with `inSize` input and
 * `outSize` output voxels, the ratio is `r = inSize / outSize`, and the centre of output voxel `o` lies
 * at input voxel coordinate `c = (o + 0.5) * r - 0.5`. Both grids therefore cover the same physical
 * extent (the outer faces of the first and last voxels coincide). For interpolation `c` is clamped to
 * `[0, inSize - 1]` (edge voxels are replicated). Nearest neighbour picks input voxel
 * `min(inSize - 1, floor((o + 0.5) * r))`, i.e. `c` rounded half up.
 *
 * The affine follows the same convention: new spacing = old spacing * r per axis, and the origin moves by
 * `(r - 1) / 2` old voxels, so that any world point keeps its position.
 *
 * Trilinear resampling runs as three separable 1D passes (x, then y, then z) with precomputed index and
 * weight tables; axes whose size does not change are skipped.
 */
import type { Vec3, Volume, VoxelArray } from '../volume/volume.ts';
import { checkDims, reindexAffine } from './grid.ts';

export type InterpolationMode = 'linear' | 'nearest';

/** Input coordinate (in input voxel units) of the centre of output voxel `o`, before clamping. */
export function sourceCoordinate(o: number, inSize: number, outSize: number): number {
  return ((o + 0.5) * inSize) / outSize - 0.5;
}

function nearestTable(inSize: number, outSize: number): Int32Array {
  const t = new Int32Array(outSize);
  const r = inSize / outSize;
  for (let o = 0; o < outSize; o++) t[o] = Math.min(inSize - 1, Math.floor((o + 0.5) * r));
  return t;
}

interface LinearTable {
  i0: Int32Array;
  i1: Int32Array;
  w: Float64Array; // weight of i1
}

function linearTable(inSize: number, outSize: number): LinearTable {
  const i0 = new Int32Array(outSize);
  const i1 = new Int32Array(outSize);
  const w = new Float64Array(outSize);
  for (let o = 0; o < outSize; o++) {
    let c = sourceCoordinate(o, inSize, outSize);
    if (c < 0) c = 0;
    if (c > inSize - 1) c = inSize - 1;
    const f = Math.floor(c);
    i0[o] = f;
    i1[o] = Math.min(f + 1, inSize - 1);
    w[o] = c - f;
  }
  return { i0, i1, w };
}

type ArrayCtor = new (n: number) => VoxelArray;
type FloatArray = Float32Array | Float64Array;

function isFloatArray(a: VoxelArray): a is FloatArray {
  return a instanceof Float32Array || a instanceof Float64Array;
}

/** Interpolate along x: rows of length nx become rows of length mx. */
function passX(src: ArrayLike<number>, dst: FloatArray, nx: number, rows: number, t: LinearTable): void {
  const mx = t.i0.length;
  const { i0, i1, w } = t;
  for (let r = 0; r < rows; r++) {
    const si = r * nx;
    const di = r * mx;
    for (let o = 0; o < mx; o++) {
      const a = src[si + i0[o]];
      dst[di + o] = a + (src[si + i1[o]] - a) * w[o];
    }
  }
}

/**
 * Interpolate along an outer axis: the array is `outer` blocks of `n` lines of `inner` contiguous values;
 * each block's `n` lines become `m` lines (y pass: inner = nx, outer = nz; z pass: inner = nx*ny, outer = 1).
 */
function passOuter(
  src: ArrayLike<number>,
  dst: FloatArray,
  inner: number,
  n: number,
  outer: number,
  t: LinearTable,
): void {
  const m = t.i0.length;
  const { i0, i1, w } = t;
  for (let b = 0; b < outer; b++) {
    const sb = b * n * inner;
    const db = b * m * inner;
    for (let o = 0; o < m; o++) {
      const s0 = sb + i0[o] * inner;
      const s1 = sb + i1[o] * inner;
      const d = db + o * inner;
      const wo = w[o];
      if (wo === 0) {
        for (let x = 0; x < inner; x++) dst[d + x] = src[s0 + x];
      } else {
        for (let x = 0; x < inner; x++) {
          const a = src[s0 + x];
          dst[d + x] = a + (src[s1 + x] - a) * wo;
        }
      }
    }
  }
}

/**
 * Resample a 3D array (x fastest) from `srcDims` to `dstDims`.
 * - `'nearest'`: the result has the type of `src` (or is written into `out`); values are copied, never mixed.
 * - `'linear'`: trilinear; the result is a Float32Array (Float64Array for Float64 input) unless `out` is
 *   given; an integer `out` receives rounded values.
 */
export function resample3D<T extends VoxelArray = VoxelArray>(
  src: VoxelArray,
  srcDims: Vec3,
  dstDims: Vec3,
  mode: InterpolationMode,
  out?: T,
): T {
  return resampleKernel(src, srcDims, dstDims, mode, out) as T;
}

function resampleKernel(
  src: VoxelArray,
  srcDims: Vec3,
  dstDims: Vec3,
  mode: InterpolationMode,
  out?: VoxelArray,
): VoxelArray {
  checkDims(srcDims, 'source dims');
  checkDims(dstDims, 'target dims');
  const [nx, ny, nz] = srcDims;
  const [mx, my, mz] = dstDims;
  if (src.length !== nx * ny * nz) {
    throw new RangeError(`source has ${src.length} voxels, dims ${srcDims.join('x')} need ${nx * ny * nz}`);
  }
  const total = mx * my * mz;
  if (out && out.length !== total) {
    throw new RangeError(`output has ${out.length} voxels, dims ${dstDims.join('x')} need ${total}`);
  }
  if (mode === 'nearest') {
    const dst = out ?? new (src.constructor as ArrayCtor)(total);
    const tx = nearestTable(nx, mx);
    const ty = nearestTable(ny, my);
    const tz = nearestTable(nz, mz);
    let d = 0;
    for (let z = 0; z < mz; z++) {
      const sz = tz[z] * ny;
      for (let y = 0; y < my; y++) {
        const row = (sz + ty[y]) * nx;
        for (let x = 0; x < mx; x++) dst[d++] = src[row + tx[x]];
      }
    }
    return dst;
  }
  if (mode !== 'linear') throw new RangeError(`unknown interpolation mode '${mode as string}'`);

  const Float = src instanceof Float64Array ? Float64Array : Float32Array;
  const final: VoxelArray = out ?? new Float(total);
  // Passes to run (skip axes whose size is unchanged); the last one writes into `final` when it is float.
  const passes: Array<0 | 1 | 2> = [];
  if (mx !== nx) passes.push(0);
  if (my !== ny) passes.push(1);
  if (mz !== nz) passes.push(2);
  if (passes.length === 0) {
    if (isFloatArray(final)) final.set(src);
    else for (let i = 0; i < total; i++) final[i] = Math.round(src[i]);
    return final;
  }
  let cur: ArrayLike<number> = src;
  const dims: [number, number, number] = [nx, ny, nz];
  for (let p = 0; p < passes.length; p++) {
    const axis = passes[p];
    const next: Vec3 = [...dims];
    next[axis] = dstDims[axis];
    const size = next[0] * next[1] * next[2];
    const lastPass = p === passes.length - 1;
    const dst: FloatArray = lastPass && isFloatArray(final) ? final : new Float(size);
    const t = linearTable(dims[axis], dstDims[axis]);
    if (axis === 0) passX(cur, dst, dims[0], dims[1] * dims[2], t);
    else if (axis === 1) passOuter(cur, dst, dims[0], dims[1], dims[2], t);
    else passOuter(cur, dst, dims[0] * dims[1], dims[2], 1, t);
    cur = dst;
    dims[axis] = dstDims[axis];
  }
  if (cur !== final) for (let i = 0; i < total; i++) final[i] = Math.round(cur[i]);
  return final;
}

/**
 * Resample a volume to `dims` voxels; the affine and spacing are updated (voxel-centre convention, see the
 * module comment) so that the result covers the same world extent. `dtype` is kept: linear resampling of
 * an int16 CT gives Float32 data that still records int16 as its on-disk type.
 */
export function resampleToShape(vol: Volume, dims: Vec3, mode: InterpolationMode): Volume {
  checkDims(dims, 'target dims');
  const data = resample3D(vol.data, vol.dims, dims, mode);
  const r: Vec3 = [vol.dims[0] / dims[0], vol.dims[1] / dims[1], vol.dims[2] / dims[2]];
  const offset: Vec3 = [(r[0] - 1) / 2, (r[1] - 1) / 2, (r[2] - 1) / 2];
  return {
    data,
    dims: [...dims],
    spacing: [vol.spacing[0] * r[0], vol.spacing[1] * r[1], vol.spacing[2] * r[2]],
    affine: reindexAffine(vol.affine, r, offset),
    dtype: vol.dtype,
  };
}

/**
 * Output shape for resampling a grid to about `spacing` mm: `max(1, round(dims * oldSpacing / spacing))`
 * per axis.
 */
export function shapeForSpacing(dims: Vec3, oldSpacing: Vec3, spacing: Vec3): Vec3 {
  if (spacing.some((s) => !(s > 0) || !Number.isFinite(s))) {
    throw new RangeError(`target spacing must be positive, got [${spacing.join(', ')}]`);
  }
  return [0, 1, 2].map((a) => Math.max(1, Math.round((dims[a] * oldSpacing[a]) / spacing[a]))) as Vec3;
}

/**
 * Resample a volume to (about) the given voxel spacing in mm. The shape is rounded to whole voxels
 * (`shapeForSpacing`), and the extent is kept, so the actual spacing is `old * inSize / outSize`, which may
 * differ slightly from the request; read it from the result.
 */
export function resampleToSpacing(vol: Volume, spacing: Vec3, mode: InterpolationMode): Volume {
  return resampleToShape(vol, shapeForSpacing(vol.dims, vol.spacing, spacing), mode);
}
