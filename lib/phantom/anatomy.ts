/**
 * The sampled patient: body size and wall layers, the diaphragm, the spine position and tissue HU values,
 * all in world mm (RAS+: +x patient's right, +y anterior, +z superior; the body is centred on x = y = 0).
 * Organ shapes are built from these numbers in the organ modules.
 */
import type { Rng } from './random.ts';

export interface Body {
  /** Semi-axes of the skin outline: left-right, anterior, posterior (the back is flatter). */
  a: number;
  bAnt: number;
  bPost: number;
  /** Subcutaneous fat thickness at the sides, front and back, and abdominal-wall muscle thickness. */
  fatLat: number;
  fatAnt: number;
  fatPost: number;
  muscle: number;
  /** Semi-axes of the abdominal cavity (inside the muscle wall). */
  cavA: number;
  cavBAnt: number;
  cavBPost: number;
}

export interface Diaphragm {
  /** Dome apex positions (x, y) and heights (z) of the right and left hemidiaphragm; curvature radius. */
  right: [number, number, number];
  left: [number, number, number];
  radius: number;
}

export interface Tissues {
  fat: number;
  muscle: number;
  liver: number;
  spleen: number;
  kidney: number;
  blood: number;
  lung: number;
  bowelWall: number;
  fluid: number;
  /** Standard deviation of the final image noise (after the in-plane smoothing), HU. */
  noiseSigma: number;
}

export interface Patient {
  body: Body;
  diaphragm: Diaphragm;
  /** Centre (x, y) of the vertebral bodies. */
  spine: [number, number];
  /** Liver reference point and scale (1 = a liver of about 205 mm left-right before clipping). */
  liverCentre: [number, number, number];
  liverScale: number;
  tissues: Tissues;
}

/** Height of the diaphragm surface above (x, y): the higher of the two domes. */
export function diaphragmZ(d: Diaphragm, x: number, y: number): number {
  const r2 = (x - d.right[0]) ** 2 + ((y - d.right[1]) * 1.2) ** 2;
  const l2 = (x - d.left[0]) ** 2 + ((y - d.left[1]) * 1.2) ** 2;
  return Math.max(d.right[2] - r2 / (2 * d.radius), d.left[2] - l2 / (2 * d.radius));
}

/**
 * Samples a patient for a field of view of `fov` mm (x, y) whose slices span [zLo, zHi] mm.
 * The liver's left-right extent is drawn in 155-195 mm whatever the grid, so small grids still show
 * anatomy of realistic physical size.
 */
export function samplePatient(rng: Rng, fov: [number, number], zLo: number, zHi: number): Patient {
  const a = Math.min(rng.uniform(138, 172), 0.46 * fov[0]);
  const bAnt = Math.min(a * rng.uniform(0.64, 0.76), 0.4 * fov[1]);
  const bPost = bAnt * rng.uniform(0.88, 0.95);
  const fatLat = rng.uniform(8, 30);
  const fatAnt = fatLat * rng.uniform(0.8, 1.3);
  const fatPost = fatLat * rng.uniform(0.55, 0.8);
  const muscle = rng.uniform(8, 13);
  const body: Body = {
    a,
    bAnt,
    bPost,
    fatLat,
    fatAnt,
    fatPost,
    muscle,
    cavA: a - fatLat - muscle,
    cavBAnt: bAnt - fatAnt - muscle,
    cavBPost: bPost - fatPost - muscle,
  };
  const spine: [number, number] = [0, -bPost + fatPost + rng.uniform(48, 58)];

  const extent = rng.uniform(165, 210);
  const s = extent / 205;
  // Right lobe's lateral surface a little beyond the cavity wall, so the wall flattens it.
  const lx = body.cavA + 8 - 110 * s;
  const ly = 0.5 * (body.cavBAnt - body.cavBPost) + rng.uniform(-8, 8);
  // Liver centre: inside the slab when it fits, otherwise centred.
  const span = zHi - zLo;
  const lo = zLo + 85 * s;
  const hi = zHi - 60 * s;
  let lz = rng.uniform(-0.1, 0.1) * span;
  lz = lo <= hi ? Math.min(hi, Math.max(lo, lz)) : 0.5 * (zLo + zHi);

  const topR = lz + rng.uniform(68, 80) * s;
  const diaphragm: Diaphragm = {
    right: [lx + 45 * s, ly - 5, topR],
    left: [-body.cavA * 0.45, ly - 5, topR - rng.uniform(10, 25)],
    radius: rng.uniform(90, 130),
  };

  const liver = rng.uniform(52, 60);
  const tissues: Tissues = {
    fat: rng.uniform(-110, -90),
    muscle: rng.uniform(45, 60),
    liver,
    spleen: Math.max(45, Math.min(55, liver - rng.uniform(0, 9))),
    kidney: rng.uniform(30, 38),
    blood: rng.uniform(38, 50),
    lung: rng.uniform(-880, -820),
    bowelWall: rng.uniform(30, 42),
    fluid: rng.uniform(5, 22),
    noiseSigma: rng.uniform(10, 20),
  };
  return { body, diaphragm, spine, liverCentre: [lx, ly, lz], liverScale: s, tissues };
}
