/**
 * The axial slice being painted, and the painter contract. Phantoms are composed slice by slice with a
 * painter's algorithm: each structure writes the HU and the label of the voxels it covers, later
 * structures over earlier ones; a structure only visits the voxels of its bounding box.
 */
import { type Grid, indexRange } from './grid.ts';
import type { Box } from './shapes.ts';

/** Ground-truth labels of the phantom's segmentation. */
export const LABEL = { background: 0, liver: 1, tumor: 2 } as const;

/**
 * Codes of the internal organ map painted alongside the image: the first three equal `LABEL`; the others
 * become background in the segmentation (the full map is available for tests and inspection).
 */
export const ORGAN = {
  other: 0,
  liver: 1,
  tumor: 2,
  spleen: 3,
  kidney: 4,
  stomach: 5,
  gallbladder: 6,
  pancreas: 7,
  vessel: 8,
  bone: 9,
  heart: 10,
} as const;

export interface Slice {
  grid: Grid;
  k: number;
  /** World z (mm) of this slice. */
  z: number;
  /** World x of each column i and world y of each row j. */
  xs: Float64Array;
  ys: Float64Array;
  /** HU and label of the slice, x fastest (index i + nx * j). */
  hu: Float32Array;
  /** Organ code of each voxel (`ORGAN`), x fastest. */
  lab: Uint8Array;
  /** Fine smooth texture in [-1, 1] (about 5 mm grain) shared by all tissues, index i + nx * j. */
  grain: Float32Array;
}

export interface Painter {
  /** World z range (mm) the painter can touch; slices outside are skipped. */
  zMin: number;
  zMax: number;
  paint(slice: Slice): void;
}

/**
 * Calls `visit(index, i, j, x, y)` for every voxel of the slice whose centre lies in the box's x-y
 * footprint; nothing when the slice is outside the box's z range.
 */
export function forEachInBox(
  s: Slice,
  box: Box,
  visit: (index: number, i: number, j: number, x: number, y: number) => void,
): void {
  if (s.z < box.min[2] || s.z > box.max[2]) return;
  const [i0, i1] = indexRange(s.grid, 0, box.min[0], box.max[0]);
  const [j0, j1] = indexRange(s.grid, 1, box.min[1], box.max[1]);
  const nx = s.grid.dims[0];
  for (let j = j0; j <= j1; j++) {
    const y = s.ys[j];
    let index = i0 + nx * j;
    for (let i = i0; i <= i1; i++, index++) visit(index, i, j, s.xs[i], y);
  }
}
