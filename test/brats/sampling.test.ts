/**
 * BraTS training patches: counts and kinds, target-centred patches that hold the target, inputs that are
 * the normalised sequences at the patch position (checked voxel by voxel against `normaliseBratsSubject`),
 * padding past the volume, determinism, 4-channel batches and mirroring, folds by subject.
 */
import { describe, expect, it } from 'vitest';
import { normaliseBratsSubject } from '../../lib/brats/normalise.ts';
import {
  bratsFolds,
  cutBratsPatches,
  prepareBratsSubject,
  sampleBratsPatches,
} from '../../lib/brats/sampling.ts';
import { BRATS_MODALITIES, type BratsSubject } from '../../lib/brats/types.ts';
import { createRng } from '../../lib/training/random.ts';
import { mirrorSample, stackBatch } from '../../lib/training/samplers.ts';
import { scalingAffine, type Vec3 } from '../../lib/volume/volume.ts';

const DIMS: Vec3 = [20, 16, 12];
const [NX, NY, NZ] = DIMS;
const at = (i: number, j: number, k: number) => i + NX * (j + NY * k);
const inBrain = (i: number, j: number, k: number) => i >= 2 && i < 18 && j >= 2 && j < 14 && k >= 1 && k < 11;
const inTumour = (i: number, j: number, k: number) => i >= 10 && i < 13 && j >= 5 && j < 8 && k >= 4 && k < 6;

/** A box-shaped brain with a small cuboid tumour (labels 2 and 4), smooth distinct intensities per sequence. */
function boxSubject(withTumour = true): BratsSubject {
  const n = NX * NY * NZ;
  const channels = Object.fromEntries(
    BRATS_MODALITIES.map((m) => [m, new Float32Array(n)]),
  ) as BratsSubject['channels'];
  const labels = new Uint8Array(n);
  for (let k = 0; k < NZ; k++)
    for (let j = 0; j < NY; j++)
      for (let i = 0; i < NX; i++) {
        if (!inBrain(i, j, k)) continue;
        BRATS_MODALITIES.forEach((m, c) => {
          channels[m][at(i, j, k)] = 1 + i + 3 * j + 7 * k + 100 * c;
        });
        if (withTumour && inTumour(i, j, k)) labels[at(i, j, k)] = i === 11 ? 4 : 2;
      }
  return {
    id: 'box',
    dir: '/nowhere/box',
    grid: { dims: DIMS, spacing: [1, 1, 1], affine: scalingAffine([1, 1, 1]) },
    channels,
    labels,
    labelConvention: 'brats-4',
  };
}

describe('sampleBratsPatches', () => {
  const subject = boxSubject();
  const patch: Vec3 = [8, 8, 8];

  it('draws 400 patches by default, 6/7 of them centred on the whole tumour', () => {
    const draws = sampleBratsPatches(subject, undefined, createRng(1), { patch });
    expect(draws.length).toBe(400);
    expect(draws.filter((d) => d.kind === 'tumor').length).toBe(Math.round((400 * 6) / 7));
    expect(draws.filter((d) => d.kind === 'brain').length).toBe(400 - 343);
  });

  it('keeps patches inside the volume; with jitter 1/2 each tumour patch holds tumour', () => {
    const draws = sampleBratsPatches(subject, 60, createRng(2), { patch, jitter: 0.5, tumourFraction: 0.5 });
    expect(draws.length).toBe(60);
    for (const d of draws) {
      for (let a = 0; a < 3; a++) {
        expect(d.origin[a]).toBeGreaterThanOrEqual(0);
        expect(d.origin[a]).toBeLessThanOrEqual(DIMS[a] - patch[a]);
      }
      const { y } = d.cut();
      const tumourVoxels = y.reduce((s, v) => s + v, 0);
      if (d.kind === 'tumor') expect(tumourVoxels).toBeGreaterThan(0);
    }
  });

  it('cuts the normalised sequences interleaved [z, y, x, c] and the target at the patch position', () => {
    const norm = normaliseBratsSubject(subject);
    const [sample] = cutBratsPatches(sampleBratsPatches(subject, 1, createRng(3), { patch }));
    expect(sample.x.length).toBe(8 * 8 * 8 * 4);
    const [ox, oy, oz] = sample.origin;
    let mismatches = 0;
    for (let k = 0; k < 8; k++)
      for (let j = 0; j < 8; j++)
        for (let i = 0; i < 8; i++) {
          const v = at(ox + i, oy + j, oz + k);
          const p = i + 8 * (j + 8 * k);
          BRATS_MODALITIES.forEach((m, c) => {
            if (sample.x[p * 4 + c] !== norm.channels[m][v]) mismatches++;
          });
          const tumour = inTumour(ox + i, oy + j, oz + k) ? 1 : 0;
          if (sample.y[p] !== tumour) mismatches++;
        }
    expect(mismatches).toBe(0);
  });

  it('pads with zeros where a patch is larger than the volume', () => {
    const [s] = cutBratsPatches(sampleBratsPatches(subject, 1, createRng(4), { patch: [32, 32, 32] }));
    expect(s.origin).toEqual([0, 0, 0]);
    // voxel (25, 0, 0) of the patch lies past x = 19: all channels 0; voxel (5, 5, 5) is brain, > 0
    expect([...s.x.slice(25 * 4, 25 * 4 + 4)]).toEqual([0, 0, 0, 0]);
    const inside = (5 + 32 * (5 + 32 * 5)) * 4;
    expect(Math.min(...s.x.slice(inside, inside + 4))).toBeGreaterThan(0);
  });

  it('is deterministic for a generator state; a subject without tumour gives brain patches only', () => {
    const a = sampleBratsPatches(subject, 30, createRng(9), { patch }).map((d) => d.origin);
    const b = sampleBratsPatches(prepareBratsSubject(subject), 30, createRng(9), { patch }).map(
      (d) => d.origin,
    );
    expect(b).toEqual(a);
    const c = sampleBratsPatches(subject, 30, createRng(10), { patch }).map((d) => d.origin);
    expect(c).not.toEqual(a);
    const healthy = sampleBratsPatches(boxSubject(false), 12, createRng(1), { patch });
    expect(healthy.map((d) => d.kind)).toEqual(new Array(12).fill('brain'));
  });

  it('core target: the oedema (2) is not target, so fewer tumour voxels', () => {
    const whole = prepareBratsSubject(subject, { target: 'whole' });
    const core = prepareBratsSubject(subject, { target: 'core' });
    expect(whole.tumour.length).toBe(3 * 3 * 2);
    expect(core.tumour.length).toBe(3 * 2); // the i = 11 plane of the cuboid is 4
    expect(core.brain.length).toBe(16 * 12 * 10 - 6);
  });
});

describe('4-channel batches', () => {
  it('stackBatch makes [n, z, y, x, 4]; mirrorSample flips voxels and keeps their channels together', () => {
    const patch: Vec3 = [3, 2, 2];
    const voxels = 12;
    const x = Float32Array.from({ length: voxels * 4 }, (_, q) => q);
    const y = Float32Array.from({ length: voxels }, (_, v) => v);
    const s = { x, y, origin: [0, 0, 0] as Vec3, kind: 'tumor' as const };
    const batch = stackBatch([s, s], patch, 4);
    expect(batch.shape).toEqual([2, 2, 2, 3, 4]);
    expect(batch.x.length).toBe(2 * voxels * 4);
    expect(batch.x[voxels * 4 + 5]).toBe(5);
    // Flip along x (axis 2 of [z, y, x]): voxel (i, j, k) takes the channels of (2 - i, j, k).
    const m = mirrorSample(s, patch, [2], 4);
    for (let v = 0; v < voxels; v++) {
      const i = v % 3;
      const src = v - i + (2 - i);
      expect([...m.x.slice(v * 4, v * 4 + 4)]).toEqual([...x.slice(src * 4, src * 4 + 4)]);
      expect(m.y[v]).toBe(src);
    }
  });
});

describe('bratsFolds', () => {
  it('splits by subject: each validated once, never trained on in its fold', () => {
    const ids = ['s1', 's2', 's3', 's4', 's5', 's6', 's7'];
    const folds = bratsFolds(ids, 3, 42);
    expect(folds.length).toBe(3);
    expect(folds.flatMap((f) => f.validation).sort()).toEqual(ids);
    for (const f of folds) {
      expect(f.train.filter((id) => f.validation.includes(id))).toEqual([]);
      expect(f.train.length + f.validation.length).toBe(ids.length);
    }
  });
});
