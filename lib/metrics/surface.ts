/**
 * Surface (boundary) voxels of a binary mask: the mask minus its binary erosion by the 3x3x3 structuring
 * element with 18-connectivity (the centre, its 6 face and 12 edge neighbours; corners excluded).
 * A mask voxel is interior when all 18 of those neighbours are in the mask; voxels on the array border
 * have neighbours outside the array, which count as background, so they are always surface.
 */
import type { Vec3 } from '../volume/volume.ts';

/** 0/1 mask of the surface voxels of `mask` (non-zero = inside). */
export function surfaceVoxels(mask: Uint8Array, dims: Vec3): Uint8Array {
  const [nx, ny, nz] = dims;
  const n = nx * ny * nz;
  if (mask.length !== n)
    throw new RangeError(`mask has ${mask.length} voxels, dims ${dims.join('x')} need ${n}`);
  const offsets: number[] = [];
  for (let dz = -1; dz <= 1; dz++)
    for (let dy = -1; dy <= 1; dy++)
      for (let dx = -1; dx <= 1; dx++) {
        const order = Math.abs(dx) + Math.abs(dy) + Math.abs(dz);
        if (order === 1 || order === 2) offsets.push(dx + nx * (dy + ny * dz));
      }
  const off = Int32Array.from(offsets);
  const out = new Uint8Array(n);
  for (let z = 0; z < nz; z++) {
    const zBorder = z === 0 || z === nz - 1;
    for (let y = 0; y < ny; y++) {
      const border = zBorder || y === 0 || y === ny - 1;
      const row = (z * ny + y) * nx;
      for (let x = 0; x < nx; x++) {
        const i = row + x;
        if (mask[i] === 0) continue;
        if (border || x === 0 || x === nx - 1) {
          out[i] = 1;
          continue;
        }
        for (let o = 0; o < 18; o++) {
          if (mask[i + off[o]] === 0) {
            out[i] = 1;
            break;
          }
        }
      }
    }
  }
  return out;
}
