/**
 * Implicit shapes in world mm. A field is negative inside, zero on the surface and positive outside;
 * for an ellipsoid it is the normalised radius minus one (about distance / radius near the surface).
 */
import type { Vec3 } from '../volume/volume.ts';

export interface Box {
  min: Vec3;
  max: Vec3;
}

/** An ellipsoid with centre, semi-axes (mm) and a rotation: yaw about z, then pitch about x (radians). */
export class Ellipsoid {
  /** Rows of the world-to-local rotation, each divided by its semi-axis. */
  private readonly m: Float64Array;
  readonly box: Box;

  constructor(
    readonly centre: Vec3,
    readonly radii: Vec3,
    yaw = 0,
    pitch = 0,
  ) {
    const cy = Math.cos(yaw);
    const sy = Math.sin(yaw);
    const cp = Math.cos(pitch);
    const sp = Math.sin(pitch);
    // Local axes in world coordinates (columns of R = Rz(yaw) * Rx(pitch)).
    const axes: Vec3[] = [
      [cy, sy, 0],
      [-sy * cp, cy * cp, sp],
      [sy * sp, -cy * sp, cp],
    ];
    this.m = new Float64Array(9);
    for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) this.m[3 * r + c] = axes[r][c] / radii[r];
    const half = [0, 1, 2].map((w) => Math.hypot(...axes.map((ax, r) => ax[w] * radii[r])));
    this.box = {
      min: centre.map((c, w) => c - half[w]) as Vec3,
      max: centre.map((c, w) => c + half[w]) as Vec3,
    };
  }

  /** Normalised radius minus one: -1 at the centre, 0 on the surface. */
  field(x: number, y: number, z: number): number {
    const dx = x - this.centre[0];
    const dy = y - this.centre[1];
    const dz = z - this.centre[2];
    const m = this.m;
    const u = m[0] * dx + m[1] * dy + m[2] * dz;
    const v = m[3] * dx + m[4] * dy + m[5] * dz;
    const w = m[6] * dx + m[7] * dy + m[8] * dz;
    return Math.sqrt(u * u + v * v + w * w) - 1;
  }
}

/** Polynomial smooth minimum: like min(a, b) but blends over a width k, rounding the crease. */
export function smoothMin(a: number, b: number, k: number): number {
  const h = Math.max(k - Math.abs(a - b), 0) / k;
  return Math.min(a, b) - (h * h * k) / 4;
}

/** Smooth union of ellipsoids (negative inside any of them). */
export function unionField(parts: readonly Ellipsoid[], k: number, x: number, y: number, z: number): number {
  let f = parts[0].field(x, y, z);
  for (let p = 1; p < parts.length; p++) f = smoothMin(f, parts[p].field(x, y, z), k);
  return f;
}

export function unionBox(boxes: readonly Box[], margin = 0): Box {
  const min: Vec3 = [Infinity, Infinity, Infinity];
  const max: Vec3 = [-Infinity, -Infinity, -Infinity];
  for (const b of boxes) {
    for (let a = 0; a < 3; a++) {
      min[a] = Math.min(min[a], b.min[a] - margin);
      max[a] = Math.max(max[a], b.max[a] + margin);
    }
  }
  return { min, max };
}

/** A capsule (segment a-b with a radius): a straight vessel. */
export class Capsule {
  private readonly d: Vec3;
  private readonly len2: number;
  readonly box: Box;

  constructor(
    readonly a: Vec3,
    readonly b: Vec3,
    readonly radius: number,
  ) {
    this.d = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
    this.len2 = this.d[0] ** 2 + this.d[1] ** 2 + this.d[2] ** 2;
    this.box = {
      min: [0, 1, 2].map((w) => Math.min(a[w], b[w]) - radius) as Vec3,
      max: [0, 1, 2].map((w) => Math.max(a[w], b[w]) + radius) as Vec3,
    };
  }

  /** Distance to the axis segment divided by the radius, minus one (negative inside). */
  field(x: number, y: number, z: number): number {
    const px = x - this.a[0];
    const py = y - this.a[1];
    const pz = z - this.a[2];
    const d = this.d;
    let t = this.len2 > 0 ? (px * d[0] + py * d[1] + pz * d[2]) / this.len2 : 0;
    t = Math.min(1, Math.max(0, t));
    const ex = px - t * d[0];
    const ey = py - t * d[1];
    const ez = pz - t * d[2];
    return Math.sqrt(ex * ex + ey * ey + ez * ez) / this.radius - 1;
  }
}
