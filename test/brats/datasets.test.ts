/**
 * Brain-tumour datasets: fake subjects built here in the BraTS training layout (HGG/LGG sub-folders, a
 * broken subject) and in the MSD Task01_BrainTumour layout (4D images, MSD label numbers), read into the
 * same `BratsSubject`; `raunet dataset info` on both; the CT `openDataset` refusing them.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BRATS_MODALITIES, type BratsModality } from '../../lib/brats/types.ts';
import { msdLabelMeaning, msdModality, openBratsDataset } from '../../lib/datasets/brats.ts';
import { openAnyDataset, openDataset } from '../../lib/datasets/index.ts';
import { InputError } from '../../lib/errors.ts';
import { encodeNifti, readNiftiFrames, writeNifti } from '../../lib/volume/nifti.ts';
import { createVolume, scalingAffine, type Vec3, type Volume } from '../../lib/volume/volume.ts';
import { runCli } from '../cli.ts';

const DIMS: Vec3 = [3, 2, 2];
const N = 12;
const SPACING: Vec3 = [1, 1, 1];
const AFFINE = scalingAffine(SPACING, [-1, -0.5, 7]);
/** Distinct intensity per sequence and voxel: 10 * (index of the sequence in BRATS_MODALITIES + 1) + v. */
const intensity = (m: BratsModality, v: number) => 10 * (BRATS_MODALITIES.indexOf(m) + 1) + v;
const vol = (data: Float32Array | Uint8Array | Int16Array): Volume =>
  createVolume(data, DIMS, SPACING, AFFINE);

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'brats-datasets-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function bratsSubject(dir: string, id: string, opts: { skip?: BratsModality; labels?: number[] } = {}) {
  await mkdir(join(dir, id), { recursive: true });
  for (const m of BRATS_MODALITIES) {
    if (m === opts.skip) continue;
    const data = Int16Array.from({ length: N }, (_, v) => intensity(m, v));
    await writeNifti(join(dir, id, `${id}_${m}.nii.gz`), vol(data));
  }
  if (opts.labels) await writeNifti(join(dir, id, `${id}_seg.nii.gz`), vol(Uint8Array.from(opts.labels)));
}

/**
 * A 4D NIfTI (.nii.gz) of the given 3D frames: encoded as one 3D volume with the frames stacked along z,
 * then the header's dim[0] set to 4, dim[3] back to the frame's depth and dim[4] to the frame count
 * (NIfTI-1 offsets: dim int16[8] at byte 40, pixdim float32[8] at byte 76). Voxel order is then frame by frame.
 */
function nifti4d(frames: Float32Array[]): Uint8Array {
  const stacked = new Float32Array(N * frames.length);
  for (const [t, f] of frames.entries()) stacked.set(f, t * N);
  const bytes = encodeNifti(
    createVolume(stacked, [DIMS[0], DIMS[1], DIMS[2] * frames.length], SPACING, AFFINE),
  );
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  view.setInt16(40, 4, true);
  view.setInt16(46, DIMS[2], true);
  view.setInt16(48, frames.length, true);
  view.setFloat32(76 + 4 * 4, 1, true);
  return gzipSync(bytes);
}

const MSD_ORDER = ['FLAIR', 'T1w', 't1gd', 'T2w'];
/** MSD labels over the 12 voxels: 0 background, 1 oedema, 2 non-enhancing, 3 enhancing. */
const MSD_LABELS = [0, 1, 2, 3, 0, 1, 1, 2, 3, 3, 0, 0];
/** The same voxels in BraTS numbers: oedema 2, NCR/NET 1, ET 4. */
const BRATS_LABELS = [0, 2, 1, 4, 0, 2, 2, 1, 4, 4, 0, 0];

async function msdTask(dir: string, order: string[], opts: { labels?: number[]; jsonLabels?: boolean } = {}) {
  await mkdir(join(dir, 'imagesTr'), { recursive: true });
  await mkdir(join(dir, 'labelsTr'), { recursive: true });
  const json = {
    name: 'BRATS',
    modality: Object.fromEntries(order.map((name, i) => [String(i), name])),
    ...(opts.jsonLabels === false
      ? {}
      : { labels: { '0': 'background', '1': 'edema', '2': 'non-enhancing tumor', '3': 'enhancing tumour' } }),
    training: [
      { image: './imagesTr/BRATS_001.nii.gz', label: './labelsTr/BRATS_001.nii.gz' },
      { image: './imagesTr/BRATS_002.nii.gz', label: './labelsTr/BRATS_002.nii.gz' },
    ],
  };
  await writeFile(join(dir, 'dataset.json'), JSON.stringify(json));
  const frames = order.map((name) =>
    Float32Array.from({ length: N }, (_, v) => intensity(msdModality(name)!, v)),
  );
  await writeFile(join(dir, 'imagesTr', 'BRATS_001.nii.gz'), nifti4d(frames));
  await writeNifti(
    join(dir, 'labelsTr', 'BRATS_001.nii.gz'),
    vol(Uint8Array.from(opts.labels ?? MSD_LABELS)),
  );
  // BRATS_002 has an image but no label: a problem, not a failure
  await writeFile(join(dir, 'imagesTr', 'BRATS_002.nii.gz'), nifti4d(frames));
}

const cli = runCli;

describe('BraTS training layout', () => {
  it('finds subjects in HGG/LGG sub-folders, lists a broken subject as a problem, reads one', async () => {
    const dir = join(root, 'MICCAI_BraTS_2018_Data_Training');
    await bratsSubject(join(dir, 'HGG'), 'Brats18_CBICA_AAB_1', { labels: BRATS_LABELS });
    await bratsSubject(join(dir, 'LGG'), 'Brats18_2013_0_1', {
      labels: BRATS_LABELS.map((v) => (v === 4 ? 0 : v)),
    });
    await bratsSubject(join(dir, 'LGG'), 'Brats18_broken', { skip: 't1ce' });
    const ds = await openBratsDataset(dir);
    expect(ds.layout).toBe('brats');
    expect(ds.subjects.map((s) => s.id)).toEqual(['Brats18_2013_0_1', 'Brats18_CBICA_AAB_1']);
    expect(ds.problems).toHaveLength(1);
    expect(ds.problems[0].id).toBe('LGG/Brats18_broken');
    expect(ds.problems[0].reason).toContain('missing modality t1ce');
    const s = await ds.readSubject(ds.subjects[1]);
    expect([...s.labels!]).toEqual(BRATS_LABELS);
    expect(s.channels.t2[5]).toBe(intensity('t2', 5));

    const info = await cli(['dataset', 'info', dir, '--json']);
    expect(info.code).toBe(0);
    const summary = JSON.parse(info.out);
    expect(summary).toMatchObject({ task: 'brats', layout: 'brats', subjects: 2, readable: 2 });
    expect(summary.conventions).toEqual({ 'brats-4': 2, 'brats-3': 0, unlabelled: 0 });
    // hand counts over BRATS_LABELS: 1 x2, 2 x3, 4 x3 (the LGG copy has its 4s as 0)
    expect(summary.labels).toEqual({
      necroticVoxels: 4,
      edemaVoxels: 6,
      enhancingVoxels: 3,
      subjectsWithTumour: 2,
    });
    expect(summary.problems[0].reason).toContain('t1ce');
  });

  it('a subject folder alone is a dataset of one; the CT openDataset refuses BraTS with a clear line', async () => {
    const dir = join(root, 'single');
    await bratsSubject(dir, 'BraTS2021_00001', { labels: BRATS_LABELS.map((v) => (v === 4 ? 3 : v)) });
    const one = await openBratsDataset(join(dir, 'BraTS2021_00001'));
    expect(one.subjects.map((s) => s.id)).toEqual(['BraTS2021_00001']);
    expect((await one.readSubject(one.subjects[0])).labelConvention).toBe('brats-3');
    const err = await openDataset(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toContain('--task brats');
    expect((await openAnyDataset(dir)).task).toBe('brats');
    const text = await cli(['dataset', 'info', dir]);
    expect(text.out).toContain(
      'label convention: 0 with ET = 4 (BraTS <= 2020), 1 with ET = 3 (BraTS 2021+)',
    );
  });
});

describe('MSD Task01_BrainTumour layout', () => {
  it('reads the 4D image in dataset.json modality order and maps MSD labels to BraTS meanings', async () => {
    const dir = join(root, 'Task01_BrainTumour');
    await msdTask(dir, MSD_ORDER);
    const ds = await openBratsDataset(dir);
    expect(ds.layout).toBe('msd-brats');
    expect(ds.subjects.map((s) => s.id)).toEqual(['BRATS_001']);
    expect(ds.problems).toEqual([{ id: 'BRATS_002', reason: 'labelsTr/BRATS_002.nii.gz is missing' }]);
    const s = await ds.readSubject(ds.subjects[0]);
    for (const m of BRATS_MODALITIES) {
      expect([...s.channels[m]]).toEqual(Array.from({ length: N }, (_, v) => intensity(m, v)));
    }
    expect(s.grid.dims).toEqual(DIMS);
    expect(s.grid.affine).toEqual(AFFINE);
    // MSD 1 oedema -> 2, 2 non-enhancing -> 1, 3 enhancing -> 4
    expect([...s.labels!]).toEqual(BRATS_LABELS);
    expect(s.labelConvention).toBe('brats-4');
    const info = JSON.parse((await cli(['dataset', 'info', dir, '--json'])).out);
    expect(info).toMatchObject({ task: 'brats', layout: 'msd-brats', subjects: 1 });
    expect(info.labels).toEqual({
      necroticVoxels: 2,
      edemaVoxels: 3,
      enhancingVoxels: 3,
      subjectsWithTumour: 1,
    });
  });

  it('follows another modality order, defaults the label names, refuses unnamed label values', async () => {
    const dir = join(root, 'Task01_reordered');
    await msdTask(dir, ['T2w', 't1gd', 'FLAIR', 'T1w'], { jsonLabels: false });
    const ds = await openBratsDataset(dir);
    const s = await ds.readSubject(ds.subjects[0]);
    expect(s.channels.flair[3]).toBe(intensity('flair', 3));
    expect(s.channels.t1ce[0]).toBe(intensity('t1ce', 0));
    expect([...s.labels!]).toEqual(BRATS_LABELS);

    const bad = join(root, 'Task01_bad_label');
    await msdTask(bad, MSD_ORDER, { labels: MSD_LABELS.map((v, i) => (i === 4 ? 5 : v)) });
    const bds = await openBratsDataset(bad);
    const err = await bds.readSubject(bds.subjects[0]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(/labelsTr\/BRATS_001\.nii\.gz: label value 5 at voxel 4/);
  });

  it('reads 4D frames; names modality and label spellings', async () => {
    const frames = await readNiftiFrames(join(root, 'Task01_BrainTumour', 'imagesTr', 'BRATS_001.nii.gz'));
    expect(frames).toHaveLength(4);
    expect(frames[2].data[7]).toBe(intensity('t1ce', 7));
    expect(msdModality('T1Gd')).toBe('t1ce');
    expect(msdModality('t2-flair')).toBe('flair');
    expect(msdModality('DWI')).toBeUndefined();
    expect(msdLabelMeaning('non-enhancing tumor')).toBe(1);
    expect(msdLabelMeaning('enhancing tumour')).toBe(4);
    expect(msdLabelMeaning('peritumoral oedema')).toBe(2);
  });
});
