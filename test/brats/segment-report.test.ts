/** The brain-tumour report and preview against hand-counted values. */
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { brainWindow, bratsPreviewSlices, renderBratsPreviewPng } from '../../lib/brats/preview.ts';
import { buildBratsReport } from '../../lib/brats/report.ts';
import type { BratsModel } from '../../lib/brats/segment.ts';
import type { Vec3 } from '../../lib/volume/volume.ts';

const dims: Vec3 = [4, 3, 2];
const at = (x: number, y: number, z: number) => x + 4 * (y + 3 * z);
// voxels of 2 x 1 x 3 mm: 6 mm^3
const affine = [2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 3, 0, 0, 0, 0, 1];

describe('buildBratsReport', () => {
  const mask = new Uint8Array(24);
  // one focus of 3 voxels in a row, one of 2 voxels at the far corner (not 26-connected to the first)
  for (const i of [at(0, 0, 0), at(1, 0, 0), at(1, 1, 0), at(3, 2, 1), at(3, 1, 1)]) mask[i] = 1;
  const brain = new Uint8Array(24);
  for (let i = 0; i < 10; i++) brain[i] = 1;
  const flair = Float32Array.from({ length: 24 }, (_, i) => i * 10);
  const t1 = new Float32Array(24).fill(7);
  const model = {
    id: 'brats/fold-0',
    manifest: {
      arch: 'raunet2-brain',
      width: 0.125,
      inputShape: [8, 8, 8, 4],
      createdAt: 'x',
      metrics: { valDice: 0.9 },
    },
  } as unknown as BratsModel;
  const base = {
    subject: 'S1',
    input: '/data/S1',
    dims,
    spacing: [2, 1, 3] as Vec3,
    affine,
    raw: { t1, flair },
    brain,
    threshold: 0.5,
    tta: false,
    largestComponent: false,
    models: [model],
    seconds: 1,
  };

  it('counts the whole tumour, its volume, components and the mean of each sequence inside it', () => {
    const r = buildBratsReport({ ...base, mask });
    expect(r.tumour.voxels).toBe(5);
    expect(r.tumour.volumeMl).toBeCloseTo((5 * 6) / 1000, 12);
    expect(r.tumour.components).toBe(2);
    // flair = 10 x index: indices 0, 1, 5, 23, 19 -> mean 96
    expect(r.tumour.meanIntensity.flair).toBeCloseTo(96, 9);
    expect(r.tumour.meanIntensity.t1).toBe(7);
    expect(r.brain).toEqual({ voxels: 10, volumeMl: 0.06 });
    expect(r.models).toEqual([{ id: 'brats/fold-0', arch: 'raunet2-brain', width: 0.125, valDice: 0.9 }]);
    expect(r.demoModels).toBe(false);
  });

  it('reports no tumour with null means and no components', () => {
    const r = buildBratsReport({ ...base, mask: new Uint8Array(24) });
    expect(r.tumour).toEqual({
      voxels: 0,
      volumeMl: 0,
      components: 0,
      meanIntensity: { t1: null, flair: null },
    });
  });
});

describe('brain preview', () => {
  it('spreads the slices over the tumour, windows the brain and outlines the tumour in red', () => {
    const d: Vec3 = [10, 10, 10];
    const mask = new Uint8Array(1000);
    // a 4x4 square on slices 3..7, x 3..6, y 3..6
    for (let z = 3; z < 8; z++)
      for (let y = 3; y < 7; y++) for (let x = 3; x < 7; x++) mask[x + 10 * (y + 10 * z)] = 1;
    expect(bratsPreviewSlices(mask, d, 3)).toEqual([3, 5, 7]);
    expect(bratsPreviewSlices(new Uint8Array(1000), d, 2)).toEqual([0, 9]);
    // 100 non-zero values 1..100: the 1st and 99th percentile (floor(q n)) are 2 and 100
    const values = new Float32Array(200);
    for (let i = 0; i < 100; i++) values[i] = i + 1;
    expect(brainWindow(values)).toEqual([2, 100]);
    const flair = new Float32Array(1000).fill(50);
    const png = PNG.sync.read(Buffer.from(renderBratsPreviewPng(flair, mask, d, [1, 1, 1], { slices: 1 })));
    // one tile of 200 x 200 pixels at (8, 8): 20 pixels per voxel, y upwards
    const pixel = (x: number, y: number) => {
      const u = 8 + x * 20 + 10;
      const v = 8 + (9 - y) * 20 + 10;
      const o = 4 * (u + png.width * v);
      return [png.data[o], png.data[o + 1], png.data[o + 2]];
    };
    expect(pixel(3, 3)).toEqual([255, 40, 40]); // a corner of the square: outline
    // inside the square and outside it: the constant FLAIR sits at the bottom of its window [50, 51]
    expect(pixel(4, 4)).toEqual([0, 0, 0]);
    expect(pixel(0, 0)).toEqual([0, 0, 0]);
  });
});
