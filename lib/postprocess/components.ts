/**
 * 3D connected-component labelling of binary masks (x-fastest arrays).
 *
 * Two passes with union-find: the first pass gives each foreground voxel the provisional label of an
 * already-visited neighbour (or a new one) and records equivalences between provisional labels; the second
 * pass replaces each provisional label by its final, compact id. Union by smaller root with path halving:
 * linear time in practice. Final ids are 1..count in raster order (x fastest, then y, then z) of each
 * component's first voxel.
 *
 * Connectivity: 6 (faces), 18 (faces and edges), 26 (faces, edges and corners).
 */
import type { Vec3 } from '../volume/volume.ts';

export type Connectivity = 6 | 18 | 26;

export interface Components {
  /** Component id per voxel, 0 for background. */
  labels: Int32Array;
  count: number;
  /** Voxel count per component id; sizes[0] = 0. Length count + 1. */
  sizes: Int32Array;
}

/** Neighbour offsets already visited in raster order, for the given connectivity. */
function backwardOffsets(connectivity: Connectivity): Vec3[] {
  const offs: Vec3[] = [];
  for (let dz = -1; dz <= 0; dz++) {
    for (let dy = -1; dy <= 1; dy++) {
      for (let dx = -1; dx <= 1; dx++) {
        const before = dz < 0 || (dz === 0 && (dy < 0 || (dy === 0 && dx < 0)));
        if (!before) continue;
        const order = Math.abs(dx) + Math.abs(dy) + Math.abs(dz);
        if (order === 1 || (order === 2 && connectivity >= 18) || (order === 3 && connectivity === 26)) {
          offs.push([dx, dy, dz]);
        }
      }
    }
  }
  return offs;
}

function find(parent: Int32Array, a: number): number {
  while (parent[a] !== a) {
    parent[a] = parent[parent[a]];
    a = parent[a];
  }
  return a;
}

/** Merge the sets of a and b; returns the root (the smaller of the two roots). */
function union(parent: Int32Array, a: number, b: number): number {
  let ra = find(parent, a);
  let rb = find(parent, b);
  if (ra === rb) return ra;
  if (rb < ra) {
    const t = ra;
    ra = rb;
    rb = t;
  }
  parent[rb] = ra;
  return ra;
}

/** Label the connected components of the non-zero voxels of `mask`. */
export function labelComponents(mask: Uint8Array, dims: Vec3, connectivity: Connectivity = 26): Components {
  if (connectivity !== 6 && connectivity !== 18 && connectivity !== 26) {
    throw new RangeError(`connectivity must be 6, 18 or 26, got ${connectivity}`);
  }
  const [nx, ny, nz] = dims;
  const n = nx * ny * nz;
  if (mask.length !== n)
    throw new RangeError(`mask has ${mask.length} voxels, dims ${dims.join('x')} need ${n}`);
  const labels = new Int32Array(n);
  const offs = backwardOffsets(connectivity);
  const inB = (dx: number, dy: number, dz: number) =>
    offs.some((o) => o[0] === dx && o[1] === dy && o[2] === dz);
  // When the left neighbour (x-1) is foreground, every backward neighbour n of x with n - (x-1) also a
  // backward offset was already merged with (x-1) while (x-1) was labelled: only the others need a look.
  const extraOffs = offs.filter(
    (o) => !(o[0] === -1 && o[1] === 0 && o[2] === 0) && !inB(o[0] + 1, o[1], o[2]),
  );
  let parent = new Int32Array(1024);
  let next = 1;
  // Per-row offset lists (linear offset and dx), restricted to neighbours inside the volume in y and z.
  const rowAll = new Int32Array(offs.length);
  const rowAllDx = new Int32Array(offs.length);
  const rowExtra = new Int32Array(extraOffs.length);
  const rowExtraDx = new Int32Array(extraOffs.length);
  const fill = (list: Vec3[], lin: Int32Array, ldx: Int32Array, y: number, z: number): number => {
    let m = 0;
    for (const [dx, dy, dz] of list) {
      if (y + dy < 0 || y + dy >= ny || z + dz < 0) continue;
      lin[m] = dx + nx * (dy + ny * dz);
      ldx[m++] = dx;
    }
    return m;
  };

  // Pass 1: provisional labels and equivalences.
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      const row = (z * ny + y) * nx;
      const nAll = fill(offs, rowAll, rowAllDx, y, z);
      const nExtra = fill(extraOffs, rowExtra, rowExtraDx, y, z);
      for (let x = 0; x < nx; x++) {
        const i = row + x;
        if (mask[i] === 0) continue;
        let lab = x > 0 ? labels[i - 1] : 0;
        const useExtra = lab !== 0;
        const m = useExtra ? nExtra : nAll;
        const lin = useExtra ? rowExtra : rowAll;
        const ldx = useExtra ? rowExtraDx : rowAllDx;
        for (let o = 0; o < m; o++) {
          const dx = ldx[o];
          if ((dx < 0 && x === 0) || (dx > 0 && x === nx - 1)) continue;
          const l = labels[i + lin[o]];
          if (l === 0 || l === lab) continue;
          lab = lab === 0 ? l : union(parent, lab, l);
        }
        if (lab === 0) {
          if (next >= parent.length) {
            const grown = new Int32Array(parent.length * 2);
            grown.set(parent);
            parent = grown;
          }
          parent[next] = next;
          lab = next++;
        }
        labels[i] = lab;
      }
    }
  }

  // Resolve provisional labels to compact ids (roots are the smallest member, so raster order holds).
  const finalId = new Int32Array(next);
  let count = 0;
  for (let l = 1; l < next; l++) {
    const r = find(parent, l);
    finalId[l] = r === l ? ++count : finalId[r];
  }
  const sizes = new Int32Array(count + 1);
  for (let i = 0; i < n; i++) {
    const l = labels[i];
    if (l !== 0) {
      const f = finalId[l];
      labels[i] = f;
      sizes[f]++;
    }
  }
  return { labels, count, sizes };
}

/** Binary mask (0/1) of the largest connected component (ties: the lowest id); all zeros when empty. */
export function keepLargestComponent(
  mask: Uint8Array,
  dims: Vec3,
  connectivity: Connectivity = 26,
): Uint8Array {
  const { labels, count, sizes } = labelComponents(mask, dims, connectivity);
  const out = new Uint8Array(mask.length);
  if (count === 0) return out;
  let best = 1;
  for (let c = 2; c <= count; c++) if (sizes[c] > sizes[best]) best = c;
  for (let i = 0; i < labels.length; i++) if (labels[i] === best) out[i] = 1;
  return out;
}
