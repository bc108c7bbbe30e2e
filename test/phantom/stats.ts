/**
 * Test helpers for phantoms: masks, per-structure HU statistics on interior voxels (voxels whose four
 * in-plane neighbours carry the same code, so the in-plane smoothing does not mix in the neighbours),
 * and centroids in world coordinates.
 */
import { applyAffine } from '../../lib/volume/affine.ts';
import type { Vec3, Volume } from '../../lib/volume/volume.ts';

/** The bytes of a typed array (its own view, whatever buffer it sits in). */
export function bytes(a: ArrayBufferView): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

export function mask(codes: Uint8Array, keep: (code: number) => boolean): Uint8Array {
  const out = new Uint8Array(codes.length);
  for (let i = 0; i < codes.length; i++) out[i] = keep(codes[i]) ? 1 : 0;
  return out;
}

/** Values of `ct` at interior voxels of `m` (non-zero mask whose 4 in-plane neighbours are in it too). */
export function interiorValues(ct: Volume<Int16Array>, m: Uint8Array): number[] {
  const [nx, ny, nz] = ct.dims;
  const out: number[] = [];
  for (let k = 0; k < nz; k++)
    for (let j = 1; j < ny - 1; j++)
      for (let i = 1; i < nx - 1; i++) {
        const p = i + nx * (j + ny * k);
        if (m[p] && m[p - 1] && m[p + 1] && m[p - nx] && m[p + nx]) out.push(ct.data[p]);
      }
  return out;
}

export function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

export function std(values: number[]): number {
  const m = mean(values);
  return Math.sqrt(values.reduce((a, b) => a + (b - m) ** 2, 0) / values.length);
}

export function quantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

/** World-coordinate centroid (mm) of the non-zero voxels of `m` on the grid of `vol`. */
export function worldCentroid(vol: Volume, m: Uint8Array): Vec3 {
  const [nx, ny] = vol.dims;
  const sum = [0, 0, 0];
  let n = 0;
  for (let p = 0; p < m.length; p++) {
    if (!m[p]) continue;
    sum[0] += p % nx;
    sum[1] += Math.floor(p / nx) % ny;
    sum[2] += Math.floor(p / (nx * ny));
    n++;
  }
  return applyAffine(
    vol.affine,
    sum.map((v) => v / n),
  );
}

/** Extent (mm) of the non-zero voxels of `m` along world axis `axis` (diagonal affine). */
export function worldExtent(vol: Volume, m: Uint8Array, axis: 0 | 1 | 2): number {
  const [nx, ny] = vol.dims;
  let lo = Infinity;
  let hi = -Infinity;
  for (let p = 0; p < m.length; p++) {
    if (!m[p]) continue;
    const idx = axis === 0 ? p % nx : axis === 1 ? Math.floor(p / nx) % ny : Math.floor(p / (nx * ny));
    lo = Math.min(lo, idx);
    hi = Math.max(hi, idx);
  }
  return (hi - lo + 1) * vol.spacing[axis];
}
