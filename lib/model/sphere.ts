/**
 * A phantom-like training patch for smoke tests and benchmarks: a bright sphere in noise, with its mask.
 * Layout [1, z, y, x, 1] (channels last), x-fastest like a Volume.
 */
import type { Batch } from '../training/trainer.ts';

export function spherePatch(opts: {
  dims: [number, number, number];
  radius: number;
  seed?: number;
  noise?: number;
}): Batch {
  const [nz, ny, nx] = opts.dims;
  const noise = opts.noise ?? 0.15;
  const x = new Float32Array(nz * ny * nx);
  const y = new Float32Array(x.length);
  let s = (opts.seed ?? 1) >>> 0;
  const cz = nz / 2 - 0.5;
  const cy = ny / 2 - 0.5;
  const cx = nx / 2 + 2.5; // off-centre, so the mask is not symmetric about the patch centre
  for (let z = 0, i = 0; z < nz; z++) {
    for (let j = 0; j < ny; j++) {
      for (let k = 0; k < nx; k++, i++) {
        const inside = (z - cz) ** 2 + (j - cy) ** 2 + (k - cx) ** 2 < opts.radius ** 2;
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        x[i] = (inside ? 0.7 : 0.3) + noise * (s / 2 ** 32 - 0.5);
        y[i] = inside ? 1 : 0;
      }
    }
  }
  return { x, y, shape: [1, nz, ny, nx, 1] };
}
