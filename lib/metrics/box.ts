/**
 * How much of a structure a bounding box holds: the check on stage 1, whose liver box is all that stages 2
 * and 3 ever see (a voxel of liver outside it is lost to them, whatever they do).
 */
import type { Box3 } from '../preprocess/crop.ts';
import type { Vec3 } from '../volume/volume.ts';

/**
 * Fraction of the reference's foreground voxels (label >= 1) inside `box` (start inclusive, end
 * exclusive): 0 when there is no box, 1 when the reference has no foreground.
 */
export function boxRecall(labels: ArrayLike<number>, dims: Vec3, box: Box3 | null): number {
  const [nx, ny, nz] = dims;
  if (labels.length !== nx * ny * nz) {
    throw new RangeError(`labels have ${labels.length} values, dims ${dims.join('x')} need ${nx * ny * nz}`);
  }
  let all = 0;
  let inside = 0;
  for (let z = 0, i = 0; z < nz; z++) {
    const zIn = box !== null && z >= box.start[2] && z < box.end[2];
    for (let y = 0; y < ny; y++) {
      const yzIn = zIn && y >= box!.start[1] && y < box!.end[1];
      for (let x = 0; x < nx; x++, i++) {
        if (labels[i]! < 1) continue;
        all++;
        if (yzIn && x >= box!.start[0] && x < box!.end[0]) inside++;
      }
    }
  }
  return all === 0 ? 1 : inside / all;
}
