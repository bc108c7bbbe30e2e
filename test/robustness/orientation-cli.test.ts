/**
 * Orientation audit through the shipped command, files in and files out: `raunet segment` (demo models)
 * on the real `example_ct` (RAS) and on copies of it stored LAS, LPS and with permuted axes (written here
 * as NIfTI), and on DICOM series made from it whose files are not in position order: InstanceNumber (and
 * file names) counting against the slice positions, and feet-first (mirrored rows, the slice normal
 * pointing to the feet). Every label map, read back from disk, must agree voxel for voxel with the RAS one
 * at the same world point, and every report must give the same liver and tumors (volumes, HU, world
 * bounding box, world centroids). Six segmentations: 90-130 s on the shared 2-core machine (one takes
 * 3.7 s when it is idle).
 *
 * The variants and the world lookup are built by index arithmetic (test/pipeline/orientation-variants.ts
 * and below), not with lib/volume/orientation.ts.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readNifti, writeNifti } from '../../lib/volume/nifti.ts';
import type { Vec3, Volume } from '../../lib/volume/volume.ts';
import { runCli } from '../cli.ts';
import { dcmSlice } from '../datasets/dcmjs-slices.ts';
import { storeAs, type Variant } from '../pipeline/orientation-variants.ts';

const rel = resolve(import.meta.dirname, '../../../shared/data/ct/example_ct.nii.gz');
const EXAMPLE = existsSync(rel) ? rel : '/work/shared/data/ct/example_ct.nii.gz';
const root = mkdtempSync(join(tmpdir(), 'raunet-orientation-cli-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Outcome {
  labels: Volume;
  report: {
    liver: {
      voxels: number;
      volumeMl: number;
      meanHu: number;
      boundingBox: { worldMin: Vec3; worldMax: Vec3 };
    };
    tumors: { count: number; items: Array<{ voxels: number; centroidWorld: Vec3 }> };
  };
}

/** `raunet segment <input> --out <dir>` with the bundled demo models; the label map and report from disk. */
async function segment(input: string, name: string): Promise<Outcome> {
  const out = join(root, `out-${name}`);
  const r = await runCli(['segment', input, '--out', out, '--quiet']);
  expect(r.code, r.err).toBe(0);
  const files = readdirSync(out);
  const seg = files.find((f) => f.endsWith('_seg.nii.gz'));
  const report = files.find((f) => f.endsWith('_report.json'));
  expect([seg, report].every(Boolean), files.join(' ')).toBe(true);
  return {
    labels: await readNifti(join(out, seg!)),
    report: JSON.parse(readFileSync(join(out, report!), 'utf8')),
  };
}

/**
 * Voxels of `other` whose label differs from `ras` at the same world point. `ras` has a diagonal affine
 * (example_ct's), so a world point maps back to its voxel by one division per axis; a point that is not a
 * voxel centre of `ras` (another grid) counts as a mismatch.
 */
function worldMismatches(ras: Volume, other: Volume): number {
  const A = ras.affine;
  for (const k of [1, 2, 4, 6, 8, 9]) expect(A[k]).toBe(0);
  const B = other.affine;
  const [nx, ny, nz] = other.dims;
  let bad = 0;
  let n = 0;
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++, n++) {
        const u: number[] = [];
        for (let a = 0; a < 3; a++) {
          const world = B[4 * a] * i + B[4 * a + 1] * j + B[4 * a + 2] * k + B[4 * a + 3];
          u.push((world - A[4 * a + 3]) / A[5 * a]);
        }
        const r = u.map(Math.round);
        const onGrid = u.every((x, a) => Math.abs(x - r[a]) < 1e-3 && r[a] >= 0 && r[a] < ras.dims[a]);
        if (!onGrid || other.data[n] !== ras.data[r[0] + ras.dims[0] * (r[1] + ras.dims[1] * r[2])]) bad++;
      }
  return bad;
}

/** The report numbers that must not depend on storage order. */
function expectSameReport(a: Outcome['report'], b: Outcome['report'], what: string) {
  expect([b.liver.voxels, b.liver.volumeMl, b.tumors.count], what).toEqual([
    a.liver.voxels,
    a.liver.volumeMl,
    a.tumors.count,
  ]);
  expect(b.liver.meanHu, what).toBeCloseTo(a.liver.meanHu, 6);
  for (const key of ['worldMin', 'worldMax'] as const)
    for (let c = 0; c < 3; c++)
      expect(b.liver.boundingBox[key][c], `${what} ${key}`).toBeCloseTo(a.liver.boundingBox[key][c], 3);
  const byPosition = (t: Outcome['report']['tumors']) =>
    t.items.map((x) => [x.voxels, ...x.centroidWorld.map((v) => Math.round(v * 100) / 100)]).sort();
  expect(byPosition(b.tumors), what).toEqual(byPosition(a.tumors));
}

/**
 * example_ct as a DICOM series (LPS: x and y negated), int16 HU, one file per slice. `feetFirst`: rows
 * mirrored (ImageOrientationPatient row cosine -x in LPS, so the slice normal points to the feet) and the
 * instance numbers counting down the slice positions; `reverseInstances`: instance numbers counting
 * against the positions. Files are named by instance number, so the file order follows it.
 */
function writeDicomSeries(
  ct: Volume,
  dir: string,
  opts: { feetFirst?: boolean; reverseInstances?: boolean },
) {
  mkdirSync(dir);
  const [nx, ny, nz] = ct.dims;
  const A = ct.affine;
  // DICOM decimal strings hold 16 characters: positions rounded to 1e-4 mm (far below the 1e-3 voxel
  // tolerance of the world lookup).
  const ds = (v: number) => Math.round(v * 1e4) / 1e4;
  const lps = (i: number, j: number, k: number): [number, number, number] => [
    ds(-(A[0] * i + A[3])),
    ds(-(A[5] * j + A[7])),
    ds(A[10] * k + A[11]),
  ];
  for (let k = 0; k < nz; k++) {
    const pixels = new Int16Array(nx * ny);
    for (let r = 0; r < ny; r++)
      for (let c = 0; c < nx; c++) {
        // Standard: columns run to patient left (-x RAS), rows to posterior (-y). Feet-first: columns to +x.
        const i = opts.feetFirst ? c : nx - 1 - c;
        const j = ny - 1 - r;
        pixels[c + nx * r] = ct.data[i + nx * (j + ny * k)];
      }
    const instance = opts.reverseInstances || opts.feetFirst ? nz - k : k + 1;
    const bytes = dcmSlice({
      seriesUid: '2.25.4242',
      sopUid: `2.25.4242.${instance}`,
      instanceNumber: instance,
      ipp: lps(opts.feetFirst ? 0 : nx - 1, ny - 1, k),
      iop: opts.feetFirst ? [-1, 0, 0, 0, 1, 0] : [1, 0, 0, 0, 1, 0],
      pixelSpacing: [A[5], A[0]],
      sliceThickness: A[10],
      rows: ny,
      cols: nx,
      pixels,
    });
    writeFileSync(join(dir, `IM${String(instance).padStart(4, '0')}.dcm`), bytes);
  }
}

let ct: Volume;
let ras: Outcome;
beforeAll(async () => {
  ct = await readNifti(EXAMPLE);
  expect(ct.affine[0] > 0 && ct.affine[5] > 0 && ct.affine[10] > 0).toBe(true); // stored RAS
  ras = await segment(EXAMPLE, 'ras');
  expect(ras.report.liver.voxels).toBeGreaterThan(10_000);
}, 120_000);

describe('raunet segment: NIfTI copies of example_ct stored another way', () => {
  const variants: Array<[string, Variant]> = [
    ['LAS', { axes: [0, 1, 2], signs: [-1, 1, 1] }],
    ['LPS', { axes: [0, 1, 2], signs: [-1, -1, 1] }],
    ['ASR (y, z, x axes; x flipped)', { axes: [1, 2, 0], signs: [1, 1, -1] }],
  ];
  for (const [name, variant] of variants) {
    it(`${name}: the label map on the copy's grid, identical in world space; the same report`, async () => {
      const stored = storeAs(ct, variant);
      const file = join(root, `example_${name.slice(0, 3)}.nii.gz`);
      await writeNifti(file, stored);
      const got = await segment(file, name.slice(0, 3));
      expect(got.labels.dims).toEqual(stored.dims);
      for (let n = 0; n < 16; n++) expect(got.labels.affine[n]).toBeCloseTo(stored.affine[n], 4);
      expect(worldMismatches(ras.labels, got.labels)).toBe(0);
      expectSameReport(ras.report, got.report, name);
    }, 120_000);
  }
});

describe('raunet segment: example_ct as a DICOM series in other slice orders', () => {
  const series: Array<[string, { feetFirst?: boolean; reverseInstances?: boolean }]> = [
    ['reverse instance order', { reverseInstances: true }],
    ['feet-first', { feetFirst: true }],
  ];
  for (const [name, opts] of series) {
    it(`${name}: the same label map as the NIfTI in world space, the same report`, async () => {
      const dir = join(root, `dicom-${name.replace(/\s+/g, '-')}`);
      writeDicomSeries(ct, dir, opts);
      const got = await segment(dir, `dicom-${name.replace(/\s+/g, '-')}`);
      expect(got.labels.dims).toEqual(ct.dims);
      expect(worldMismatches(ras.labels, got.labels)).toBe(0);
      expectSameReport(ras.report, got.report, name);
    }, 120_000);
  }
});
