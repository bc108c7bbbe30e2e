/**
 * Numerics benchmarks: EDT + LiTS metrics on a 512x512x300 pair, connected components on a 512x512x300
 * mask, resampling a 512x512x100 CT in-plane to 256x256, HU windowing.
 * Targets: metrics for a full-size pair in a few seconds; resampling well under a second.
 */
import { squaredDistanceTransform } from '../lib/metrics/edt.ts';
import { evaluateCase } from '../lib/metrics/lits.ts';
import { keepLargestComponent, labelComponents } from '../lib/postprocess/components.ts';
import { resample3D } from '../lib/preprocess/resample.ts';
import { windowAndNormalize } from '../lib/preprocess/window.ts';
import { createVolume, type Vec3 } from '../lib/volume/volume.ts';
import type { BenchRow } from './index.ts';

export const name = 'numerics (EDT, metrics, components, resampling)';

let lastCpu = 0;

/** Wall time (s) of `f`, and its CPU time (s) in `cpu` (less sensitive to a busy machine). */
function time<T>(f: () => T): [T, number] {
  const c = process.cpuUsage();
  const t = performance.now();
  const r = f();
  const u = process.cpuUsage(c);
  lastCpu = (u.user + u.system) / 1e6;
  return [r, (performance.now() - t) / 1000];
}
const cpuNote = (extra?: string) => `cpu ${lastCpu.toFixed(2)} s${extra ? `; ${extra}` : ''}`;

/** Label map with an ellipsoid "liver" (label 1) holding a few spherical "tumors" (label 2). */
function labelMap(dims: Vec3, shift: number): Uint8Array {
  const [nx, ny, nz] = dims;
  const m = new Uint8Array(nx * ny * nz);
  const tumors: Array<[number, number, number, number]> = [
    [230 + shift, 220, 150, 20],
    [300, 260 + shift, 120, 12],
    [260, 200, 190 + shift, 6],
  ];
  for (let z = 0; z < nz; z++)
    for (let y = 0; y < ny; y++)
      for (let x = 0; x < nx; x++) {
        const ex = (x - 260 - shift) / 140;
        const ey = (y - 230) / 100;
        const ez = (z - 150) / 90;
        if (ex * ex + ey * ey + ez * ez >= 1) continue;
        let v = 1;
        for (const [cx, cy, cz, r] of tumors) {
          if ((x - cx) ** 2 + (y - cy) ** 2 + ((z - cz) * 2) ** 2 < r * r) v = 2;
        }
        m[x + nx * (y + ny * z)] = v;
      }
  return m;
}

export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const dims: Vec3 = [512, 512, 300];
  const spacing: Vec3 = [0.75, 0.75, 1.5];
  const ref = createVolume(labelMap(dims, 0), dims, spacing);
  const pred = createVolume(labelMap(dims, 4), dims, spacing);

  const [res, tEval] = time(() => evaluateCase(pred, ref, 'bench'));
  rows.push({
    what: 'evaluateCase 512x512x300 (liver + tumor, all metrics)',
    value: tEval,
    unit: 's',
    note: cpuNote(`liver dice ${res.liver.dice.toFixed(3)}, assd ${res.liver.assd?.toFixed(2)} mm`),
  });

  const feat = new Uint8Array(ref.data.length);
  for (let i = 0; i < feat.length; i += 997) feat[i] = 1;
  const [, tEdt] = time(() => squaredDistanceTransform(feat, dims, spacing));
  rows.push({ what: 'squared EDT, full 512x512x300 grid', value: tEdt, unit: 's', note: cpuNote() });

  const liver = new Uint8Array(ref.data.length);
  for (let i = 0; i < liver.length; i++) liver[i] = ref.data[i] > 0 || i % 1009 === 0 ? 1 : 0;
  const [cc, tCc] = time(() => labelComponents(liver, dims, 26));
  rows.push({
    what: 'labelComponents 512x512x300, 26-connectivity',
    value: tCc,
    unit: 's',
    note: cpuNote(`${cc.count} components`),
  });
  const [, tCc6] = time(() => labelComponents(liver, dims, 6));
  rows.push({ what: 'labelComponents 512x512x300, 6-connectivity', value: tCc6, unit: 's', note: cpuNote() });
  const [, tKeep] = time(() => keepLargestComponent(liver, dims, 26));
  rows.push({ what: 'keepLargestComponent 512x512x300', value: tKeep, unit: 's', note: cpuNote() });

  const ctDims: Vec3 = [512, 512, 100];
  const ct = new Int16Array(ctDims[0] * ctDims[1] * ctDims[2]);
  for (let i = 0; i < ct.length; i++) ct[i] = ((i * 2654435761) % 2000) - 1000;
  const [, tLin] = time(() => resample3D(ct, ctDims, [256, 256, 100], 'linear'));
  rows.push({
    what: 'resample3D linear 512x512x100 -> 256x256x100',
    value: tLin,
    unit: 's',
    note: cpuNote(),
  });
  const [, tUp] = time(() => resample3D(ct, ctDims, [512, 512, 200], 'linear'));
  rows.push({ what: 'resample3D linear 512x512x100 -> 512x512x200', value: tUp, unit: 's', note: cpuNote() });
  const [, tNn] = time(() => resample3D(ref.data, dims, [256, 256, 300], 'nearest'));
  rows.push({
    what: 'resample3D nearest labels 512x512x300 -> 256x256x300',
    value: tNn,
    unit: 's',
    note: cpuNote(),
  });
  const [, tWin] = time(() => windowAndNormalize(createVolume(ct, ctDims)));
  rows.push({ what: 'windowAndNormalize 512x512x100', value: tWin, unit: 's', note: cpuNote() });
  return rows;
}
