/**
 * The organs around the liver whose attenuation overlaps it — spleen, stomach, pancreas, kidneys,
 * gallbladder, heart, aorta and inferior vena cava — so that intensity alone cannot find the liver.
 */
import { diaphragmZ, type Patient } from './anatomy.ts';
import { Blob, blobPainter, type Field } from './blob.ts';
import type { Grid } from './grid.ts';
import type { Rng } from './random.ts';
import { type Box, Ellipsoid } from './shapes.ts';
import { forEachInBox, ORGAN, type Painter, type Slice } from './slice.ts';

const DEG = Math.PI / 180;

export interface Organs {
  /** Painted before the liver (the liver covers them where they meet). */
  before: Painter[];
  /** Painted after the liver (they indent it). */
  after: Painter[];
  /** True where one of the `after` organs covers the point (used to keep tumors in visible liver). */
  covers(x: number, y: number, z: number): boolean;
  /**
   * Regions the liver keeps clear of: the `after` organs' base shapes with a margin (field units) larger
   * than their surface deformation, so painting them never cuts the liver.
   */
  liverExclusions: Array<{ shape: Ellipsoid; margin: number }>;
}

export function buildOrgans(rng: Rng, grid: Grid, p: Patient): Organs {
  const { body, tissues: t, diaphragm } = p;
  const [lx, ly, lz] = p.liverCentre;
  const s = p.liverScale;
  const spy = p.spine[1];
  // Imported bindings copied to locals: the per-voxel code below then reads plain variables.
  const { heart: CODE_heart, stomach: CODE_stomach, spleen: CODE_spleen, pancreas: CODE_pancreas } = ORGAN;
  const {
    gallbladder: CODE_gallbladder,
    other: CODE_other,
    kidney: CODE_kidney,
    vessel: CODE_vessel,
  } = ORGAN;
  const domeZ = diaphragmZ;
  const belowDome: Field = (x, y, z) => (z - (domeZ(diaphragm, x, y) - 5)) / 60;
  const aboveDome: Field = (x, y, z) => (domeZ(diaphragm, x, y) + 3 - z) / 60;
  const u = (lo: number, hi: number) => rng.uniform(lo, hi);

  const spleen = new Blob(
    rng.fork('spleen'),
    grid,
    [
      new Ellipsoid(
        [-(body.cavA - u(30, 40)), -body.cavBPost * u(0.35, 0.5), lz + u(-5, 25)],
        [u(24, 32), u(48, 62), u(42, 55)],
        u(-45, -25) * DEG,
        u(-10, 10) * DEG,
      ),
    ],
    { deform: 0.1, featureMm: 50, clip: belowDome },
  );
  const stomachWall = u(3, 5);
  const stomachR: [number, number, number] = [u(38, 50), u(32, 44), u(45, 60)];
  const stomachC: [number, number, number] = [
    -body.cavA * u(0.35, 0.5),
    body.cavBAnt * u(0.15, 0.35),
    lz + u(-10, 15),
  ];
  const stomach = new Blob(
    rng.fork('stomach'),
    grid,
    [
      new Ellipsoid(stomachC, stomachR, u(20, 45) * DEG),
      new Ellipsoid(
        [stomachC[0] + 35, stomachC[1] + 10, stomachC[2] - 40],
        [u(18, 24), u(15, 20), u(25, 35)],
        u(-30, 30) * DEG,
      ),
    ],
    { deform: 0.08, clip: belowDome },
  );
  const airLevel = stomachC[1] + stomachR[1] * u(-0.1, 0.5);
  const stomachContent = rng.chance(0.5) ? t.fluid : u(20, 40);
  const pz = lz - u(25, 40) * s;
  const pancreas = new Blob(
    rng.fork('pancreas'),
    grid,
    [
      new Ellipsoid([-(body.cavA - 65), spy + 35, pz + 8], [30, 11, 12], u(-40, -20) * DEG),
      new Ellipsoid([-15, spy + 48, pz], [35, 12, 13], u(-10, 10) * DEG),
      new Ellipsoid([22, spy + 48, pz - 12], [18, 16, 22], 0),
    ],
    { deform: 0.15, featureMm: 30, blend: 0.35 },
  );
  const heart = new Blob(
    rng.fork('heart'),
    grid,
    [
      new Ellipsoid(
        [-u(15, 35), body.cavBAnt * u(0.05, 0.3), diaphragm.left[2] + u(35, 55)],
        [u(55, 70), u(45, 55), u(50, 60)],
        u(20, 40) * DEG,
      ),
    ],
    { deform: 0.04, clip: aboveDome },
  );

  const kidneyParts = [-1, 1].map((side) => {
    const kz = lz - u(40, 60) * s - (side > 0 ? u(10, 25) : 0);
    return new Ellipsoid(
      [side * u(56, 68), spy + u(0, 10), kz],
      [u(24, 30), u(28, 34), u(48, 58)],
      side * u(15, 30) * DEG,
      u(-8, 8) * DEG,
    );
  });
  const kidneys = kidneyParts.map((e, n) => new Blob(rng.fork(`kidney${n}`), grid, [e], { deform: 0.05 }));
  const sinuses = kidneyParts.map(
    (e) =>
      new Ellipsoid(
        [e.centre[0] - Math.sign(e.centre[0]) * e.radii[0] * 0.45, e.centre[1] + 4, e.centre[2]],
        [e.radii[0] * 0.45, e.radii[1] * 0.35, e.radii[2] * 0.45],
      ),
  );
  const cortex = t.kidney + u(6, 12);
  const gallbladder = rng.chance(0.8)
    ? new Blob(
        rng.fork('gallbladder'),
        grid,
        [
          new Ellipsoid(
            [lx + u(5, 25) * s, ly + u(25, 40) * s, lz - u(35, 50) * s],
            [u(14, 20), u(16, 22), u(28, 38)],
            u(-20, 20) * DEG,
            u(10, 30) * DEG,
          ),
        ],
        { deform: 0.05 },
      )
    : null;
  const bile = u(0, 18);
  const vessels = [
    { c: [u(18, 26), spy + u(28, 36)], r: [u(11, 14), u(8, 11)], hu: t.blood + u(0, 8) }, // IVC
    { c: [-u(12, 20), spy + u(24, 30)], r: [u(10, 13), 0], hu: t.blood }, // aorta
  ].map((v) => ({ ...v, r: [v.r[0], v.r[1] || v.r[0]] }));
  const calcified = rng.chance(0.3) ? u(0, 2 * Math.PI) : null;

  const before: Painter[] = [
    blobPainter(heart, (sl, idx, f) => {
      sl.hu[idx] = f > -0.07 ? t.fat + 10 * sl.grain[idx] : t.blood - 5 + 4 * sl.grain[idx];
      sl.lab[idx] = CODE_heart;
    }),
    blobPainter(stomach, (sl, idx, f, _x, y) => {
      const wall = f > -stomachWall / 45;
      sl.hu[idx] = wall
        ? t.muscle - 5 + 4 * sl.grain[idx]
        : y > airLevel
          ? -960
          : stomachContent + 6 * sl.grain[idx];
      sl.lab[idx] = CODE_stomach;
    }),
    blobPainter(spleen, (sl, idx, _f) => {
      sl.hu[idx] = t.spleen + 3 * sl.grain[idx];
      sl.lab[idx] = CODE_spleen;
    }),
    blobPainter(pancreas, (sl, idx, _f) => {
      sl.hu[idx] = 40 + 12 * sl.grain[idx];
      sl.lab[idx] = CODE_pancreas;
    }),
  ];
  const after: Painter[] = [];
  if (gallbladder) {
    after.push(
      blobPainter(gallbladder, (sl, idx, f) => {
        sl.hu[idx] = f > -0.08 ? t.bowelWall : bile + 2 * sl.grain[idx];
        sl.lab[idx] = CODE_gallbladder;
      }),
    );
  }
  kidneys.forEach((kidney, n) => {
    const sinus = sinuses[n];
    after.push(
      blobPainter(kidney, (sl, idx, f, x, y) => {
        if (sinus.field(x, y, sl.z) < 0) {
          sl.hu[idx] = t.fat + 15 * sl.grain[idx];
          sl.lab[idx] = CODE_other;
        } else {
          sl.hu[idx] = (f > -0.2 ? cortex : t.kidney) + 3 * sl.grain[idx];
          sl.lab[idx] = CODE_kidney;
        }
      }),
    );
  });
  for (const [n, v] of vessels.entries()) {
    const cyl = new Ellipsoid([v.c[0], v.c[1], 0], [v.r[0], v.r[1], 1e6]);
    const isAorta = n === 1;
    after.push({
      zMin: -Infinity,
      zMax: isAorta ? diaphragm.left[2] - 10 : diaphragm.right[2] + 10,
      paint(sl: Slice) {
        const box: Box = {
          min: [cyl.box.min[0], cyl.box.min[1], sl.z],
          max: [cyl.box.max[0], cyl.box.max[1], sl.z],
        };
        forEachInBox(sl, box, (idx, _i, _j, x, y) => {
          const f = cyl.field(x, y, 0);
          if (f >= 0) return;
          let hu = v.hu;
          if (isAorta && calcified !== null && f > -0.25) {
            const ang = Math.atan2(y - v.c[1], x - v.c[0]);
            if (Math.abs(Math.atan2(Math.sin(ang - calcified), Math.cos(ang - calcified))) < 0.5) hu = 500;
          }
          sl.hu[idx] = hu;
          sl.lab[idx] = CODE_vessel;
        });
      },
    });
  }
  const vesselFields = vessels.map((v) => new Ellipsoid([v.c[0], v.c[1], 0], [v.r[0], v.r[1], 1e6]));
  const vesselTop = [diaphragm.right[2] + 10, diaphragm.left[2] - 10];
  const blobsAfter = [...(gallbladder ? [gallbladder] : []), ...kidneys];
  const liverExclusions = [
    ...kidneyParts.map((shape) => ({ shape, margin: 0.1 })),
    ...(gallbladder ? gallbladder.parts.map((shape) => ({ shape, margin: 0.08 })) : []),
    ...vesselFields.map((shape, n) => ({ shape, margin: n === 0 ? 0 : 5 / shape.radii[0] })),
  ];
  return {
    before,
    after,
    liverExclusions,
    covers(x, y, z) {
      if (blobsAfter.some((b) => b.fieldAt(x, y, z) < 0)) return true;
      return vesselFields.some((e, n) => z <= vesselTop[n] && e.field(x, y, 0) < 0);
    },
  };
}
