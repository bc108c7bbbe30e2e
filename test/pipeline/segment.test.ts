import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { renderPreviewPng } from '../../lib/pipeline/preview.ts';
import { patchFromManifest, segmentCt } from '../../lib/pipeline/segment.ts';
import { applyAffine } from '../../lib/volume/affine.ts';
import { sameGrid, scalingAffine, type Vec3 } from '../../lib/volume/volume.ts';
import { pointwiseEngine } from './engines.ts';
import { DIMS, inLiver, obliqueAffine, SPACING, scene, sceneModels } from './scene.ts';

function liverVoxelCount(): number {
  let n = 0;
  for (let k = 0; k < DIMS[2]; k++)
    for (let j = 0; j < DIMS[1]; j++) for (let i = 0; i < DIMS[0]; i++) n += inLiver(i, j, k) ? 1 : 0;
  return n;
}

describe('patchFromManifest', () => {
  it('reads [x, y(, z)] from tensor-order shapes with or without batch and channels', () => {
    expect(patchFromManifest({ inputShape: [32, 224, 192, 1] }, 3)).toEqual([192, 224, 32]);
    expect(patchFromManifest({ inputShape: [null, 32, 224, 192, 1] }, 3)).toEqual([192, 224, 32]);
    expect(patchFromManifest({ inputShape: [256, 128, 1] }, 2)).toEqual([128, 256]);
    expect(() => patchFromManifest({ inputShape: [256] }, 2)).toThrow(/2D/);
    expect(() => patchFromManifest({ inputShape: [8, 32, 224, 224, 1, 1] }, 3)).toThrow(/3D/);
  });
});

describe('segmentCt', () => {
  for (const [what, affine] of [
    ['anisotropic axis-aligned', scalingAffine(SPACING, [-25, -20, -50])],
    ['oblique (30 degrees about z)', obliqueAffine(30)],
  ] as const) {
    it(`labels the scene exactly on the input grid (${what})`, async () => {
      const { ct, truth } = scene([...affine]);
      const r = await segmentCt(ct, sceneModels(), { name: 'scene', saveProbabilities: true });
      expect(sameGrid(r.labels, ct, 0)).toBe(true);
      expect(r.labels.spacing).toEqual(ct.spacing);
      expect(r.labels.dtype).toBe('uint8');
      expect(Array.from(r.labels.data)).toEqual(Array.from(truth.data));
      // The probability maps sit on their regions: voxel (0,0,0) of the liver map is CT voxel (9, 4, 2).
      const pl = r.probabilities!.liver!;
      expect(pl.dims).toEqual([43, 37, 38]);
      const w0 = applyAffine(pl.affine, [0, 0, 0]);
      const w1 = applyAffine(ct.affine, [9, 4, 2]);
      for (let a = 0; a < 3; a++) expect(w0[a]).toBeCloseTo(w1[a], 9);
      expect(r.probabilities!.tumor!.dims).toEqual([43, 37, 38]);
    });
  }

  it('segments with the threshold the models’ manifests record unless one is given', async () => {
    const { ct } = scene(obliqueAffine(30));
    const models = sceneModels();
    for (const m of models.liver) m.manifest.threshold = 0.6; // the paper recipe's liver threshold
    const recorded = await segmentCt(ct, models, { name: 'scene' });
    expect(recorded.report.options).toMatchObject({ thresholds: { localize: 0.5, liver: 0.6, tumor: 0.5 } });
    const given = await segmentCt(ct, models, { name: 'scene', thresholds: { liver: 0.7 } });
    expect(given.report.options).toMatchObject({ thresholds: { liver: 0.7 } });
    models.liver[1]!.manifest.threshold = 0.55; // members that disagree: the default
    const mixed = await segmentCt(ct, models, { name: 'scene' });
    expect(mixed.report.options).toMatchObject({ thresholds: { liver: 0.5 } });
  });

  it('reports hand-computed volumes, centroids, burden and statistics', async () => {
    const affine = obliqueAffine(30);
    const { ct } = scene(affine);
    const { report } = await segmentCt(ct, sceneModels(), { name: 'scene' });
    const n = liverVoxelCount();
    const mm3 = 0.8 * 0.8 * 2.5; // rotation keeps the voxel volume
    expect(report.input.voxelVolumeMm3).toBeCloseTo(mm3, 9);
    expect(report.liver.voxels).toBe(n);
    expect(report.liver.volumeMl).toBeCloseTo((n * mm3) / 1000, 9);
    expect(report.tumors.count).toBe(2);
    const [t1, t2] = report.tumors.items;
    expect(t1.voxels).toBe(64);
    expect(t1.volumeMl).toBeCloseTo(0.1024, 9);
    expect(t1.centroidVoxel).toEqual([27.5, 19.5, 17.5]);
    const c = Math.cos(Math.PI / 6);
    const s = Math.sin(Math.PI / 6);
    const world = (v: Vec3) => [
      c * 0.8 * v[0] - s * 0.8 * v[1] - 20,
      s * 0.8 * v[0] + c * 0.8 * v[1] + 35,
      2.5 * v[2] - 110,
    ];
    for (const [a, x] of t1.centroidWorld.entries()) expect(x).toBeCloseTo(world([27.5, 19.5, 17.5])[a], 6);
    expect(t2.voxels).toBe(8);
    for (const [a, x] of t2.centroidWorld.entries()) expect(x).toBeCloseTo(world([34.5, 24.5, 24.5])[a], 6);
    expect(report.tumors.volumeMl).toBeCloseTo((72 * mm3) / 1000, 9);
    expect(report.tumorBurden).toBeCloseTo(72 / n, 12);
    // HU: parenchyma 100, tumor 160
    const mean = (100 * (n - 72) + 160 * 72) / n;
    const std = Math.sqrt((100 * 100 * (n - 72) + 160 * 160 * 72) / n - mean * mean);
    expect(report.structures.liver.meanHu).toBeCloseTo(mean, 9);
    expect(report.structures.liver.stdHu).toBeCloseTo(std, 6);
    expect(report.structures.parenchyma).toMatchObject({ voxels: n - 72, meanHu: 100, stdHu: 0 });
    expect(report.structures.tumor).toMatchObject({ voxels: 72, meanHu: 160, stdHu: 0 });
    // Liver bounding box (voxels 19..41 x 14..30 x 12..30) and its world extent from the corner voxels
    expect(report.liver.boundingBox!.voxels).toEqual({ start: [19, 14, 12], end: [42, 31, 31] });
    const xs = [19, 41].flatMap((i) => [14, 30].map((j) => world([i, j, 12])));
    expect(report.liver.boundingBox!.worldMin[0]).toBeCloseTo(Math.min(...xs.map((p) => p[0])), 6);
    expect(report.liver.boundingBox!.worldMax[1]).toBeCloseTo(Math.max(...xs.map((p) => p[1])), 6);
    expect(report.liver.boundingBox!.worldMin[2]).toBeCloseTo(-80, 9);
    expect(report.liver.boundingBox!.worldMax[2]).toBeCloseTo(-35, 9); // voxel centres 12..30
    expect(report.localization!.voxels).toEqual({ start: [9, 4, 2], end: [52, 41, 40] });
    expect(report.engine).toEqual({ kind: 'onnx', backend: 'test-backend' });
    expect(report.models.liver.map((m) => m.id)).toEqual(['liver/fold-0', 'liver/fold-1']);
    expect(report.options).toMatchObject({
      overlap: 0.5,
      blend: 'gaussian',
      patches: { liver: [43, 37, 16] },
    });
    for (const k of ['preprocessMs', 'localizeMs', 'liverMs', 'tumorMs', 'totalMs'] as const) {
      expect(report.timings[k]).toBeGreaterThanOrEqual(0);
    }
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  });

  it('returns an empty label map when stage 1 finds nothing', async () => {
    const { ct } = scene();
    const models = sceneModels();
    models.localize[0].engine = pointwiseEngine(() => 0);
    const { labels, report } = await segmentCt(ct, models);
    expect(labels.data.every((v) => v === 0)).toBe(true);
    expect(report.localization).toBeNull();
    expect(report.liver.volumeMl).toBe(0);
    expect(report.tumors.count).toBe(0);
    expect(report.tumorBurden).toBe(0);
  });

  it('reports progress per stage and renders a preview of the result', async () => {
    const { ct } = scene();
    const seen: string[] = [];
    const { labels } = await segmentCt(ct, sceneModels(), {
      skipWindowsWithoutLiver: false, // every window, for the hand count (stages.test.ts counts the skipping)
      onStage: (s) => seen.push(s),
      onProgress: (s, d, t) => {
        if (d === t) seen.push(`${s}:${t}`);
      },
    });
    // stage 1: 40 slices; stage 2: 4 z windows; stage 3 over 43x37x38 in 16x16x8: 5 x 4 x 9 windows
    expect(seen).toEqual(['localize', 'localize:40', 'liver', 'liver:4', 'tumor', 'tumor:180']);
    const png = PNG.sync.read(Buffer.from(renderPreviewPng(ct, labels)));
    expect(png.width).toBeGreaterThan(0);
  });
});
