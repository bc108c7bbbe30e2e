/**
 * A soft-tissue organ shape: a smooth union of ellipsoids whose surface is pushed in and out by smooth
 * noise, optionally clipped by another field (for example "below the diaphragm").
 */
import type { Grid } from './grid.ts';
import { FractalNoise } from './noise.ts';
import type { Rng } from './random.ts';
import { type Box, type Ellipsoid, unionBox, unionField } from './shapes.ts';
import { forEachInBox, type Painter, type Slice } from './slice.ts';

export type Field = (x: number, y: number, z: number) => number;

export interface BlobOptions {
  /** Width of the smooth union (in field units, ~ fraction of a radius). */
  blend?: number;
  /** Surface deformation amplitude (field units) and noise feature size (mm). */
  deform?: number;
  featureMm?: number;
  /** Extra field combined by max (intersection): negative where the organ may be. */
  clip?: Field;
}

export class Blob {
  readonly box: Box;
  private readonly noise: FractalNoise;
  private readonly blend: number;
  private readonly amp: number;
  private readonly clip?: Field;

  constructor(
    rng: Rng,
    grid: Grid,
    readonly parts: Ellipsoid[],
    opts: BlobOptions = {},
  ) {
    this.blend = opts.blend ?? 0.2;
    this.amp = opts.deform ?? 0.08;
    this.clip = opts.clip;
    this.noise = new FractalNoise(rng, grid, opts.featureMm ?? 60);
    const union = unionField;
    const blend = this.blend;
    this.union = (x, y, z) => union(parts, blend, x, y, z);
    const maxRadius = Math.max(...parts.flatMap((p) => p.radii));
    this.box = unionBox(
      parts.map((p) => p.box),
      maxRadius * this.amp + 1,
    );
  }

  private readonly union: (x: number, y: number, z: number) => number;

  private combine(base: number, n: number, x: number, y: number, z: number): number {
    const f = base + this.amp * n;
    return this.clip ? Math.max(f, this.clip(x, y, z)) : f;
  }

  /** Field at any world point. */
  fieldAt(x: number, y: number, z: number): number {
    const base = this.union(x, y, z);
    if (base > this.amp) return base - this.amp;
    return this.combine(base, this.noise.sample(x, y, z), x, y, z);
  }

  /** Field at voxel (i, j) of the slice the blob was prepared for (see `prepare`). */
  fieldAtVoxel(i: number, j: number, x: number, y: number, z: number): number {
    const base = this.union(x, y, z);
    if (base > this.amp) return base - this.amp;
    return this.combine(base, this.noise.at(i, j), x, y, z);
  }

  prepare(k: number): void {
    this.noise.prepareSlice(k);
  }
}

/** Paints a blob: `shade` is called for voxels inside (field < 0) with the field value. */
export function blobPainter(
  blob: Blob,
  shade: (s: Slice, index: number, f: number, x: number, y: number) => void,
): Painter {
  return {
    zMin: blob.box.min[2],
    zMax: blob.box.max[2],
    paint(s: Slice) {
      blob.prepare(s.k);
      forEachInBox(s, blob.box, (idx, i, j, x, y) => {
        const f = blob.fieldAtVoxel(i, j, x, y, s.z);
        if (f < 0) shade(s, idx, f, x, y);
      });
    },
  };
}
