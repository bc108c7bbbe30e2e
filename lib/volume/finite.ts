/**
 * NaN and infinities never pass silently from a file into the pipeline: a volume whose affine or voxels
 * hold them is refused with a message saying how many and where they came from. Pure (no file access).
 */
import { InputError } from '../errors.ts';
import type { Volume } from './volume.ts';

/** Number of NaN/±Inf values (0 for integer arrays, which cannot hold them) and the first index. */
export function nonFinite(data: ArrayLike<number>): { count: number; first: number } {
  if (!(data instanceof Float32Array || data instanceof Float64Array)) return { count: 0, first: -1 };
  let count = 0;
  let first = -1;
  for (let i = 0; i < data.length; i++) {
    const v = data[i] as number;
    if (v - v !== 0) {
      // NaN - NaN and Inf - Inf are NaN; finite values give 0
      if (first < 0) first = i;
      count++;
    }
  }
  return { count, first };
}

/**
 * Throw an InputError naming `file` when the affine or the voxels of `vol` are not all finite. `scaling`
 * names what produced float voxels from integers (for example `scl_slope 1e+38`), to say so.
 */
export function assertFinite(vol: Volume, file: string, scaling?: string): void {
  if (!vol.affine.every(Number.isFinite)) {
    throw new InputError(
      `the voxel-to-world affine holds NaN or infinite values (${vol.affine.map((v) => +v.toPrecision(4)).join(' ')})`,
      'BAD_HEADER',
      file,
    );
  }
  const { count, first } = nonFinite(vol.data);
  if (count === 0) return;
  const [nx, ny] = vol.dims;
  const at = `(${first % nx}, ${Math.floor(first / nx) % ny}, ${Math.floor(first / (nx * ny))})`;
  throw new InputError(
    `${count} of ${vol.data.length} voxels are NaN or infinite${scaling ? ` after ${scaling}` : ''} (first at voxel ${at}); fix or replace them before use`,
    'BAD_VALUES',
    file,
  );
}
