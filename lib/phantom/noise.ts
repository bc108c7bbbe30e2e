/**
 * Noise for the phantoms.
 * - `LatticeNoise`: smooth value noise in [-1, 1] — random values on a coarse lattice in world mm,
 *   interpolated with smoothstep weights. Cheap on the voxel grid: per slice the lattice is first reduced
 *   to one 2D layer, and per-column / per-row cell indices and weights are tabulated once, so a voxel costs
 *   four look-ups and three blends. Used for shape deformation, organ texture and bowel loops.
 * - `WhiteNoise`: Gaussian deviates drawn from a precomputed table with a fast per-voxel index stream.
 */
import type { Grid } from './grid.ts';
import type { Rng } from './random.ts';

const smooth = (t: number) => t * t * (3 - 2 * t);

interface AxisTable {
  cell: Int32Array;
  weight: Float32Array;
}

export class LatticeNoise {
  private readonly values: Float32Array;
  private readonly n: [number, number, number];
  private readonly lo: [number, number, number];
  private readonly cols: AxisTable;
  private readonly rows: AxisTable;
  private readonly layer: Float32Array;
  private layerK = -1;
  /** The lattice reduced to grid row `rowJ` of the prepared slice (one value per lattice column). */
  private readonly row: Float32Array;
  private rowJ = -1;

  /** `cellMm`: lattice spacing in mm (the feature size); the lattice covers the grid plus a margin. */
  constructor(
    rng: Rng,
    private readonly grid: Grid,
    private readonly cellMm: number,
  ) {
    const lo: number[] = [];
    const n: number[] = [];
    for (let a = 0; a < 3; a++) {
      const extent = (grid.dims[a] - 1) * grid.spacing[a];
      lo.push(grid.origin[a] - 2 * cellMm);
      n.push(Math.ceil((extent + 4 * cellMm) / cellMm) + 1);
    }
    this.lo = lo as [number, number, number];
    this.n = n as [number, number, number];
    this.values = new Float32Array(n[0] * n[1] * n[2]);
    for (let i = 0; i < this.values.length; i++) this.values[i] = rng.next() * 2 - 1;
    this.cols = this.axisTable(0);
    this.rows = this.axisTable(1);
    this.layer = new Float32Array(n[0] * n[1]);
    this.row = new Float32Array(n[0]);
  }

  private locate(axis: number, w: number): [number, number] {
    const t = (w - this.lo[axis]) / this.cellMm;
    const c = Math.min(this.n[axis] - 2, Math.max(0, Math.floor(t)));
    const f = Math.min(1, Math.max(0, t - c));
    return [c, smooth(f)];
  }

  private axisTable(axis: 0 | 1): AxisTable {
    const len = this.grid.dims[axis];
    const cell = new Int32Array(len);
    const weight = new Float32Array(len);
    for (let i = 0; i < len; i++) {
      const [c, w] = this.locate(axis, this.grid.origin[axis] + i * this.grid.spacing[axis]);
      cell[i] = c;
      weight[i] = w;
    }
    return { cell, weight };
  }

  /** Value at any world point (mm). */
  sample(x: number, y: number, z: number): number {
    const [cx, wx] = this.locate(0, x);
    const [cy, wy] = this.locate(1, y);
    const [cz, wz] = this.locate(2, z);
    const [nx, ny] = this.n;
    const v = this.values;
    const at = (i: number, j: number, k: number) => v[i + nx * (j + ny * k)];
    const plane = (k: number) => {
      const a = at(cx, cy, k) + (at(cx + 1, cy, k) - at(cx, cy, k)) * wx;
      const b = at(cx, cy + 1, k) + (at(cx + 1, cy + 1, k) - at(cx, cy + 1, k)) * wx;
      return a + (b - a) * wy;
    };
    const p0 = plane(cz);
    return p0 + (plane(cz + 1) - p0) * wz;
  }

  /** Reduce the lattice to the layer of grid slice k; `at(i, j)` then reads that slice. */
  prepareSlice(k: number): void {
    if (k === this.layerK) return;
    this.layerK = k;
    this.rowJ = -1;
    const [cz, wz] = this.locate(2, this.grid.origin[2] + k * this.grid.spacing[2]);
    const plane = this.n[0] * this.n[1];
    const a = cz * plane;
    const b = a + plane;
    for (let p = 0; p < plane; p++) {
      const v0 = this.values[a + p];
      this.layer[p] = v0 + (this.values[b + p] - v0) * wz;
    }
  }

  /** Value at voxel (i, j) of the prepared slice; equals `sample` at that voxel's centre. */
  at(i: number, j: number): number {
    if (j !== this.rowJ) this.reduceRow(j);
    const cx = this.cols.cell[i];
    const a = this.row[cx];
    return a + (this.row[cx + 1] - a) * this.cols.weight[i];
  }

  private reduceRow(j: number): void {
    this.rowJ = j;
    const nx = this.n[0];
    const p = nx * this.rows.cell[j];
    const w = this.rows.weight[j];
    const l = this.layer;
    for (let c = 0; c < nx; c++) this.row[c] = l[p + c] + (l[p + nx + c] - l[p + c]) * w;
  }
}

/** Two lattice octaves (coarse + fine, the fine one at half weight), scaled to about [-1, 1]. */
export class FractalNoise {
  private readonly coarse: LatticeNoise;
  private readonly fine: LatticeNoise;

  constructor(rng: Rng, grid: Grid, cellMm: number) {
    this.coarse = new LatticeNoise(rng, grid, cellMm);
    this.fine = new LatticeNoise(rng, grid, cellMm / 2);
  }

  sample(x: number, y: number, z: number): number {
    return (this.coarse.sample(x, y, z) + 0.5 * this.fine.sample(x, y, z)) / 1.5;
  }

  prepareSlice(k: number): void {
    this.coarse.prepareSlice(k);
    this.fine.prepareSlice(k);
  }

  at(i: number, j: number): number {
    return (this.coarse.at(i, j) + 0.5 * this.fine.at(i, j)) / 1.5;
  }
}

/** Gaussian white noise: a table of 64k standard normal deviates indexed by an xorshift stream. */
export class WhiteNoise {
  private readonly table = new Float32Array(65536);
  private state: number;

  constructor(rng: Rng) {
    for (let i = 0; i < this.table.length; i++) this.table[i] = rng.normal();
    this.state = rng.nextU32() | 1;
  }

  /** Adds sigma-scaled deviates to every entry of `buf`. */
  addTo(buf: Float32Array, sigma: number): void {
    let s = this.state;
    const t = this.table;
    for (let i = 0; i < buf.length; i++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      buf[i] += sigma * t[(s >>> 8) & 0xffff];
    }
    this.state = s;
  }
}
