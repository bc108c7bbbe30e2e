/**
 * The liver and its tumors. The liver is a smooth union of four ellipsoids (a large right lobe, a
 * bridging medial segment, a smaller left lobe reaching across the midline, the caudate lobe), deformed
 * by low-frequency noise and clipped to lie under the diaphragm, inside the abdominal wall and clear of
 * the spine. Hepatic and portal veins run through it as slightly different-attenuation tubes (still
 * labelled liver). Tumors are placed where the final image shows liver, so every tumor voxel is inside it.
 */

import type { Vec3 } from '../volume/volume.ts';
import { diaphragmZ, type Patient } from './anatomy.ts';
import { Blob, blobPainter, type Field } from './blob.ts';
import { cavityField } from './body.ts';
import { type Grid, snapToVoxel } from './grid.ts';
import { FractalNoise } from './noise.ts';
import type { Rng } from './random.ts';
import { Capsule, Ellipsoid } from './shapes.ts';
import { forEachInBox, LABEL, type Painter, type Slice } from './slice.ts';

const DEG = Math.PI / 180;

export interface TumorInfo {
  /** Centre in world mm (on a voxel centre) and nominal radius (mm). */
  centre: Vec3;
  radius: number;
  /** Mean HU of the tumor core, and whether it has an enhancing rim or a necrotic centre. */
  hu: number;
  rim: boolean;
  necrotic: boolean;
}

export function buildLiver(
  rng: Rng,
  grid: Grid,
  p: Patient,
  exclusions: ReadonlyArray<{ shape: Ellipsoid; margin: number }>,
): { liver: Blob; painters: Painter[] } {
  const [lx, ly, lz] = p.liverCentre;
  const s = p.liverScale;
  const j = (v: number) => v * rng.uniform(0.9, 1.1);
  const jc = (c: Vec3): Vec3 => [
    lx + s * (c[0] + rng.uniform(-6, 6)),
    ly + s * (c[1] + rng.uniform(-6, 6)),
    lz + s * (c[2] + rng.uniform(-6, 6)),
  ];
  const parts = [
    new Ellipsoid(
      jc([45, -5, 0]),
      [j(65 * s), j(80 * s), j(80 * s)],
      rng.uniform(-10, 10) * DEG,
      rng.uniform(-10, 5) * DEG,
    ),
    new Ellipsoid(jc([0, 12, 15]), [j(50 * s), j(52 * s), j(48 * s)]),
    new Ellipsoid(
      jc([-50, 30, 20]),
      [j(45 * s), j(30 * s), j(36 * s)],
      rng.uniform(-15, 15) * DEG,
      rng.uniform(-10, 10) * DEG,
    ),
    new Ellipsoid(jc([8, -25, 10]), [j(28 * s), j(26 * s), j(40 * s)]),
  ];
  const [spx, spy] = p.spine;
  const domeZ = diaphragmZ;
  const cavity = cavityField;
  const clip: Field = (x, y, z) => {
    let f = Math.max(
      (z - (domeZ(p.diaphragm, x, y) - 5)) / 70,
      cavity(p.body, x, y) * 1.6 + 0.04,
      (38 - Math.hypot(x - spx, y - spy)) / 70,
      (spy - 12 - 0.35 * Math.abs(x - spx) - y) / 70,
    );
    for (const { shape, margin } of exclusions) {
      const b = shape.box;
      if (x < b.min[0] - 10 || x > b.max[0] + 10 || y < b.min[1] - 10 || y > b.max[1] + 10) continue;
      if (z < b.min[2] - 10 || z > b.max[2] + 10) continue;
      f = Math.max(f, ((margin - shape.field(x, y, z)) * shape.radii[0]) / 70);
    }
    return f;
  };
  const liver = new Blob(rng.fork('liver-shape'), grid, parts, {
    blend: 0.25,
    deform: 0.1,
    featureMm: 70,
    clip,
  });
  const hu = p.tissues.liver;
  const LIVER = LABEL.liver;
  const liverPainter = blobPainter(liver, (sl, idx) => {
    sl.hu[idx] = hu + 3 * sl.grain[idx];
    sl.lab[idx] = LIVER;
  });

  const P = (c: Vec3): Vec3 => [lx + s * c[0], ly + s * c[1], lz + s * c[2]];
  const confluence = P([25, -25, 55]);
  const hilum = P([10, 0, -25]);
  const r = () => rng.uniform(3.5, 6);
  const veins = [
    new Capsule(confluence, P([85, -15, -5]), r()),
    new Capsule(confluence, P([15, 45, 0]), r()),
    new Capsule(confluence, P([-50, 30, 20]), r()),
    new Capsule(hilum, P([70, -5, -5]), r() + 1),
    new Capsule(hilum, P([-40, 25, 5]), r() + 1),
  ];
  const vesselHu = hu + rng.uniform(-15, 25);
  const vesselPainters: Painter[] = veins.map((v) => ({
    zMin: v.box.min[2],
    zMax: v.box.max[2],
    paint(sl: Slice) {
      forEachInBox(sl, v.box, (idx, _i, _j, x, y) => {
        if (sl.lab[idx] === LIVER && v.field(x, y, sl.z) < 0) sl.hu[idx] = vesselHu;
      });
    },
  }));
  return { liver, painters: [liverPainter, ...vesselPainters] };
}

/** Unit directions: the 6 axes, 12 edge diagonals and 8 corner diagonals of a cube. */
const DIRECTIONS: Vec3[] = (() => {
  const out: Vec3[] = [];
  for (let a = -1; a <= 1; a++)
    for (let b = -1; b <= 1; b++)
      for (let c = -1; c <= 1; c++) {
        if (a === 0 && b === 0 && c === 0) continue;
        const n = Math.hypot(a, b, c);
        out.push([a / n, b / n, c / n]);
      }
  return out;
})();

/**
 * Places `count` tumors inside visible liver (`isLiver` says whether the final image shows liver at a
 * point) and returns their painters and descriptions. Sizes: about a third small (2-3 in-plane voxels in
 * radius), the rest 5-15 mm or 15-35 mm — or uniform in `radiusRange` (mm) when given. Each centre sits on a voxel centre so even the smallest tumor
 * covers at least one voxel; tumors keep a gap of two voxels between them.
 */
export function placeTumors(
  rng: Rng,
  grid: Grid,
  p: Patient,
  liver: Blob,
  isLiver: (x: number, y: number, z: number) => boolean,
  count: number,
  radiusRange?: [number, number],
): { painters: Painter[]; tumors: TumorInfo[] } {
  const inPlane = Math.max(grid.spacing[0], grid.spacing[1]);
  const gap = 2 * Math.max(...grid.spacing);
  const noise = new FractalNoise(rng.fork('tumor-shape'), grid, 18);
  const liverHu = p.tissues.liver;
  const placed: Array<TumorInfo & { reach: number; e: Ellipsoid; amp: number }> = [];
  const box = liver.box;
  for (let n = 0; n < count; n++) {
    const kind = rng.next();
    const drawn = radiusRange ? rng.uniform(radiusRange[0], radiusRange[1]) : 0;
    let radius = radiusRange
      ? drawn
      : kind < 0.35
        ? rng.uniform(2, 3) * inPlane
        : kind < 0.75
          ? Math.max(rng.uniform(5, 15), 3 * inPlane)
          : Math.max(rng.uniform(15, 35), 4 * inPlane);
    const amp = radius > 3 * inPlane ? 0.12 : 0;
    const stretch: Vec3 = [rng.uniform(0.85, 1.15), rng.uniform(0.85, 1.15), rng.uniform(0.85, 1.15)];
    const yaw = rng.uniform(0, Math.PI);
    const core = rng.uniform(10, Math.min(35, liverHu - 15));
    const rim = radius >= 15 && rng.chance(0.4);
    const necrotic = radius >= 15 && rng.chance(0.5);
    let done = false;
    for (let attempt = 0; attempt < 1000 && !done; attempt++) {
      if (attempt > 0 && attempt % 80 === 0) radius = Math.max(Math.min(radius, 1.5 * inPlane), radius * 0.8);
      const c: Vec3 = [
        snapToVoxel(grid, 0, rng.uniform(box.min[0], box.max[0])),
        snapToVoxel(grid, 1, rng.uniform(box.min[1], box.max[1])),
        snapToVoxel(grid, 2, rng.uniform(box.min[2], box.max[2])),
      ];
      const reach = radius * Math.max(...stretch) * (1 + amp) + 0.75 * inPlane;
      if (!isLiver(c[0], c[1], c[2])) continue;
      if (
        placed.some(
          (t) =>
            Math.hypot(t.centre[0] - c[0], t.centre[1] - c[1], t.centre[2] - c[2]) < t.reach + reach + gap,
        )
      )
        continue;
      if (!DIRECTIONS.every((d) => isLiver(c[0] + d[0] * reach, c[1] + d[1] * reach, c[2] + d[2] * reach)))
        continue;
      const e = new Ellipsoid(c, [radius * stretch[0], radius * stretch[1], radius * stretch[2]], yaw);
      placed.push({ centre: c, radius, hu: core, rim, necrotic, reach, e, amp });
      done = true;
    }
  }
  const { liver: LIVER, tumor: TUMOR } = LABEL;
  const rimHu = liverHu + rng.uniform(10, 30);
  const necroticHu = rng.uniform(0, 10);
  const painters: Painter[] = placed.map((t) => {
    const rimWidth = Math.min(0.15, 2.5 / t.radius);
    return {
      zMin: t.e.box.min[2] - t.reach,
      zMax: t.e.box.max[2] + t.reach,
      paint(sl: Slice) {
        noise.prepareSlice(sl.k);
        const margin = t.radius * t.amp + 1;
        const box = {
          min: t.e.box.min.map((v) => v - margin) as Vec3,
          max: t.e.box.max.map((v) => v + margin) as Vec3,
        };
        forEachInBox(sl, box, (idx, i, j, x, y) => {
          if (sl.lab[idx] !== LIVER && sl.lab[idx] !== TUMOR) return;
          const f = t.e.field(x, y, sl.z) + t.amp * noise.at(i, j);
          if (f >= 0) return;
          let v = t.hu;
          if (t.rim && f > -rimWidth) v = rimHu;
          else if (t.necrotic && f < -0.55) v = necroticHu;
          else if (!t.rim && f > -0.12) v = t.hu + (liverHu - t.hu) * 0.5 * (1 + f / 0.12);
          sl.hu[idx] = v + 4 * sl.grain[idx];
          sl.lab[idx] = TUMOR;
        });
      },
    };
  });
  return {
    painters,
    tumors: placed.map(({ centre, radius, hu, rim, necrotic }) => ({ centre, radius, hu, rim, necrotic })),
  };
}
