/**
 * 3D connected-component labelling of binary masks (x-fastest arrays), run-based.
 *
 * Each row (fixed y, z) is split into runs of consecutive foreground voxels (voxels of one run are
 * connected through their x faces). A run is merged (union-find, union by smaller index, path halving)
 * with every run it touches in the already-visited neighbour rows:
 * - 6-connectivity: rows (y-1, z) and (y, z-1), x ranges overlapping;
 * - 18-connectivity: the same rows with x ranges overlapping or diagonally adjacent (|dx| = 1), plus rows
 *   (y-1, z-1) and (y+1, z-1) with overlapping x ranges (edge neighbours across y and z);
 * - 26-connectivity: all four rows, overlapping or diagonally adjacent.
 * Work is linear in the number of voxels (one scan) plus the number of runs. Final ids are 1..count in
 * raster order (x fastest, then y, then z) of each component's first voxel.
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

/** Growable Int32 list. */
class IntList {
  data = new Int32Array(4096);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const grown = new Int32Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = v;
  }
}

function find(parent: Int32Array, a: number): number {
  while (parent[a] !== a) {
    parent[a] = parent[parent[a]];
    a = parent[a];
  }
  return a;
}

function union(parent: Int32Array, a: number, b: number): void {
  const ra = find(parent, a);
  const rb = find(parent, b);
  if (ra < rb) parent[rb] = ra;
  else if (rb < ra) parent[ra] = rb;
}

/**
 * Merge the runs of row `cur` with those of row `prev` that touch them: x ranges [s, e) overlap, or, with
 * `grow` = 1, are also diagonally adjacent. Both rows' runs are sorted by x (two-pointer sweep).
 */
function mergeRows(
  rowStart: Int32Array,
  xs: Int32Array,
  xe: Int32Array,
  parent: Int32Array,
  cur: number,
  prev: number,
  grow: number,
): void {
  let i = rowStart[cur];
  const iEnd = rowStart[cur + 1];
  let j = rowStart[prev];
  const jEnd = rowStart[prev + 1];
  while (i < iEnd && j < jEnd) {
    if (xs[i] < xe[j] + grow && xs[j] < xe[i] + grow) union(parent, i, j);
    // Advance the run that ends first (it cannot touch any later run of the other row).
    if (xe[i] < xe[j]) i++;
    else j++;
  }
}

/** Runs of foreground voxels with their component ids (the label volume in compact form). */
interface RunComponents {
  /** Runs of row r (r = z * ny + y) are rowStart[r] .. rowStart[r + 1] - 1. */
  rowStart: Int32Array;
  /** x start (inclusive) and end (exclusive) of each run. */
  xs: Int32Array;
  xe: Int32Array;
  /** Component id of each run. */
  runId: Int32Array;
  count: number;
  sizes: Int32Array;
}

function labelRuns(mask: Uint8Array, dims: Vec3, connectivity: Connectivity): RunComponents {
  if (connectivity !== 6 && connectivity !== 18 && connectivity !== 26) {
    throw new RangeError(`connectivity must be 6, 18 or 26, got ${connectivity}`);
  }
  const [nx, ny, nz] = dims;
  const n = nx * ny * nz;
  if (mask.length !== n)
    throw new RangeError(`mask has ${mask.length} voxels, dims ${dims.join('x')} need ${n}`);
  const rows = ny * nz;

  // Pass 1: runs of every row, in raster order.
  const rowStart = new Int32Array(rows + 1);
  const starts = new IntList();
  const ends = new IntList();
  for (let r = 0; r < rows; r++) {
    rowStart[r] = starts.length;
    const base = r * nx;
    let x = 0;
    while (x < nx) {
      if (mask[base + x] === 0) {
        x++;
        continue;
      }
      const s = x;
      while (x < nx && mask[base + x] !== 0) x++;
      starts.push(s);
      ends.push(x);
    }
  }
  const runs = starts.length;
  rowStart[rows] = runs;
  const xs = starts.data;
  const xe = ends.data;

  // Pass 2: merge runs with the touching runs of the visited neighbour rows.
  const parent = new Int32Array(runs);
  for (let i = 0; i < runs; i++) parent[i] = i;
  const grow = connectivity === 6 ? 0 : 1;
  const diag = connectivity === 26 ? 1 : 0; // x growth for rows (y +- 1, z - 1); unused for 6
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      const r = z * ny + y;
      if (rowStart[r] === rowStart[r + 1]) continue;
      if (y > 0) mergeRows(rowStart, xs, xe, parent, r, r - 1, grow);
      if (z > 0) {
        mergeRows(rowStart, xs, xe, parent, r, r - ny, grow);
        if (connectivity !== 6) {
          if (y > 0) mergeRows(rowStart, xs, xe, parent, r, r - ny - 1, diag);
          if (y < ny - 1) mergeRows(rowStart, xs, xe, parent, r, r - ny + 1, diag);
        }
      }
    }
  }

  // Pass 3: compact ids in raster order (a root is its set's first run) and sizes.
  const runId = new Int32Array(runs);
  let count = 0;
  for (let i = 0; i < runs; i++) {
    const root = find(parent, i);
    runId[i] = root === i ? ++count : runId[root];
  }
  const sizes = new Int32Array(count + 1);
  for (let i = 0; i < runs; i++) sizes[runId[i]] += xe[i] - xs[i];
  return { rowStart, xs, xe, runId, count, sizes };
}

/** Fill each run with `value(its component id)` (runs whose value is 0 are left alone). */
function paintRuns(
  rc: RunComponents,
  nx: number,
  out: Uint8Array | Int32Array,
  value: (id: number) => number,
): void {
  const rows = rc.rowStart.length - 1;
  for (let r = 0; r < rows; r++) {
    const base = r * nx;
    for (let i = rc.rowStart[r]; i < rc.rowStart[r + 1]; i++) {
      const v = value(rc.runId[i]);
      if (v !== 0) out.fill(v, base + rc.xs[i], base + rc.xe[i]);
    }
  }
}

/** Label the connected components of the non-zero voxels of `mask`. */
export function labelComponents(mask: Uint8Array, dims: Vec3, connectivity: Connectivity = 26): Components {
  const rc = labelRuns(mask, dims, connectivity);
  const labels = new Int32Array(mask.length);
  paintRuns(rc, dims[0], labels, (id) => id);
  return { labels, count: rc.count, sizes: rc.sizes };
}

/** Binary mask (0/1) of the largest connected component (ties: the lowest id); all zeros when empty. */
export function keepLargestComponent(
  mask: Uint8Array,
  dims: Vec3,
  connectivity: Connectivity = 26,
): Uint8Array {
  const rc = labelRuns(mask, dims, connectivity);
  const out = new Uint8Array(mask.length);
  if (rc.count === 0) return out;
  let best = 1;
  for (let c = 2; c <= rc.count; c++) if (rc.sizes[c] > rc.sizes[best]) best = c;
  paintRuns(rc, dims[0], out, (id) => (id === best ? 1 : 0));
  return out;
}
