/**
 * Numerics on the real CT and liver mask in the shared data folder (TotalSegmentator example, 3 mm
 * isotropic): values checked against counts and geometric bounds derived in the test.
 */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { evaluateCase } from '../../lib/metrics/lits.ts';
import { keepLargestComponent, labelComponents } from '../../lib/postprocess/components.ts';
import { boundingBox } from '../../lib/preprocess/crop.ts';
import { windowAndNormalize } from '../../lib/preprocess/window.ts';
import { readNifti } from '../../lib/volume/nifti.ts';
import { withData } from '../../lib/volume/volume.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const rel = resolve(root, '../shared/data');
const DATA = existsSync(rel) ? rel : '/work/shared/data';

describe('real CT (example_ct, 122x101x112, 3 mm)', () => {
  it('liver mask: voxel count, bounding box with the paper margin, components, self and shifted metrics', async () => {
    const liver = await readNifti(`${DATA}/ct/example_ct_liver.nii.gz`);
    const m = liver.data as Uint8Array;
    const [nx, ny, nz] = liver.dims;
    let n = 0;
    for (const v of m) n += v > 0 ? 1 : 0;
    expect(n).toBe(41692); // documented in the data README

    const box = boundingBox(m, liver.dims, 10)!;
    const tight = boundingBox(m, liver.dims)!;
    for (let a = 0; a < 3; a++) {
      expect(box.start[a]).toBe(Math.max(0, tight.start[a] - 10));
      expect(box.end[a]).toBe(Math.min(liver.dims[a], tight.end[a] + 10));
    }
    const cc = labelComponents(m, liver.dims, 26);
    expect(cc.sizes.reduce((a, b) => a + b, 0)).toBe(n);
    const largest = keepLargestComponent(m, liver.dims);
    expect(largest.reduce((a, b) => a + b, 0)).toBe(Math.max(...cc.sizes));

    const self = evaluateCase(liver, liver, 'self');
    expect([self.liver.dice, self.liver.assd, self.liver.msd, self.liver.hd95]).toEqual([1, 0, 0, 0]);

    // Shift the mask one slice down (3 mm; the liver touches the top slice, not the bottom one). Every
    // surface voxel of either mask lies within one voxel step of the other's surface, and distances on a
    // 3 mm isotropic grid are 3*sqrt(k): so MSD is exactly 3 mm.
    expect(tight.start[2]).toBeGreaterThan(0);
    const shifted = new Uint8Array(m.length);
    shifted.set(m.subarray(nx * ny, nx * ny * nz), 0);
    let overlap = 0;
    let np = 0;
    for (let i = 0; i < m.length; i++) {
      if (shifted[i]) np++;
      if (m[i] && shifted[i]) overlap++;
    }
    const r = evaluateCase(withData(liver, shifted), liver, 'shifted');
    expect(r.liver.dice).toBeCloseTo((2 * overlap) / (np + n), 12);
    expect(r.liver.msd).toBeCloseTo(3, 5);
    expect(r.liver.assd!).toBeGreaterThan(0);
    expect(r.liver.assd!).toBeLessThan(3);
    expect(r.tumor).toMatchObject({ dice: 1, assd: null });
  });

  it('window and normalise: values in [0, 1]; zeros exactly where HU <= -100, ones where HU >= 200', async () => {
    const ct = await readNifti(`${DATA}/ct/example_ct.nii.gz`);
    const w = windowAndNormalize(ct);
    const bad: string[] = [];
    for (let i = 0; i < ct.data.length; i++) {
      const hu = ct.data[i];
      const v = w.data[i];
      const ok = hu <= -100 ? v === 0 : hu >= 200 ? v === 1 : v > 0 && v < 1;
      if (!ok && bad.length < 5) bad.push(`voxel ${i}: HU ${hu} -> ${v}`);
    }
    expect(bad).toEqual([]);
  });
});
