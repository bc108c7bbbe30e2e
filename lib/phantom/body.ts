/**
 * The trunk: the scanner table, skin outline, subcutaneous fat, abdominal-wall muscle, and the cavity
 * inside it — lungs above the diaphragm, the diaphragm itself, and below it bowel loops (wall, fluid, air
 * and mottled content) in mesenteric fat. Also the paraspinal and psoas muscles. Solid organs are painted
 * over this afterwards.
 */
import { type Body, diaphragmZ, type Patient } from './anatomy.ts';
import { type Grid, worldAt } from './grid.ts';
import { FractalNoise, LatticeNoise } from './noise.ts';
import type { Rng } from './random.ts';
import { type Box, Ellipsoid } from './shapes.ts';
import { forEachInBox, type Painter, type Slice } from './slice.ts';

/** Normalised elliptic radius of (x, y) for an outline with left-right axis a and front/back axes. */
function ellipticRadius(x: number, y: number, a: number, bAnt: number, bPost: number): number {
  const b = y > 0 ? bAnt : bPost;
  return Math.sqrt((x / a) ** 2 + (y / b) ** 2);
}

/** Cavity field (negative inside the abdominal cavity, roughly distance / cavity size). */
export function cavityField(body: Body, x: number, y: number): number {
  return ellipticRadius(x, y, body.cavA, body.cavBAnt, body.cavBPost) - 1;
}

/** Per-column (x / a)^2 and per-row (y / b)^2 terms of an outline, so a voxel's radius is one sqrt. */
function outlineTerms(
  grid: Grid,
  a: number,
  bAnt: number,
  bPost: number,
): { xt: Float64Array; yt: Float64Array } {
  const xt = new Float64Array(grid.dims[0]);
  const yt = new Float64Array(grid.dims[1]);
  for (let i = 0; i < xt.length; i++) xt[i] = (worldAt(grid, 0, i) / a) ** 2;
  for (let j = 0; j < yt.length; j++) {
    const y = worldAt(grid, 1, j);
    yt[j] = (y / (y > 0 ? bAnt : bPost)) ** 2;
  }
  return { xt, yt };
}

export function trunkPainter(rng: Rng, grid: Grid, p: Patient): Painter {
  const { body, tissues: t, diaphragm } = p;
  const outline = new FractalNoise(rng, grid, 70);
  const fatNoise = new FractalNoise(rng, grid, 50);
  const bowel = new FractalNoise(rng, grid, 34);
  const content = new LatticeNoise(rng, grid, 45);
  const bowelLevel = rng.uniform(0.1, 0.22);
  const wallWidth = 0.09;
  const tableTop = -body.bPost - rng.uniform(3, 10);
  const tableHalfWidth = Math.min(230, 0.5 * grid.dims[0] * grid.spacing[0]);
  const skin = outlineTerms(grid, body.a, body.bAnt, body.bPost);
  const wall = outlineTerms(grid, body.a - body.fatLat, body.bAnt - body.fatAnt, body.bPost - body.fatPost);
  const cav = outlineTerms(grid, body.cavA, body.cavBAnt, body.cavBPost);
  const domeZ = diaphragmZ;
  const SKIN_AMP = 0.025;
  const FAT_AMP = 0.06;
  const CAV_AMP = 0.012;
  const box: Box = { min: [-body.a * 1.1, -body.bPost * 1.1, 0], max: [body.a * 1.1, body.bAnt * 1.1, 0] };
  return {
    zMin: -Infinity,
    zMax: Infinity,
    paint(s: Slice) {
      outline.prepareSlice(s.k);
      fatNoise.prepareSlice(s.k);
      bowel.prepareSlice(s.k);
      content.prepareSlice(s.k);
      const z = s.z;
      const hu = s.hu;
      const grain = s.grain;
      // Table: a curved slab of foam with thin dense shells, under the back.
      forEachInBox(
        s,
        { min: [-tableHalfWidth, tableTop - 60, z], max: [tableHalfWidth, tableTop + 5, z] },
        (idx, _i, _j, x, y) => {
          const depth = tableTop + (x * x) / 1800 - y;
          if (depth < 0 || depth > 14) return;
          hu[idx] = depth < 2 || depth > 12 ? 150 : -750;
        },
      );
      box.min[2] = box.max[2] = z;
      forEachInBox(s, box, (idx, i, j, x, y) => {
        let r = Math.sqrt(skin.xt[i] + skin.yt[j]);
        if (r > 1 - SKIN_AMP) {
          r += SKIN_AMP * outline.at(i, j);
          if (r >= 1) return;
        }
        const g = grain[idx];
        r = Math.sqrt(wall.xt[i] + wall.yt[j]);
        if (r > 1 - FAT_AMP) {
          r += FAT_AMP * fatNoise.at(i, j);
          if (r >= 1) {
            hu[idx] = t.fat + 8 * g;
            return;
          }
        }
        r = Math.sqrt(cav.xt[i] + cav.yt[j]);
        if (r > 1 - CAV_AMP) {
          r += CAV_AMP * outline.at(i, j);
          if (r >= 1) {
            hu[idx] = t.muscle + 4 * g;
            return;
          }
        }
        const dome = domeZ(diaphragm, x, y);
        if (z > dome) {
          hu[idx] = t.lung + 25 * g;
        } else if (z > dome - 5) {
          hu[idx] = t.muscle;
        } else {
          const b = bowel.at(i, j);
          if (b < bowelLevel - wallWidth) {
            hu[idx] = t.fat + 12 * g;
          } else if (b < bowelLevel) {
            hu[idx] = t.bowelWall + 4 * g;
          } else {
            const c = content.at(i, j);
            hu[idx] = c > 0.35 ? -950 + 30 * g : c < -0.2 ? t.fluid + 3 * g : -120 + 180 * g;
          }
        }
      });
    },
  };
}

/** Paraspinal muscles beside the spinous processes and the psoas muscles that grow towards the pelvis. */
export function backMusclesPainter(rng: Rng, p: Patient): Painter {
  const [sx, sy] = p.spine;
  const t = p.tissues;
  const zTop = p.liverCentre[2] - rng.uniform(10, 40);
  const parts: Ellipsoid[] = [];
  for (const side of [-1, 1]) {
    parts.push(new Ellipsoid([sx + side * 30, sy - 38, 0], [25, 20, 1e6]));
  }
  const psoasX = rng.uniform(28, 36);
  return {
    zMin: -Infinity,
    zMax: Infinity,
    paint(s: Slice) {
      for (const e of parts) {
        forEachInBox(
          s,
          { min: [e.box.min[0], e.box.min[1], s.z], max: [e.box.max[0], e.box.max[1], s.z] },
          (idx, _i, _j, x, y) => {
            if (e.field(x, y, 0) < 0 && s.hu[idx] > -500) s.hu[idx] = t.muscle + 5 * s.grain[idx];
          },
        );
      }
      const grow = Math.min(1, Math.max(0, (zTop - s.z) / 120));
      if (grow <= 0) return;
      const r = 6 + 18 * grow;
      for (const side of [-1, 1]) {
        const cx = sx + side * (psoasX + 10 * grow);
        const cy = sy + 4;
        forEachInBox(s, { min: [cx - r, cy - r, s.z], max: [cx + r, cy + r, s.z] }, (idx, _i, _j, x, y) => {
          if ((x - cx) ** 2 + ((y - cy) * 1.15) ** 2 < r * r) s.hu[idx] = t.muscle + 5 * s.grain[idx];
        });
      }
    },
  };
}
