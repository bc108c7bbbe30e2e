/**
 * Dataset layouts behind one interface: fake cases built here in the real layouts (3D-IRCADb with its
 * naming variants, zipped PATIENT_DICOM and MASKS_DICOM, DICOM written with dcmjs; MSD Task03_Liver;
 * nnU-Net raw), read through `openDataset`, training's `CaseStore`, `evaluate` and `dataset info`.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../lib/cli/main.ts';
import { openDataset } from '../../lib/datasets/index.ts';
import { structureLabel } from '../../lib/datasets/ircadb.ts';
import { InputError } from '../../lib/errors.ts';
import { evaluateFiles } from '../../lib/metrics/evaluate-files.ts';
import { CaseStore } from '../../lib/training/dataset.ts';
import { writeNifti } from '../../lib/volume/nifti.ts';
import { createVolume, scalingAffine, type Volume } from '../../lib/volume/volume.ts';
import { dcmSeries } from './dcmjs-slices.ts';

const DIMS: [number, number, number] = [6, 5, 4];
const [NX, NY, NZ] = DIMS;
const ctValue = (c: number, r: number, k: number) => 40 + c + 10 * r + 100 * k;
const inLiver = (c: number, r: number) => c >= 1 && c <= 4 && r >= 1 && r <= 3;
const MASKS: Record<string, (c: number, r: number, k: number) => boolean> = {
  liver: (c, r) => inLiver(c, r),
  tumourA: (c, r) => c === 2 && r === 2,
  tumourB: (c, r, k) => c === 3 && r === 1 && k === 1,
  vessel: (c, r) => c === 0 && r === 0,
};
const mask = (m: keyof typeof MASKS, uid: string, nz = NZ) =>
  dcmSeries(uid, [NX, NY, nz], (c, r, k) => (MASKS[m](c, r, k) ? 255 : 0));

/** Expected label of voxel (i, j, k): DICOM row r = NY-1-j (volumes from DICOM store rows bottom-up). */
function expectedLabels(tumours: Array<keyof typeof MASKS>): Uint8Array {
  const out = new Uint8Array(NX * NY * NZ);
  for (let k = 0; k < NZ; k++)
    for (let j = 0; j < NY; j++)
      for (let i = 0; i < NX; i++) {
        const r = NY - 1 - j;
        out[i + NX * (j + NY * k)] = tumours.some((t) => MASKS[t](i, r, k))
          ? 2
          : MASKS.liver(i, r, k)
            ? 1
            : 0;
      }
  return out;
}

let root: string;
async function put(path: string, bytes: Uint8Array | string) {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, bytes);
}
async function putSeries(dir: string, files: Array<{ name: string; bytes: Uint8Array }>) {
  for (const f of files) await put(join(dir, f.name), f.bytes);
}
async function nii(path: string, v: Volume) {
  await mkdir(join(path, '..'), { recursive: true });
  await writeNifti(path, v);
}
const zipOf = (top: string, groups: Record<string, Array<{ name: string; bytes: Uint8Array }>>) => {
  const entries: Record<string, Uint8Array> = {};
  for (const [sub, files] of Object.entries(groups)) {
    for (const f of files) entries[[top, sub, f.name].filter(Boolean).join('/')] = f.bytes;
  }
  return zipSync(entries);
};

let ircadb: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'raunet-datasets-'));
  ircadb = join(root, 'ircadb');
  // 1: folders, two numbered tumours and a vessel (ignored)
  const c1 = join(ircadb, '3Dircadb1.1');
  await putSeries(join(c1, 'PATIENT_DICOM'), dcmSeries('2.25.11', DIMS, ctValue));
  await putSeries(join(c1, 'MASKS_DICOM', 'liver'), mask('liver', '2.25.12'));
  await putSeries(join(c1, 'MASKS_DICOM', 'livertumor01'), mask('tumourA', '2.25.13'));
  await putSeries(join(c1, 'MASKS_DICOM', 'livertumor02'), mask('tumourB', '2.25.14'));
  await putSeries(join(c1, 'MASKS_DICOM', 'portalvein'), mask('vessel', '2.25.15'));
  // 2: PATIENT_DICOM.zip, tumours named "livertumors"
  const c2 = join(ircadb, '3Dircadb1.2');
  await put(
    join(c2, 'PATIENT_DICOM.zip'),
    zipOf('PATIENT_DICOM', { '': dcmSeries('2.25.21', DIMS, ctValue) }),
  );
  await putSeries(join(c2, 'MASKS_DICOM', 'liver'), mask('liver', '2.25.22'));
  await putSeries(join(c2, 'MASKS_DICOM', 'livertumors'), mask('tumourB', '2.25.23'));
  // 10: MASKS_DICOM.zip with "liver tumor" (natural order puts it after 2)
  const c10 = join(ircadb, '3Dircadb1.10');
  await putSeries(join(c10, 'PATIENT_DICOM'), dcmSeries('2.25.31', DIMS, ctValue));
  await put(
    join(c10, 'MASKS_DICOM.zip'),
    zipOf('MASKS_DICOM', { liver: mask('liver', '2.25.32'), 'liver tumor': mask('tumourA', '2.25.33') }),
  );
  // 3: a liver mask with one slice fewer than the CT
  const c3 = join(ircadb, '3Dircadb1.3');
  await putSeries(join(c3, 'PATIENT_DICOM'), dcmSeries('2.25.41', DIMS, ctValue));
  await putSeries(join(c3, 'MASKS_DICOM', 'liver'), mask('liver', '2.25.42', NZ - 1));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('3D-IRCADb', () => {
  it('names: liver, numbered and variant tumour folders; others ignored', () => {
    for (const n of [
      'livertumor01',
      'livertumor2',
      'livertumors',
      'liver tumor',
      'liverTumor',
      'liver_tumours',
    ]) {
      expect(structureLabel(n), n).toBe(2);
    }
    expect(structureLabel('liver')).toBe(1);
    for (const n of ['portalvein', 'livercyst', 'liverkyst', 'venoussystem'])
      expect(structureLabel(n), n).toBeUndefined();
  });

  it('reads folder and zip cases, merging tumours (2) over the liver (1) on the CT grid', async () => {
    const ds = await openDataset(ircadb);
    expect(ds.layout).toBe('ircadb');
    expect(ds.cases.map((c) => c.id)).toEqual(['3Dircadb1.1', '3Dircadb1.2', '3Dircadb1.3', '3Dircadb1.10']);
    const want: Record<string, Array<keyof typeof MASKS>> = {
      '3Dircadb1.1': ['tumourA', 'tumourB'],
      '3Dircadb1.2': ['tumourB'],
      '3Dircadb1.10': ['tumourA'],
    };
    for (const [id, tumours] of Object.entries(want)) {
      const c = ds.cases.find((x) => x.id === id);
      if (!c) throw new Error(id);
      const { ct, labels } = await ds.readCase(c);
      expect(ct.dims).toEqual(DIMS);
      expect(ct.data[1 + NX * (NY - 1 - 2)]).toBe(ctValue(1, 2, 0)); // CT values through the same layout
      expect(Array.from(labels.data), id).toEqual(Array.from(expectedLabels(tumours)));
      expect(labels.affine).toEqual(ct.affine);
    }
  });

  it('refuses a mask series off the CT grid, naming its folder', async () => {
    const ds = await openDataset(join(ircadb, '3Dircadb1.3'));
    expect(ds.cases.map((c) => c.id)).toEqual(['3Dircadb1.3']);
    const e = await ds.readCase(ds.cases[0]).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(InputError);
    expect((e as Error).message).toMatch(
      /3Dircadb1\.3[/\\]MASKS_DICOM[/\\]liver: mask grid 6x5x3 does not match the CT/,
    );
  });

  it('dataset info --json: layout, cases, ranges, label counts, problems per case', async () => {
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
      out.push(String(s));
      return true;
    });
    const errSpy = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await main(['node', 'raunet', 'dataset', 'info', ircadb, '--json'])).toBe(0);
    } finally {
      spy.mockRestore();
      errSpy.mockRestore();
    }
    const info = JSON.parse(out.join(''));
    expect(info.layout).toBe('ircadb');
    expect(info.cases).toBe(4);
    expect(info.readable).toBe(3);
    expect(info.dims).toEqual({ min: DIMS, max: DIMS });
    expect(info.spacing).toEqual({ min: [0.7, 0.7, 2], max: [0.7, 0.7, 2] });
    // liver-only voxels: 12 per slice minus tumour voxels; tumours: A 1 per slice, B 1
    const liver = 12 * NZ;
    expect(info.labels.tumorVoxels).toBe(NZ + 1 + 1 + NZ);
    expect(info.labels.liverVoxels).toBe(3 * liver - info.labels.tumorVoxels);
    expect(info.labels.casesWithTumor).toBe(3);
    expect(info.problems).toHaveLength(1);
    expect(info.problems[0].id).toBe('3Dircadb1.3');
    expect(info.problems[0].reason).toMatch(/MASKS_DICOM[/\\]liver: mask grid/);
  });

  it('is a reference side for evaluate: cases paired by id with <id>_seg.nii.gz predictions', async () => {
    const ds = await openDataset(ircadb);
    const pred = join(root, 'pred');
    const read = async (id: string) =>
      ds.readCase(ds.cases.find((c) => c.id === id) as (typeof ds.cases)[number]);
    const one = await read('3Dircadb1.1');
    await nii(join(pred, '3Dircadb1.1_seg.nii.gz'), one.labels);
    const two = await read('3Dircadb1.2');
    const noTumour = { ...two.labels, data: two.labels.data.map((v) => (v === 2 ? 1 : v)) } as Volume;
    await nii(join(pred, '3Dircadb1.2_seg.nii.gz'), noTumour);
    const { evaluation, pairing } = await evaluateFiles(pred, ircadb);
    expect(pairing.pairs.map((p) => p.id)).toEqual(['3Dircadb1.1', '3Dircadb1.2']);
    expect(pairing.unpairedRef).toHaveLength(2);
    const byId = Object.fromEntries(evaluation.cases.map((c) => [c.id, c]));
    expect(byId['3Dircadb1.1'].liver.dice).toBe(1);
    expect(byId['3Dircadb1.1'].tumor.dice).toBe(1);
    expect(byId['3Dircadb1.2'].liver.dice).toBe(1); // the liver includes its tumours
    expect(byId['3Dircadb1.2'].tumor.dice).toBe(0);
  });
});

function tinyCase(seed: number) {
  const data = Int16Array.from({ length: 4 * 3 * 2 }, (_, n) => seed * 10 + n);
  const ct = createVolume(data, [4, 3, 2], [1, 1, 3], scalingAffine([1, 1, 3], [seed, 0, 0]));
  const labels = createVolume(
    Uint8Array.from({ length: 24 }, (_, n) => (n + seed) % 3),
    [4, 3, 2],
    [1, 1, 3],
    ct.affine,
  );
  return { ct, labels };
}

describe('MSD and nnU-Net raw', () => {
  it('Task03_Liver: cases from dataset.json, missing labels reported, read through training CaseStore', async () => {
    const dir = join(root, 'Task03_Liver');
    for (const n of [0, 1]) {
      const { ct, labels } = tinyCase(n);
      await nii(join(dir, 'imagesTr', `liver_${n}.nii.gz`), ct);
      if (n === 0) await nii(join(dir, 'labelsTr', `liver_${n}.nii.gz`), labels);
    }
    await put(join(dir, 'imagesTr', '._liver_0.nii.gz'), 'resource fork'); // as the MSD tarball has
    await put(
      join(dir, 'dataset.json'),
      JSON.stringify({
        name: 'Liver',
        labels: { 0: 'background', 1: 'liver', 2: 'cancer' },
        training: [0, 1].map((n) => ({
          image: `./imagesTr/liver_${n}.nii.gz`,
          label: `./labelsTr/liver_${n}.nii.gz`,
        })),
        test: [],
      }),
    );
    const ds = await openDataset(dir);
    expect(ds.layout).toBe('msd');
    expect(ds.cases.map((c) => c.id)).toEqual(['liver_0']);
    expect(ds.problems).toEqual([{ id: 'liver_1', reason: 'labelsTr/liver_1.nii.gz is missing' }]);
    const store = await CaseStore.open(dir);
    const prepared = await store.get('liver_0');
    expect(Array.from(prepared.labels)).toEqual(Array.from(tinyCase(0).labels.data));
  });

  it('nnU-Net raw: _0000 channel suffix, labels by case name', async () => {
    const dir = join(root, 'Dataset003_Liver');
    const { ct, labels } = tinyCase(3);
    await nii(join(dir, 'imagesTr', 'liver_003_0000.nii.gz'), ct);
    await nii(join(dir, 'labelsTr', 'liver_003.nii.gz'), labels);
    await put(
      join(dir, 'dataset.json'),
      JSON.stringify({
        channel_names: { 0: 'CT' },
        labels: { background: 0, liver: 1, tumor: 2 },
        numTraining: 1,
        file_ending: '.nii.gz',
      }),
    );
    const ds = await openDataset(dir);
    expect(ds.layout).toBe('nnunet');
    expect(ds.cases).toEqual([
      {
        id: 'liver_003',
        volume: join(dir, 'imagesTr', 'liver_003_0000.nii.gz'),
        segmentation: join(dir, 'labelsTr', 'liver_003.nii.gz'),
      },
    ]);
    const read = await ds.readCase(ds.cases[0]);
    expect(Array.from(read.labels.data)).toEqual(Array.from(labels.data));
  });
});
