import { describe, expect, it } from 'vitest';
import type { PreparedCase } from '../../lib/training/case.ts';
import { createRng } from '../../lib/training/random.ts';
import {
  mirrorSample,
  type Sample,
  sampleCase,
  stackBatch,
  trainingBatches,
  validationBatches,
} from '../../lib/training/samplers.ts';
import type { Vec3 } from '../../lib/volume/volume.ts';

/**
 * A synthetic case with analytic truth: dims 40x36x30, liver = the block x 10..29, y 8..27, z 5..24
 * (label 1), tumor = the block x 18..21, y 16..19, z 13..16 (label 2); the image value encodes the voxel
 * position so that every cut can be checked against the source voxel it came from.
 */
const dims: Vec3 = [40, 36, 30];
const at = (i: number, j: number, k: number) => i + dims[0] * (j + dims[1] * k);
const inBlock = (i: number, j: number, k: number, lo: Vec3, hi: Vec3) =>
  i >= lo[0] && i <= hi[0] && j >= lo[1] && j <= hi[1] && k >= lo[2] && k <= hi[2];

function syntheticCase(): PreparedCase {
  const n = dims[0] * dims[1] * dims[2];
  const image = new Float32Array(n);
  const labels = new Uint8Array(n);
  for (let k = 0; k < dims[2]; k++)
    for (let j = 0; j < dims[1]; j++)
      for (let i = 0; i < dims[0]; i++) {
        const p = at(i, j, k);
        image[p] = (p + 1) / n; // unique, in (0, 1]
        if (inBlock(i, j, k, [10, 8, 5], [29, 27, 24])) labels[p] = 1;
        if (inBlock(i, j, k, [18, 16, 13], [21, 19, 16])) labels[p] = 2;
      }
  return {
    id: 'syn',
    dims,
    spacing: [1, 1, 1],
    image,
    labels,
    liverBox: { start: [10, 8, 5], end: [30, 28, 25] },
  };
}

const sum = (a: Float32Array) => a.reduce((s, v) => s + v, 0);

describe('localize sampler', () => {
  it('takes every liver slice plus a third as many slices without liver, at the slice size', () => {
    const samples = sampleCase(syntheticCase(), { stage: 'localize', patch: [16, 12] }, createRng(1));
    const liver = samples.filter((s) => s.kind === 'liver').map((s) => s.origin[2]);
    const background = samples.filter((s) => s.kind === 'background').map((s) => s.origin[2]);
    expect(liver.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => 5 + i));
    expect(background).toHaveLength(7); // round(20 / 3)
    for (const z of background) expect(z < 5 || z > 24).toBe(true);
    expect(new Set(background).size).toBe(7);
    for (const s of samples) {
      expect(s.x).toHaveLength(16 * 12);
      expect(s.y).toHaveLength(16 * 12);
      expect(sum(s.y) > 0).toBe(s.kind === 'liver');
    }
    const half = sampleCase(
      syntheticCase(),
      { stage: 'localize', patch: [16, 12], negativeRatio: 0.5 },
      createRng(1),
    );
    expect(half.filter((s) => s.kind === 'background')).toHaveLength(10);
  });

  it('keeps slice values and the liver label (>= 1) when no resizing is needed', () => {
    const c = syntheticCase();
    const samples = sampleCase(c, { stage: 'localize', patch: [40, 36] }, createRng(2));
    const s = samples.find((v) => v.origin[2] === 15)!;
    for (const [i, j] of [
      [0, 0],
      [19, 17],
      [39, 35],
      [10, 8],
    ]) {
      expect(s.x[i + 40 * j]).toBeCloseTo(c.image[at(i, j, 15)], 6);
      expect(s.y[i + 40 * j]).toBe(inBlock(i, j, 15, [10, 8, 5], [29, 27, 24]) ? 1 : 0);
    }
    expect(sum(s.y)).toBe(20 * 20); // tumor voxels count as liver here
  });
});

describe('liver sampler', () => {
  it('cuts z-windows from the liver box + margin resized in-plane, label liver+tumor', () => {
    const c = syntheticCase();
    // margin 2: box x 8..31, y 6..29, z 3..26 (24 voxels each); in-plane size kept -> no resizing.
    const samples = sampleCase(
      c,
      { stage: 'liver', patch: [24, 24, 8], margin: 2, perCase: 6 },
      createRng(3),
    );
    expect(samples).toHaveLength(6);
    for (const s of samples) {
      expect(s.origin[0]).toBe(8);
      expect(s.origin[1]).toBe(6);
      expect(s.origin[2]).toBeGreaterThanOrEqual(3);
      expect(s.origin[2] + 8).toBeLessThanOrEqual(27);
      for (const [i, j, k] of [
        [0, 0, 0],
        [5, 7, 3],
        [23, 23, 7],
        [12, 12, 4],
      ]) {
        const v = at(s.origin[0] + i, s.origin[1] + j, s.origin[2] + k);
        expect(s.x[i + 24 * (j + 24 * k)]).toBeCloseTo(c.image[v], 6);
        expect(s.y[i + 24 * (j + 24 * k)]).toBe(c.labels[v] >= 1 ? 1 : 0);
      }
    }
  });

  it('resizes in-plane to the patch and pads short boxes with zeros after the end', () => {
    const c = syntheticCase();
    const samples = sampleCase(
      c,
      { stage: 'liver', patch: [12, 12, 32], margin: 2, perCase: 2 },
      createRng(4),
    );
    for (const s of samples) {
      expect(s.x).toHaveLength(12 * 12 * 32);
      expect(s.origin[2]).toBe(3); // box has 24 slices < 32: one window at the start
      // Liver spans x 2..21 of the 24-voxel box -> about 10 of 12 resized columns, and 20 of 24 slices.
      const liverFrac = sum(s.y) / (12 * 12 * 24);
      expect(liverFrac).toBeGreaterThan(0.55);
      expect(liverFrac).toBeLessThan(0.8);
      const tail = s.x.subarray(12 * 12 * 24);
      expect(tail.every((v) => v === 0)).toBe(true);
      expect(s.y.subarray(12 * 12 * 24).every((v) => v === 0)).toBe(true);
      expect(s.x.subarray(0, 12 * 12 * 24).every((v) => v > 0)).toBe(true);
    }
  });
});

describe('tumor sampler', () => {
  const opts = { stage: 'tumor' as const, patch: [8, 8, 4], perCase: 12 };

  it('centres half the patches on tumor voxels and the rest on liver voxels, label tumor only', () => {
    const c = syntheticCase();
    const samples = sampleCase(c, { ...opts, jitter: 0 }, createRng(5));
    expect(samples).toHaveLength(12);
    expect(samples.filter((s) => s.kind === 'tumor')).toHaveLength(6);
    for (const s of samples) {
      const centre = at(s.origin[0] + 4, s.origin[1] + 4, s.origin[2] + 2);
      expect(c.labels[centre]).toBe(s.kind === 'tumor' ? 2 : 1);
    }
  });

  it('cuts patches inside the volume at native resolution, with jittered tumor patches still on tumor', () => {
    const c = syntheticCase();
    const samples = sampleCase(c, { ...opts, jitter: 0.5 }, createRng(6));
    for (const s of samples) {
      for (let a = 0; a < 3; a++) {
        expect(s.origin[a]).toBeGreaterThanOrEqual(0);
        expect(s.origin[a] + opts.patch[a]).toBeLessThanOrEqual(dims[a]);
      }
      if (s.kind === 'tumor') expect(sum(s.y)).toBeGreaterThan(0);
      for (let k = 0; k < 4; k++)
        for (let j = 0; j < 8; j++)
          for (let i = 0; i < 8; i++) {
            const v = at(s.origin[0] + i, s.origin[1] + j, s.origin[2] + k);
            const p = i + 8 * (j + 8 * k);
            expect(s.x[p]).toBe(c.image[v]);
            expect(s.y[p]).toBe(c.labels[v] === 2 ? 1 : 0);
          }
    }
  });

  it('is reproducible from the seed', () => {
    const key = (ss: Sample[]) => ss.map((s) => s.origin.join(',')).join(' ');
    const a = sampleCase(syntheticCase(), opts, createRng(7));
    const b = sampleCase(syntheticCase(), opts, createRng(7));
    const d = sampleCase(syntheticCase(), opts, createRng(8));
    expect(key(b)).toBe(key(a));
    expect(key(d)).not.toBe(key(a));
  });

  it('draws nothing from a case without liver, and refuses a wrong patch rank', () => {
    const c = { ...syntheticCase(), labels: new Uint8Array(dims[0] * dims[1] * dims[2]), liverBox: null };
    expect(sampleCase(c, opts, createRng(1))).toEqual([]);
    expect(sampleCase(c, { stage: 'liver', patch: [8, 8, 4] }, createRng(1))).toEqual([]);
    expect(sampleCase(c, { stage: 'localize', patch: [8, 8] }, createRng(1))).toEqual([]);
    expect(() => sampleCase(c, { stage: 'tumor', patch: [8, 8] }, createRng(1))).toThrow(/3-number/);
  });
});

describe('batches', () => {
  it('stacks samples in the [n, z, y, x, c] layout', () => {
    const s = (v: number): Sample => ({
      x: Float32Array.from({ length: 24 }, (_, i) => v + i),
      y: new Float32Array(24).fill(v),
      origin: [0, 0, 0],
      kind: 'liver',
    });
    const b = stackBatch([s(0), s(100)], [4, 3, 2]);
    expect(b.shape).toEqual([2, 2, 3, 4, 1]);
    // element [n=1, z=1, y=2, x=3] is sample 1's voxel (3, 2, 1) = 3 + 4 * (2 + 3 * 1) = 23
    expect(b.x[24 + 23]).toBe(123);
    expect(b.y[24]).toBe(100);
  });

  it('streams shuffled training batches and a fixed validation set', async () => {
    const c = syntheticCase();
    const other = { ...syntheticCase(), id: 'other' };
    const source = { get: async (id: string) => (id === 'syn' ? c : other) };
    const o = { stage: 'tumor' as const, patch: [8, 8, 4], perCase: 5, batchSize: 4, seed: 11 };
    const it = trainingBatches(source, ['syn', 'other'], o);
    for (let i = 0; i < 6; i++) {
      const { value } = await it.next();
      expect(value!.shape).toEqual([4, 4, 8, 8, 1]);
      expect(value!.x).toHaveLength(4 * 256);
    }
    await it.return(undefined);
    const v1 = await validationBatches(source, ['syn', 'other'], o);
    const v2 = await validationBatches(source, ['syn', 'other'], o);
    expect(v1.map((b) => b.shape[0])).toEqual([4, 4, 2]);
    expect(v2).toEqual(v1);
  });

  it('mirrors a sample along the chosen axes, input and target together', () => {
    // patch 3 (x) by 2 (y): arrays are [y][x], x fastest
    const sample: Sample = {
      x: Float32Array.from([1, 2, 3, 4, 5, 6]),
      y: Float32Array.from([1, 0, 0, 1, 1, 0]),
      origin: [0, 0, 0],
      kind: 'liver',
    };
    const flipX = mirrorSample(sample, [3, 2], [1]);
    expect(Array.from(flipX.x)).toEqual([3, 2, 1, 6, 5, 4]);
    expect(Array.from(flipX.y)).toEqual([0, 0, 1, 0, 1, 1]);
    const flipY = mirrorSample(sample, [3, 2], [0]);
    expect(Array.from(flipY.x)).toEqual([4, 5, 6, 1, 2, 3]);
    expect(Array.from(mirrorSample(sample, [3, 2], [0, 1]).x)).toEqual([6, 5, 4, 3, 2, 1]);
    expect(mirrorSample(sample, [3, 2], [])).toBe(sample);
    expect(Array.from(sample.x)).toEqual([1, 2, 3, 4, 5, 6]); // the source is untouched
  });

  it('with mirror, flips training samples along random axes (never validation ones)', async () => {
    const c = syntheticCase();
    const n = dims[0] * dims[1] * dims[2];
    const source = { get: async () => c };
    const o = { stage: 'tumor' as const, patch: [8, 8, 4], perCase: 8, batchSize: 4, seed: 3, jitter: 0.5 };
    /** Per sample: which axes [z, y, x] run backwards, read from the position-encoding image values. */
    const flipsOf = (b: { x: Float32Array; y: Float32Array; shape: number[] }) => {
      const out: boolean[][] = [];
      for (let s = 0; s < b.shape[0]; s++) {
        const x = b.x.subarray(s * 256, (s + 1) * 256);
        const y = b.y.subarray(s * 256, (s + 1) * 256);
        // every voxel's target is its source voxel's label (tumor = 2)
        for (let i = 0; i < 256; i++) expect(y[i]).toBe(c.labels[Math.round(x[i] * n) - 1] === 2 ? 1 : 0);
        const step = (i: number) => Math.round((x[i] - x[0]) * n);
        expect([1, -1]).toContain(step(1));
        expect([dims[0], -dims[0]]).toContain(step(8));
        expect([dims[0] * dims[1], -dims[0] * dims[1]]).toContain(step(64));
        out.push([step(64) < 0, step(8) < 0, step(1) < 0]);
      }
      return out;
    };
    const collect = async (mirror: boolean) => {
      const it = trainingBatches(source, ['syn'], { ...o, mirror });
      const flips: boolean[][] = [];
      for (let i = 0; i < 10; i++) flips.push(...flipsOf((await it.next()).value!));
      await it.return(undefined);
      return flips;
    };
    expect((await collect(false)).flat().some(Boolean)).toBe(false);
    const mirrored = await collect(true);
    for (let axis = 0; axis < 3; axis++) {
      const flipped = mirrored.filter((f) => f[axis]).length;
      // 40 samples, each axis flipped with probability 1/2
      expect(flipped).toBeGreaterThan(5);
      expect(flipped).toBeLessThan(35);
    }
    for (const b of await validationBatches(source, ['syn'], { ...o, mirror: true })) {
      expect(flipsOf(b).flat().some(Boolean)).toBe(false);
    }
  });
});
