/**
 * The one volume type of the project.
 *
 * Conventions (the NIfTI ones, followed everywhere in `lib/`):
 * - `data` is stored x fastest, then y, then z: voxel (i, j, k) is at `i + dims[0] * (j + dims[1] * k)`.
 * - `affine` maps voxel indices (i, j, k, 1) to world coordinates in millimetres in the NIfTI RAS+ frame
 *   (+x towards the patient's right, +y anterior, +z superior), as a 4x4 matrix in row-major order (16 numbers). DICOM's LPS is converted on read.
 * - `spacing` is the voxel size in mm along i, j, k (the column norms of the affine's 3x3 part).
 * - `dtype` is the datatype the voxels had on disk; `data` may be wider (for example Float32Array after
 *   `scl_slope`/`scl_inter` scaling of an int16 file).
 */
export type DType = 'uint8' | 'int8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'float32' | 'float64';

export type VoxelArray =
  | Uint8Array
  | Int8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array;

export type Vec3 = [number, number, number];

/** 4x4 voxel-to-world matrix, row-major, 16 entries. */
export type Affine = number[];

export interface Volume<T extends VoxelArray = VoxelArray> {
  data: T;
  dims: Vec3;
  spacing: Vec3;
  affine: Affine;
  dtype: DType;
  /** DICOM Modality (0008,0060) of a DICOM series ('CT', 'MR', ...); absent for NIfTI. */
  modality?: string;
}

export const DTYPE_ARRAYS = {
  uint8: Uint8Array,
  int8: Int8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  float32: Float32Array,
  float64: Float64Array,
} as const;

export function voxelCount(dims: readonly number[]): number {
  return dims[0] * dims[1] * dims[2];
}

/** Linear index of voxel (i, j, k). */
export function voxelIndex(dims: readonly number[], i: number, j: number, k: number): number {
  return i + dims[0] * (j + dims[1] * k);
}

export function dtypeOf(data: VoxelArray): DType {
  for (const [name, ctor] of Object.entries(DTYPE_ARRAYS)) {
    if (data instanceof ctor) return name as DType;
  }
  throw new TypeError('unsupported voxel array type');
}

/** Diagonal affine with the given spacing and origin (the world position of voxel 0,0,0). */
export function scalingAffine(spacing: Vec3, origin: Vec3 = [0, 0, 0]): Affine {
  return [spacing[0], 0, 0, origin[0], 0, spacing[1], 0, origin[1], 0, 0, spacing[2], origin[2], 0, 0, 0, 1];
}

/** A volume on a new grid-compatible array: same dims, spacing and affine, other data. */
export function withData<T extends VoxelArray>(
  like: Volume,
  data: T,
  dtype: DType = dtypeOf(data),
): Volume<T> {
  if (data.length !== voxelCount(like.dims)) {
    throw new RangeError(`data has ${data.length} voxels, the grid ${voxelCount(like.dims)}`);
  }
  return { data, dims: [...like.dims], spacing: [...like.spacing], affine: [...like.affine], dtype };
}

/** Build a volume, checking that the data fills the grid exactly. */
export function createVolume<T extends VoxelArray>(
  data: T,
  dims: Vec3,
  spacing: Vec3 = [1, 1, 1],
  affine: Affine = scalingAffine(spacing),
  dtype: DType = dtypeOf(data),
): Volume<T> {
  if (data.length !== voxelCount(dims)) {
    throw new RangeError(`data has ${data.length} voxels, dims ${dims.join('x')} need ${voxelCount(dims)}`);
  }
  if (affine.length !== 16) throw new RangeError('affine must have 16 entries (4x4 row-major)');
  return { data, dims: [...dims], spacing: [...spacing], affine: [...affine], dtype };
}

/** True when two volumes share dims and affine (to a tolerance in mm), so voxels correspond one to one. */
export function sameGrid(a: Volume, b: Volume, tol = 1e-4): boolean {
  if (a.dims.some((d, i) => d !== b.dims[i])) return false;
  return a.affine.every((v, i) => Math.abs(v - b.affine[i]) <= tol);
}
