/**
 * Bone: the lumbar/thoracic spine (vertebral bodies with a dense cortical shell and cancellous core,
 * discs between them, the spinal canal and the posterior arch) and the ribs, which run obliquely around
 * the body wall, descending towards the front, so an axial slice cuts them as arcs at the periphery.
 */
import type { Patient } from './anatomy.ts';
import type { Rng } from './random.ts';
import { forEachInBox, ORGAN, type Painter, type Slice } from './slice.ts';

const CORTEX = 750;

export function spinePainter(rng: Rng, p: Patient): Painter {
  const [cx, cy] = p.spine;
  const rx = rng.uniform(19, 24);
  const ry = rx * rng.uniform(0.78, 0.88);
  const period = rng.uniform(30, 36);
  const disc = rng.uniform(6, 9);
  const phase = rng.uniform(0, period);
  const cancellous = rng.uniform(160, 260);
  const { bone: BONE, other: OTHER } = ORGAN;
  const canalY = cy - ry - 10;
  // The spinous process stops short of the skin.
  const spinousEnd = Math.max(-40, -p.body.bPost + p.body.fatPost * 0.6 - canalY);
  const canalR = rng.uniform(8, 10);
  return {
    zMin: -Infinity,
    zMax: Infinity,
    paint(s: Slice) {
      const t = (((s.z - phase) % period) + period) % period;
      const inDisc = t < disc;
      // Position within the vertebra (0 bottom, 1 top): processes leave the arch at mid-height.
      const level = (t - disc) / (period - disc);
      const processes = level > 0.3 && level < 0.75;
      // Vertebral body (or disc): cortical shell about 2 mm thick.
      forEachInBox(s, { min: [cx - rx, cy - ry, s.z], max: [cx + rx, cy + ry, s.z] }, (idx, _i, _j, x, y) => {
        const r = Math.sqrt(((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2);
        if (r >= 1) return;
        if (inDisc) s.hu[idx] = 85;
        else s.hu[idx] = r > 1 - 2.2 / ry ? CORTEX : cancellous;
        s.lab[idx] = BONE;
      });
      const archR = canalR + 5;
      forEachInBox(
        s,
        { min: [cx - 42, canalY - 45, s.z], max: [cx + 42, canalY + archR, s.z] },
        (idx, _i, _j, x, y) => {
          const dx = x - cx;
          const dy = y - canalY;
          const rr = Math.sqrt(dx * dx + dy * dy);
          if (rr < canalR) {
            s.hu[idx] = 25; // cord and CSF
            s.lab[idx] = OTHER;
            return;
          }
          if (inDisc) return;
          const arch = rr < archR && dy < 3;
          const spinous = processes && Math.abs(dx) < 4 && dy < 0 && dy > spinousEnd;
          const transverse =
            processes && Math.abs(dy + 2) < 4.5 && Math.abs(dx) < 32 && Math.abs(dx) > canalR;
          if (arch || spinous || transverse) {
            s.hu[idx] = arch ? CORTEX : 420;
            s.lab[idx] = BONE;
          }
        },
      );
    },
  };
}

/**
 * Ribs: bands of bone along an ellipse just outside the cavity. Rib n crosses height
 * zRef + n * pitch - drop * g(angle), with g = 0 at the back and 1 at the front; they stop at the costal
 * margin (rising towards the front) and leave a gap at the front midline and next to the spine.
 */
export function ribsPainter(rng: Rng, p: Patient): Painter {
  const { body } = p;
  const a = body.cavA + body.muscle * 0.45;
  const bAnt = body.cavBAnt + body.muscle * 0.45;
  const bPost = body.cavBPost + body.muscle * 0.45;
  const pitch = rng.uniform(26, 34);
  const half = rng.uniform(5, 6.5);
  const radial = rng.uniform(3.5, 4.5);
  const drop = rng.uniform(120, 190);
  const zRef = rng.uniform(0, pitch);
  const costal = p.liverCentre[2] - rng.uniform(40, 70) * p.liverScale;
  const rise = rng.uniform(50, 90);
  const marrow = rng.uniform(200, 300);
  const BONE = ORGAN.bone;
  const mean = (a + bAnt) / 2;
  // Per rib (64 per side, indexed by rib number): height scale, a wave along its course, radial shift.
  const RIBS = 64;
  const scale = Float64Array.from({ length: 2 * RIBS }, () => rng.uniform(0.7, 1.2));
  const wave = Float64Array.from({ length: 2 * RIBS }, () => rng.uniform(2, 6));
  const wavePhase = Float64Array.from({ length: 2 * RIBS }, () => rng.uniform(0, 2 * Math.PI));
  const shift = Float64Array.from({ length: 2 * RIBS }, () => rng.uniform(-0.3, 0.3));
  return {
    zMin: costal,
    zMax: Infinity,
    paint(s: Slice) {
      forEachInBox(
        s,
        { min: [-a - radial, -bPost - radial, s.z], max: [a + radial, bAnt + radial, s.z] },
        (idx, _i, _j, x, y) => {
          const b = y > 0 ? bAnt : bPost;
          const u = x / a;
          const v = y / b;
          const rho = Math.sqrt(u * u + v * v);
          const dr0 = ((rho - 1) * mean) / radial;
          if (dr0 <= -1.3 || dr0 >= 1.3) return;
          const sinPhi = v / rho; // +1 at the front, -1 at the back
          if (sinPhi > 0.93 || sinPhi < -0.97) return;
          const g = (sinPhi + 1) / 2;
          if (s.z < costal + rise * g) return;
          const t = (s.z - zRef + drop * g) / pitch;
          const n = Math.round(t);
          const r = (((n % RIBS) + RIBS) % RIBS) + (x > 0 ? RIBS : 0);
          const dr = dr0 - shift[r];
          if (dr <= -1 || dr >= 1) return;
          const dz = ((t - n) * pitch + wave[r] * Math.sin(6 * g + wavePhase[r])) / (half * scale[r]);
          if (dz <= -1 || dz >= 1) return;
          const edge = Math.max(Math.abs(dr), Math.abs(dz));
          s.hu[idx] = edge > 0.55 ? CORTEX : marrow;
          s.lab[idx] = BONE;
        },
      );
    },
  };
}
