/**
 * Synthetic four-sequence brain MRI phantoms with BraTS ground truth (labels 1 necrotic core, 2 oedema,
 * 4 enhancing tumour), deterministic for a seed. Anatomy: nested, noise-perturbed ellipsoids for scalp,
 * skull, subarachnoid CSF and the brain; a cortical grey-matter ribbon of varying thickness cut by sulci;
 * white matter; lateral ventricles and deep grey nuclei. One tumour in a hemisphere: an irregular
 * enhancing shell around a necrotic core, inside an irregular oedema that spreads in white matter more
 * than in cortex. Intensities follow the contrast model of `brain-contrast.ts`, with per-case gains,
 * tissue texture, a smooth multiplicative bias field per sequence and Gaussian noise. See docs/phantoms.md.
 */
import { BRATS_MODALITIES, type BratsGrid, type BratsModality } from '../brats/types.ts';
import { InputError } from '../errors.ts';
import type { Vec3 } from '../volume/volume.ts';
import { BRAIN_CONTRAST, TISSUE, TISSUE_COUNT, TISSUE_LABEL } from './brain-contrast.ts';
import { centredGrid, type Grid, gridAffine } from './grid.ts';
import { LatticeNoise, WhiteNoise } from './noise.ts';
import { Rng } from './random.ts';

/** The BraTS grid: 240 x 240 x 155 voxels of 1 mm. */
export const BRATS_DIMS: Vec3 = [240, 240, 155];
export const BRATS_SPACING: Vec3 = [1, 1, 1];

/** Named grid sizes: the BraTS grid, and a small one for quick training and the demo (the head shrinks to fit). */
export const BRAIN_SIZES = {
  brats: { dims: BRATS_DIMS, spacing: BRATS_SPACING },
  small: { dims: [96, 96, 64] as Vec3, spacing: [2, 2, 2] as Vec3 },
} as const;
export type BrainSize = keyof typeof BRAIN_SIZES;

/** Head (outer scalp) semi-axes in mm: left-right, posterior-anterior, inferior-superior. */
const HEAD_SEMI_AXES: Vec3 = [74, 92, 70];
/** Layer boundaries as fractions of the head's normalised radius. */
const SCALP_INNER = 0.94;
const SKULL_INNER = 0.88;
const BRAIN_OUTER = 0.85;

export interface BrainPhantomOptions {
  seed: number;
  /** Grid size (x, y, z); default the BraTS 240 x 240 x 155. */
  dims?: Vec3;
  /** Voxel size in mm; default 1 mm isotropic. */
  spacing?: Vec3;
  /** Zero everything outside the brain and its CSF, as BraTS' skull-stripped data (default: keep the skull). */
  skullStripped?: boolean;
}

export interface TumourInfo {
  /** World position of the centre (mm, RAS+). */
  centre: Vec3;
  /** Semi-axes of the enhancing tumour (mm). */
  radii: Vec3;
  /** Necrotic core radius as a fraction of the tumour's. */
  coreFraction: number;
  /** Oedema semi-axes as a multiple of the tumour's. */
  edemaScale: number;
}

export interface BrainPhantom {
  grid: BratsGrid;
  channels: Record<BratsModality, Float32Array>;
  /** Raw BraTS labels 0/1/2/4. */
  labels: Uint8Array;
  /** Tissue map (`TISSUE` codes), for tests and previews. */
  tissues: Uint8Array;
  info: { seed: number; scale: number; tumour: TumourInfo; gains: Record<BratsModality, number> };
}

function checkOptions(o: BrainPhantomOptions): { dims: Vec3; spacing: Vec3 } {
  const dims = o.dims ?? BRATS_DIMS;
  const spacing = o.spacing ?? BRATS_SPACING;
  if (dims.some((d) => !Number.isInteger(d) || d < 16 || d > 1024)) {
    throw new InputError(`brain phantom dims must be integers 16..1024, got ${dims.join('x')}`);
  }
  if (spacing.some((s) => !(s >= 0.2 && s <= 10))) {
    throw new InputError(`brain phantom spacing must be 0.2..10 mm, got ${spacing.join(',')}`);
  }
  return { dims: [...dims], spacing: [...spacing] };
}

/** Scale of the head so that it fits the field of view (never enlarged): 1 on the BraTS grid. */
function headScale(grid: Grid): number {
  const fits = HEAD_SEMI_AXES.map((a, i) => (0.47 * grid.dims[i] * grid.spacing[i]) / a);
  return Math.min(1, ...fits);
}

/** Normalised squared radius of point p in the ellipsoid (centre c, semi-axes r). */
function ellipsoidRadius(x: number, y: number, z: number, c: Vec3, r: Vec3): number {
  const dx = (x - c[0]) / r[0];
  const dy = (y - c[1]) / r[1];
  const dz = (z - c[2]) / r[2];
  return Math.sqrt(dx * dx + dy * dy + dz * dz);
}

/** One tumour in a random hemisphere, well inside the brain. */
function drawTumour(rng: Rng, head: Vec3): TumourInfo {
  const s = head[0] / HEAD_SEMI_AXES[0];
  const r = rng.uniform(10, 22) * s;
  const radii = [0, 1, 2].map(() => r * rng.uniform(0.8, 1.2)) as Vec3;
  const edemaScale = rng.uniform(1.45, 2.0);
  // Rejection sampling: a draw fits in a few tries; the bound only guarantees an end.
  for (let attempt = 0; attempt < 1000; attempt++) {
    const side = rng.chance(0.5) ? 1 : -1;
    const centre: Vec3 = [
      side * rng.uniform(0.2, 0.45) * head[0],
      rng.uniform(-0.45, 0.45) * head[1],
      rng.uniform(-0.2, 0.4) * head[2],
    ];
    // The enhancing tumour must lie inside the brain: its farthest point within 0.78 of the head radius.
    const reach = Math.max(...radii.map((ri, a) => (Math.abs(centre[a]) + ri) / head[a]));
    if (ellipsoidRadius(...centre, [0, 0, 0], head) + reach * 0.35 < 0.78 && reach < 0.95) {
      return { centre, radii, coreFraction: rng.uniform(0.4, 0.65), edemaScale };
    }
  }
  // Never reached in practice: a central placement in the left hemisphere, which always fits.
  return { centre: [-0.3 * head[0], 0, 0.1 * head[2]], radii, coreFraction: 0.5, edemaScale };
}

/** The tissue map: anatomy and tumour, a `TISSUE` code per voxel. */
function paintTissues(rng: Rng, grid: Grid, head: Vec3, tumour: TumourInfo): Uint8Array {
  const [nx, ny, nz] = grid.dims;
  const [sx, sy, sz] = grid.spacing;
  const [ox, oy, oz] = grid.origin;
  const out = new Uint8Array(nx * ny * nz);
  const s = head[0] / HEAD_SEMI_AXES[0];
  const outline = new LatticeNoise(rng.fork('outline'), grid, 40 * s);
  const gyri = new LatticeNoise(rng.fork('gyri'), grid, 10 * s);
  const sulci = new LatticeNoise(rng.fork('sulci'), grid, 7 * s);
  const tumourShape = new LatticeNoise(rng.fork('tumour'), grid, 9 * s);
  const coreShape = new LatticeNoise(rng.fork('core'), grid, 7 * s);
  const edemaShape = new LatticeNoise(rng.fork('edema'), grid, 14 * s);
  const meanSemi = (head[0] + head[1] + head[2]) / 3;
  const ventricles: Array<[Vec3, Vec3]> = [-1, 1].map((side) => [
    [side * 7 * s, 4 * s, 10 * s],
    [5 * s, 24 * s, 8 * s],
  ]);
  const deepGrey: Array<[Vec3, Vec3]> = [-1, 1].map((side) => [
    [side * 13 * s, -6 * s, -2 * s],
    [8 * s, 11 * s, 8 * s],
  ]);
  const inAny = (x: number, y: number, z: number, parts: Array<[Vec3, Vec3]>) =>
    parts.some(([c, r]) => ellipsoidRadius(x, y, z, c, r) < 1);
  const edemaRadii = tumour.radii.map((r) => r * tumour.edemaScale) as Vec3;
  for (let k = 0; k < nz; k++) {
    const z = oz + k * sz;
    for (const n of [outline, gyri, sulci, tumourShape, coreShape, edemaShape]) n.prepareSlice(k);
    for (let j = 0; j < ny; j++) {
      const y = oy + j * sy;
      for (let i = 0; i < nx; i++) {
        const x = ox + i * sx;
        const rho = ellipsoidRadius(x, y, z, [0, 0, 0], head) * (1 + 0.025 * outline.at(i, j));
        const at = i + nx * (j + ny * k);
        if (rho >= 1) continue; // air
        if (rho >= SCALP_INNER) {
          out[at] = TISSUE.scalp;
          continue;
        }
        if (rho >= SKULL_INNER) {
          out[at] = TISSUE.skull;
          continue;
        }
        if (rho >= BRAIN_OUTER) {
          out[at] = TISSUE.csf;
          continue;
        }
        // Brain: depth below the brain surface in mm (approximate, from the normalised radius).
        const depth = (BRAIN_OUTER - rho) * meanSemi;
        const ribbon = (3 + 3.5 * (gyri.at(i, j) + 1)) * s;
        let t: number = depth < ribbon ? TISSUE.grey : TISSUE.white;
        if (depth < ribbon + 2 * s && Math.abs(sulci.at(i, j)) < 0.07) t = TISSUE.csf;
        if (Math.abs(x) < 1.2 * s + 0.5 * sx && depth < 30 * s) t = TISSUE.csf; // interhemispheric fissure
        if (inAny(x, y, z, deepGrey)) t = TISSUE.grey;
        if (inAny(x, y, z, ventricles)) t = TISSUE.csf;
        const q = ellipsoidRadius(x, y, z, tumour.centre, tumour.radii);
        if (q < 1.6) {
          if (q * (1 + 0.15 * tumourShape.at(i, j)) < 1) {
            t = q * (1 + 0.2 * coreShape.at(i, j)) < tumour.coreFraction ? TISSUE.necrosis : TISSUE.enhancing;
            out[at] = t;
            continue;
          }
        }
        const e = ellipsoidRadius(x, y, z, tumour.centre, edemaRadii);
        if (e < 1.4 && (t === TISSUE.white || t === TISSUE.grey)) {
          // Oedema follows white-matter tracts: it reaches less far into the cortex.
          const reach = t === TISSUE.white ? 1 : 0.75;
          if (e * (1 + 0.3 * edemaShape.at(i, j)) < reach) t = TISSUE.edema;
        }
        out[at] = t;
      }
    }
  }
  return out;
}

/** Intensities of one sequence from the tissue map: gains, texture, bias field and noise. */
function renderSequence(
  rng: Rng,
  grid: Grid,
  tissues: Uint8Array,
  modality: BratsModality,
  gain: number,
  skullStripped: boolean,
): Float32Array {
  const [nx, ny, nz] = grid.dims;
  const base = BRAIN_CONTRAST[modality];
  // Each tissue's mean varies by a few percent between cases, as between scanners and patients.
  const means = new Float32Array(TISSUE_COUNT);
  for (let t = 0; t < TISSUE_COUNT; t++) means[t] = base[t] * gain * (1 + 0.05 * rng.normal());
  const texture = new LatticeNoise(rng.fork('texture'), grid, 5);
  const bias = new LatticeNoise(rng.fork('bias'), grid, 90);
  const white = new WhiteNoise(rng.fork('noise'));
  const sigma = 0.025 * Math.max(...base) * gain;
  const out = new Float32Array(tissues.length);
  const row = new Float32Array(nx);
  for (let k = 0; k < nz; k++) {
    texture.prepareSlice(k);
    bias.prepareSlice(k);
    for (let j = 0; j < ny; j++) {
      row.fill(0);
      white.addTo(row, sigma);
      for (let i = 0; i < nx; i++) {
        const at = i + nx * (j + ny * k);
        const t = tissues[at];
        if (t === TISSUE.air || (skullStripped && (t === TISSUE.scalp || t === TISSUE.skull))) continue;
        // Tumour tissue is more heterogeneous than normal tissue.
        const rough = t >= TISSUE.edema ? 0.1 : 0.04;
        const v = means[t] * (1 + rough * texture.at(i, j)) * Math.exp(0.12 * bias.at(i, j)) + row[i];
        // Inside the head every voxel stays > 0, so "voxels > 0" is the head (or brain) mask.
        out[at] = Math.max(1, v);
      }
    }
  }
  return out;
}

/** Generate one brain phantom (see the module comment). */
export function generateBrainPhantom(opts: BrainPhantomOptions): BrainPhantom {
  const { dims, spacing } = checkOptions(opts);
  const grid = centredGrid(dims, spacing);
  const rng = new Rng(opts.seed);
  const scale = headScale(grid);
  const head = HEAD_SEMI_AXES.map((a) => a * scale) as Vec3;
  const tumour = drawTumour(rng.fork('placement'), head);
  const tissues = paintTissues(rng.fork('anatomy'), grid, head, tumour);
  const skullStripped = Boolean(opts.skullStripped);
  if (skullStripped) {
    for (let v = 0; v < tissues.length; v++) {
      if (tissues[v] === TISSUE.scalp || tissues[v] === TISSUE.skull) tissues[v] = TISSUE.air;
    }
  }
  const labels = new Uint8Array(tissues.length);
  for (let v = 0; v < tissues.length; v++) labels[v] = TISSUE_LABEL[tissues[v]];
  const gainRng = rng.fork('gains');
  const gains = {} as Record<BratsModality, number>;
  const channels = {} as Record<BratsModality, Float32Array>;
  for (const m of BRATS_MODALITIES) {
    gains[m] = gainRng.uniform(0.85, 1.2);
    channels[m] = renderSequence(rng.fork(m), grid, tissues, m, gains[m], skullStripped);
  }
  return {
    grid: { dims: [...dims], spacing: [...spacing], affine: gridAffine(grid) },
    channels,
    labels,
    tissues,
    info: { seed: opts.seed, scale, tumour, gains },
  };
}
