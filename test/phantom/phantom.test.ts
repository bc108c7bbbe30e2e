import { describe, expect, it } from 'vitest';
import { chooseGeometry } from '../../lib/phantom/geometry.ts';
import { generatePhantom, type Phantom } from '../../lib/phantom/phantom.ts';
import { Rng } from '../../lib/phantom/random.ts';
import { ORGAN } from '../../lib/phantom/slice.ts';
import { labelComponents } from '../../lib/postprocess/components.ts';
import { orientationCode } from '../../lib/volume/affine.ts';
import type { Vec3 } from '../../lib/volume/volume.ts';
import { bytes, interiorValues, mask, mean, quantile, worldCentroid, worldExtent } from './stats.ts';

const SMALL: Vec3 = [96, 96, 48];
const cache = new Map<string, Phantom>();
function phantom(seed: number, dims: Vec3 = SMALL, tumors?: number): Phantom {
  const key = `${seed}/${dims}/${tumors}`;
  let p = cache.get(key);
  if (!p) {
    p = generatePhantom({ seed, dims, tumors, organMap: true });
    cache.set(key, p);
  }
  return p;
}
const SEEDS = [0, 1, 2, 3, 4, 5];
const organs = (p: Phantom) => p.info.organs!.data;

describe('generatePhantom', () => {
  it('is deterministic: the same seed gives byte-identical volumes, another seed different ones', () => {
    const a = generatePhantom({ seed: 42, dims: [64, 64, 32] });
    const b = generatePhantom({ seed: 42, dims: [64, 64, 32] });
    const c = generatePhantom({ seed: 43, dims: [64, 64, 32] });
    expect(bytes(a.ct.data).equals(bytes(b.ct.data))).toBe(true);
    expect(bytes(a.seg.data).equals(bytes(b.seg.data))).toBe(true);
    expect(a.ct.affine).toEqual(b.ct.affine);
    expect(bytes(a.ct.data).equals(bytes(c.ct.data))).toBe(false);
  });

  it('returns int16 HU and uint8 labels on one RAS grid centred on the origin', () => {
    const p = phantom(1);
    expect(p.ct.data).toBeInstanceOf(Int16Array);
    expect(p.seg.data).toBeInstanceOf(Uint8Array);
    expect(p.ct.dtype).toBe('int16');
    expect(p.seg.dtype).toBe('uint8');
    expect(p.ct.dims).toEqual(SMALL);
    expect(p.seg.affine).toEqual(p.ct.affine);
    expect(orientationCode(p.ct.affine)).toBe('RAS');
    // Centre of the grid at world (0, 0, 0): origin = -(n - 1) / 2 * spacing on each axis.
    for (let a = 0; a < 3; a++) {
      expect(p.ct.affine[4 * a + a]).toBeCloseTo(p.ct.spacing[a], 9);
      expect(p.ct.affine[4 * a + 3]).toBeCloseTo((-(SMALL[a] - 1) / 2) * p.ct.spacing[a], 6);
    }
    let min = Infinity;
    let max = -Infinity;
    for (const v of p.ct.data) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    expect(min).toBeGreaterThanOrEqual(-1024);
    expect(min).toBeLessThan(-900); // air
    expect(max).toBeGreaterThan(400); // cortical bone
  });

  it('labels only 0, 1 and 2, with tumor voxels enclosed by liver', () => {
    for (const seed of SEEDS) {
      const p = phantom(seed);
      const [nx, ny] = p.seg.dims;
      const seg = p.seg.data;
      let other = 0;
      let exposed = 0;
      let tumor = 0;
      for (let i = 0; i < seg.length; i++) {
        const v = seg[i];
        if (v > 2) other++;
        if (v === 2) {
          tumor++;
          // every face neighbour of a tumor voxel is liver or tumor
          for (const d of [1, -1, nx, -nx, nx * ny, -nx * ny]) if (!(seg[i + d] > 0)) exposed++;
        }
      }
      expect(other).toBe(0);
      expect(exposed).toBe(0);
      expect(tumor > 0).toBe(p.info.tumors.length > 0);
    }
  });

  it('makes the liver one connected piece of realistic size on the patient right', () => {
    for (const seed of SEEDS) {
      const p = phantom(seed);
      const liver = mask(p.seg.data, (v) => v > 0);
      const cc = labelComponents(liver, p.seg.dims, 26);
      expect(cc.count).toBe(1);
      // RAS+: +x is the patient's right; the liver lies right of the midline, the spleen left of it.
      expect(worldCentroid(p.seg, liver)[0]).toBeGreaterThan(25);
      expect(
        worldCentroid(
          p.seg,
          mask(organs(p), (c) => c === ORGAN.spleen),
        )[0],
      ).toBeLessThan(-40);
      const lr = worldExtent(p.seg, liver, 0);
      expect(lr).toBeGreaterThan(140);
      expect(lr).toBeLessThan(230);
      expect(p.info.islandVoxels).toBeLessThan(0.01 * cc.sizes[1]);
    }
  });

  it('keeps the physical liver size on a coarse grid and on a fine one', () => {
    const coarse = phantom(7, [64, 64, 32]);
    const fine = phantom(7, [160, 160, 40]);
    for (const p of [coarse, fine]) {
      const lr = worldExtent(
        p.seg,
        mask(p.seg.data, (v) => v > 0),
        0,
      );
      expect(lr).toBeGreaterThan(140);
      expect(lr).toBeLessThan(230);
    }
    expect(coarse.ct.spacing[0]).toBeCloseTo(fine.ct.spacing[0] * 2.5, 6);
  });

  it('gives the liver 50-60 HU, darker tumors, and neighbours whose HU overlaps the liver', () => {
    let checked = 0;
    let tumorsSeen = 0;
    for (const seed of SEEDS) {
      const p = phantom(seed);
      const codes = organs(p);
      const liverHu = interiorValues(
        p.ct,
        mask(codes, (c) => c === ORGAN.liver),
      );
      const liverMean = mean(liverHu);
      expect(liverMean).toBeGreaterThanOrEqual(50);
      expect(liverMean).toBeLessThanOrEqual(60);
      const spleen = interiorValues(
        p.ct,
        mask(codes, (c) => c === ORGAN.spleen),
      );
      // Intensity alone cannot separate them: the spleen's central 80% lies inside the liver's range.
      expect(Math.abs(mean(spleen) - liverMean)).toBeLessThan(12);
      expect(quantile(spleen, 0.1)).toBeGreaterThan(quantile(liverHu, 0.02));
      expect(quantile(spleen, 0.9)).toBeLessThan(quantile(liverHu, 0.98));
      const kidney = interiorValues(
        p.ct,
        mask(codes, (c) => c === ORGAN.kidney),
      );
      expect(mean(kidney)).toBeGreaterThan(25);
      expect(mean(kidney)).toBeLessThan(liverMean);

      const tumors = labelComponents(
        mask(p.seg.data, (v) => v === 2),
        p.seg.dims,
        26,
      );
      tumorsSeen += tumors.count;
      for (let t = 1; t <= tumors.count; t++) {
        if (tumors.sizes[t] < 20) continue; // too few voxels for a stable statistic under 10-20 HU noise
        const voxels: number[] = [];
        for (let i = 0; i < tumors.labels.length; i++) if (tumors.labels[i] === t) voxels.push(p.ct.data[i]);
        expect(quantile(voxels, 0.5)).toBeLessThan(liverMean - 10);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(tumorsSeen / 2);
  });

  it('places the requested number of separate tumors, and 0-4 when not asked', () => {
    for (const n of [0, 1, 4]) {
      const p = phantom(11, SMALL, n);
      expect(p.info.tumors).toHaveLength(n);
      expect(
        labelComponents(
          mask(p.seg.data, (v) => v === 2),
          p.seg.dims,
          26,
        ).count,
      ).toBe(n);
    }
    const counts = SEEDS.map((seed) => phantom(seed).info.tumors.length);
    for (const c of counts) expect(c === Math.trunc(c) && c >= 0 && c <= 4).toBe(true);
    expect(new Set(counts).size).toBeGreaterThan(1);
    for (const seed of SEEDS) {
      const p = phantom(seed);
      expect(
        labelComponents(
          mask(p.seg.data, (v) => v === 2),
          p.seg.dims,
          26,
        ).count,
      ).toBe(p.info.tumors.length);
    }
  });

  it('draws tumor radii in a given range when asked', () => {
    const p = phantom(12, SMALL, 3);
    const q = generatePhantom({ seed: 12, dims: SMALL, tumors: 3, tumorRadius: [12, 14] });
    expect(q.info.tumors).toHaveLength(3);
    for (const t of q.info.tumors) {
      expect(t.radius).toBeGreaterThanOrEqual(12 * 0.8 ** 3); // placement may shrink a tumor that does not fit
      expect(t.radius).toBeLessThanOrEqual(14);
    }
    expect(q.info.tumors.map((t) => t.radius)).not.toEqual(p.info.tumors.map((t) => t.radius));
    expect(() => generatePhantom({ seed: 1, tumorRadius: [5, 2] })).toThrow(/radius/);
  });

  it('varies tumor sizes, including small ones of 2-3 voxels radius', () => {
    const radii = SEEDS.flatMap((seed) =>
      phantom(seed).info.tumors.map((t) => t.radius / phantom(seed).ct.spacing[0]),
    );
    expect(radii.some((r) => r <= 3)).toBe(true);
    expect(radii.some((r) => r >= 4)).toBe(true);
  });

  it('draws spacing and slice count when not given, like clinical CT', () => {
    const geometries = [1, 2, 3, 4, 5, 6, 7, 8].map((seed) => chooseGeometry(new Rng(seed)));
    for (const g of geometries) {
      expect(g.dims.slice(0, 2)).toEqual([512, 512]);
      expect(g.spacing[0]).toBeGreaterThanOrEqual(0.6);
      expect(g.spacing[0]).toBeLessThanOrEqual(1.0);
      expect(g.spacing[2]).toBeGreaterThanOrEqual(1);
      expect(g.spacing[2]).toBeLessThanOrEqual(5);
      const coverage = g.dims[2] * g.spacing[2];
      expect(coverage).toBeGreaterThan(180);
      expect(coverage).toBeLessThan(300);
    }
    expect(new Set(geometries.map((g) => g.spacing[2])).size).toBeGreaterThan(2);
    expect(new Set(geometries.map((g) => g.dims[2])).size).toBeGreaterThan(2);
    // Given dims: in-plane spacing scales with 512 / n; given spacing: dims follow the field of view.
    const d = chooseGeometry(new Rng(3), [128, 128, 64]);
    expect(d.spacing[0] * 128).toBeGreaterThanOrEqual(0.6 * 512 - 1e-9);
    expect(d.spacing[0] * 128).toBeLessThanOrEqual(1.0 * 512 + 1e-9);
    const s = chooseGeometry(new Rng(3), undefined, [1.5, 1.5, 2.5]);
    expect(s.spacing).toEqual([1.5, 1.5, 2.5]);
    expect(s.dims[0] * 1.5).toBeGreaterThan(300);
    expect(s.dims[2] * 2.5).toBeGreaterThan(180);
    expect(chooseGeometry(new Rng(3), [10, 11, 12], [1, 2, 3])).toEqual({
      dims: [10, 11, 12],
      spacing: [1, 2, 3],
    });
  });

  it('uses the given spacing and dims, and rejects bad options with a clear error', () => {
    const p = generatePhantom({ seed: 3, dims: [40, 48, 20], spacing: [8, 7, 10], tumors: 0 });
    expect(p.ct.dims).toEqual([40, 48, 20]);
    expect(p.ct.spacing).toEqual([8, 7, 10]);
    expect(() => generatePhantom({ seed: -1 })).toThrow(/seed/);
    expect(() => generatePhantom({ seed: 1, dims: [0, 10, 10] })).toThrow(/dims/);
    expect(() => generatePhantom({ seed: 1, spacing: [1, Number.NaN, 1] })).toThrow(/spacing/);
    expect(() => generatePhantom({ seed: 1, tumors: 1.5 })).toThrow(/tumor/);
    expect(() => generatePhantom({ seed: 1, spacing: [0.3, 0.3, 0.3] })).toThrow(/voxels/);
  });
});
