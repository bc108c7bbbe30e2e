/**
 * A synthetic CT whose structures have distinct HU values, with its ground truth, for the stage tests:
 * air around a body (0 HU), an ellipsoidal liver (100 HU), two box tumors inside it (160 HU) and a small
 * detached "distractor" blob (100 HU, label 0) near the liver that the largest-component step must remove.
 * With `pointwiseEngine`s thresholding the normalised intensity between these levels, the networks'
 * answers are the ground truth itself.
 */
import type { LoadedModels } from '../../lib/pipeline/segment.ts';
import type { Affine, Vec3 } from '../../lib/volume/volume.ts';
import { createVolume, scalingAffine, type Volume } from '../../lib/volume/volume.ts';
import { pointwiseEngine } from './engines.ts';

export const DIMS: Vec3 = [64, 48, 40];
export const SPACING: Vec3 = [0.8, 0.8, 2.5];
export const LIVER_HU = 100;
export const TUMOR_HU = 160;
/** Liver ellipsoid: centre and semi-axes in voxels. */
export const LIVER_C: Vec3 = [30, 22, 21];
export const LIVER_R: Vec3 = [11, 8, 9];
/** Tumor boxes (start inclusive, end exclusive). */
export const TUMORS: Array<{ start: Vec3; end: Vec3 }> = [
  { start: [26, 18, 16], end: [30, 22, 20] },
  { start: [34, 24, 24], end: [36, 26, 26] },
];
export const DISTRACTOR = { start: [12, 6, 6] as Vec3, end: [14, 8, 8] as Vec3 };

const inBox = (b: { start: Vec3; end: Vec3 }, i: number, j: number, k: number) =>
  i >= b.start[0] && i < b.end[0] && j >= b.start[1] && j < b.end[1] && k >= b.start[2] && k < b.end[2];

export function inLiver(i: number, j: number, k: number): boolean {
  const d = [(i - LIVER_C[0]) / LIVER_R[0], (j - LIVER_C[1]) / LIVER_R[1], (k - LIVER_C[2]) / LIVER_R[2]];
  return d[0] * d[0] + d[1] * d[1] + d[2] * d[2] <= 1;
}

/** A rotation of `deg` degrees about z times the spacing, with an origin: an oblique affine. */
export function obliqueAffine(deg: number, spacing: Vec3 = SPACING, origin: Vec3 = [-20, 35, -110]): Affine {
  const c = Math.cos((deg * Math.PI) / 180);
  const s = Math.sin((deg * Math.PI) / 180);
  return [
    c * spacing[0],
    -s * spacing[1],
    0,
    origin[0],
    s * spacing[0],
    c * spacing[1],
    0,
    origin[1],
    0,
    0,
    spacing[2],
    origin[2],
    0,
    0,
    0,
    1,
  ];
}

export function scene(affine: Affine = scalingAffine(SPACING, [-25, -20, -50])): {
  ct: Volume<Int16Array>;
  truth: Volume<Uint8Array>;
} {
  const [nx, ny, nz] = DIMS;
  const ct = new Int16Array(nx * ny * nz);
  const truth = new Uint8Array(nx * ny * nz);
  let idx = 0;
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++, idx++) {
        const body = i >= 4 && i < nx - 4 && j >= 2 && j < ny - 2;
        let hu = body ? 0 : -1000;
        let label = 0;
        if (inLiver(i, j, k)) {
          hu = LIVER_HU;
          label = 1;
          if (TUMORS.some((t) => inBox(t, i, j, k))) {
            hu = TUMOR_HU;
            label = 2;
          }
        } else if (inBox(DISTRACTOR, i, j, k)) hu = LIVER_HU;
        ct[idx] = hu;
        truth[idx] = label;
      }
  return {
    ct: createVolume(ct, DIMS, SPACING, affine, 'int16'),
    truth: createVolume(truth, DIMS, SPACING, affine, 'uint8'),
  };
}

/** Normalised intensity of a HU value in this scene (window [-100, 200]; the scene spans -100..160). */
export const normalizedHu = (hu: number) => (Math.min(200, Math.max(-100, hu)) + 100) / (TUMOR_HU + 100);
/** Liver-or-tumor cut and tumor cut, halfway between the levels. */
export const LIVER_CUT = (normalizedHu(0) + normalizedHu(LIVER_HU)) / 2;
export const TUMOR_CUT = (normalizedHu(LIVER_HU) + normalizedHu(TUMOR_HU)) / 2;

/** Bounding box of the voxels where `pred` holds. */
export function truthBox(mask: Uint8Array, pred: (v: number) => boolean): { start: Vec3; end: Vec3 } {
  const [nx, ny] = DIMS;
  const start: Vec3 = [Infinity, Infinity, Infinity];
  const end: Vec3 = [-Infinity, -Infinity, -Infinity];
  for (let idx = 0; idx < mask.length; idx++) {
    if (!pred(mask[idx])) continue;
    const v = [idx % nx, Math.floor(idx / nx) % ny, Math.floor(idx / (nx * ny))];
    for (let a = 0; a < 3; a++) {
      start[a] = Math.min(start[a], v[a]);
      end[a] = Math.max(end[a], v[a] + 1);
    }
  }
  return { start, end };
}

/** Test ensembles: stage 1 sees whole 64x48 slices, stage 2 the 43x37 box, stage 3 16x16x8 windows. */
export function sceneModels(): LoadedModels {
  const liver = () => pointwiseEngine((v) => (v > LIVER_CUT ? 1 : 0), 'test-backend');
  const tumor = () => pointwiseEngine((v) => (v > TUMOR_CUT ? 1 : 0), 'test-backend');
  return {
    localize: [
      { engine: liver(), manifest: { arch: 'raunet1', inputShape: [48, 64, 1] }, id: 'localize/fold-0' },
    ],
    liver: [0, 1].map((k) => ({
      engine: liver(),
      manifest: { arch: 'raunet2', inputShape: [null, 16, 37, 43, 1], fold: k },
      id: `liver/fold-${k}`,
    })),
    tumor: [
      { engine: tumor(), manifest: { arch: 'raunet2', inputShape: [8, 16, 16, 1] }, id: 'tumor/fold-0' },
    ],
  };
}

/** Dice of two binary masks, counted here (independently of lib/metrics). */
export function dice(a: Uint8Array, b: Uint8Array): number {
  let i = 0;
  let s = 0;
  for (let k = 0; k < a.length; k++) {
    i += a[k]! & b[k]!;
    s += a[k]! + b[k]!;
  }
  return (2 * i) / s;
}
