/**
 * Reading BraTS subject folders: fake subjects written here in the BraTS layout with hand-set voxels,
 * both label conventions (0/1/2/4 and BraTS 2021's 0/1/2/3), and the refusals (missing modality, grids
 * that disagree, label values that are not BraTS).
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bratsLabelConvention, readBratsSubject } from '../../lib/brats/subject.ts';
import { BRATS_MODALITIES, type BratsModality } from '../../lib/brats/types.ts';
import { InputError } from '../../lib/errors.ts';
import { writeNifti } from '../../lib/volume/nifti.ts';
import { createVolume, scalingAffine, type Vec3, type VoxelArray } from '../../lib/volume/volume.ts';

const DIMS: Vec3 = [4, 3, 2];
const SPACING: Vec3 = [1, 1.5, 2];
const N = DIMS[0] * DIMS[1] * DIMS[2];
/** A distinct value per modality and voxel, so a swapped channel or a transposed read shows. */
const voxel = (c: number, v: number) => 100 * (c + 1) + v;

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'brats-subject-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

interface FakeSubject {
  id: string;
  skip?: BratsModality;
  /** Per-file overrides: dims, affine, extension. */
  dims?: Partial<Record<BratsModality | 'seg', Vec3>>;
  shift?: Partial<Record<BratsModality | 'seg', number>>;
  labels?: VoxelArray;
  ext?: '.nii' | '.nii.gz';
}

async function writeSubject(s: FakeSubject): Promise<string> {
  const dir = join(root, s.id);
  await mkdir(dir, { recursive: true });
  const ext = s.ext ?? '.nii.gz';
  const geometry = (key: BratsModality | 'seg') => {
    const dims = s.dims?.[key] ?? DIMS;
    const affine = scalingAffine(SPACING, [10 + (s.shift?.[key] ?? 0), -20, 30]);
    return { dims, affine };
  };
  for (const [c, m] of BRATS_MODALITIES.entries()) {
    if (m === s.skip) continue;
    const { dims, affine } = geometry(m);
    const n = dims[0] * dims[1] * dims[2];
    const data = Int16Array.from({ length: n }, (_, v) => voxel(c, v));
    await writeNifti(join(dir, `${s.id}_${m}${ext}`), createVolume(data, dims, SPACING, affine));
  }
  if (s.labels) {
    const { dims, affine } = geometry('seg');
    await writeNifti(join(dir, `${s.id}_seg${ext}`), createVolume(s.labels, dims, SPACING, affine));
  }
  return dir;
}

/** 0/1/2/ET pattern over the 24 voxels: a few of each. */
const pattern = (et: 3 | 4) => Uint8Array.from({ length: N }, (_, v) => [0, 0, 1, 2, et, 0][v % 6]);

async function refusal(p: Promise<unknown>): Promise<InputError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(InputError);
  return e as InputError;
}

describe('readBratsSubject', () => {
  it('reads the four sequences in channel order, the grid and 0/1/2/4 labels', async () => {
    const dir = await writeSubject({ id: 'Brats18_TCIA_001_1', labels: pattern(4) });
    const s = await readBratsSubject(dir);
    expect(s.id).toBe('Brats18_TCIA_001_1');
    expect(s.dir).toBe(dir);
    expect(s.grid.dims).toEqual(DIMS);
    expect(s.grid.spacing).toEqual(SPACING);
    expect(s.grid.affine.slice(0, 12)).toEqual([1, 0, 0, 10, 0, 1.5, 0, -20, 0, 0, 2, 30]);
    for (const [c, m] of BRATS_MODALITIES.entries()) {
      expect(s.channels[m]).toBeInstanceOf(Float32Array);
      expect([...s.channels[m]]).toEqual(Array.from({ length: N }, (_, v) => voxel(c, v)));
    }
    expect([...s.labels!]).toEqual([...pattern(4)]);
    expect(s.labelConvention).toBe('brats-4');
  });

  it('accepts the BraTS 2021 convention (ET = 3) and says so; .nii files; no labels', async () => {
    const s3 = await readBratsSubject(
      await writeSubject({ id: 'BraTS2021_00000', labels: pattern(3), ext: '.nii' }),
    );
    expect(s3.labelConvention).toBe('brats-3');
    expect(s3.labels!.filter((v) => v === 3).length).toBe(4);
    const unlabelled = await readBratsSubject(await writeSubject({ id: 'test_subject' }));
    expect(unlabelled.labels).toBeUndefined();
    expect(unlabelled.labelConvention).toBeUndefined();
  });

  it('reads the BraTS 2023+ naming (-t1n, -t1c, -t2w, -t2f, -seg) into the same channels', async () => {
    const id = 'BraTS-GLI-00000-000';
    const dir = join(root, id);
    await mkdir(dir, { recursive: true });
    const newer: Record<BratsModality, string> = { t1: 't1n', t1ce: 't1c', t2: 't2w', flair: 't2f' };
    for (const [c, m] of BRATS_MODALITIES.entries()) {
      const data = Int16Array.from({ length: N }, (_, v) => voxel(c, v));
      await writeNifti(join(dir, `${id}-${newer[m]}.nii.gz`), createVolume(data, DIMS, SPACING));
    }
    await writeNifti(join(dir, `${id}-seg.nii.gz`), createVolume(pattern(3), DIMS, SPACING));
    const s = await readBratsSubject(dir);
    expect(s.id).toBe(id);
    for (const [c, m] of BRATS_MODALITIES.entries()) expect(s.channels[m][5]).toBe(voxel(c, 5));
    expect(s.labelConvention).toBe('brats-3');
  });

  it('reads float label files holding integer values', async () => {
    const labels = Float32Array.from(pattern(4));
    const s = await readBratsSubject(await writeSubject({ id: 'float_seg', labels }));
    expect(s.labels).toBeInstanceOf(Uint8Array);
    expect([...s.labels!]).toEqual([...pattern(4)]);
  });

  it('refuses a missing modality, naming it', async () => {
    const dir = await writeSubject({ id: 'no_flair', skip: 'flair', labels: pattern(4) });
    const e = await refusal(readBratsSubject(dir));
    expect(e.message).toContain(dir);
    expect(e.message).toContain('missing modality flair');
  });

  it('refuses modalities on different grids, naming the file', async () => {
    const dims = await refusal(
      readBratsSubject(await writeSubject({ id: 'bad_dims', dims: { t2: [4, 3, 3] } })),
    );
    expect(dims.message).toContain('bad_dims_t2.nii.gz');
    expect(dims.message).toContain('dims 4x3x3');
    const shifted = await writeSubject({ id: 'bad_affine', shift: { t1ce: 0.5 } });
    const affine = await refusal(readBratsSubject(shifted));
    expect(affine.message).toContain('bad_affine_t1ce.nii.gz');
    expect(affine.message).toContain('affine differs');
    const seg = await writeSubject({ id: 'bad_seg', labels: pattern(4), shift: { seg: 1 } });
    expect((await refusal(readBratsSubject(seg))).message).toContain('bad_seg_seg.nii.gz');
    // Below the tolerance (float noise between tools) the grids are one.
    const close = await writeSubject({ id: 'close_affine', shift: { t2: 1e-5 } });
    await expect(readBratsSubject(close)).resolves.toBeDefined();
  });

  it('refuses label values that are not BraTS, naming the file and the values', async () => {
    const five = pattern(4);
    five[7] = 5;
    const e = await refusal(readBratsSubject(await writeSubject({ id: 'label5', labels: five })));
    expect(e.message).toContain('label5_seg.nii.gz');
    expect(e.message).toContain('5 (1 voxels)');
    const both = pattern(4);
    both[0] = 3;
    const mixed = await refusal(readBratsSubject(await writeSubject({ id: 'mixed', labels: both })));
    expect(mixed.message).toContain('both 3 (1 voxels) and 4');
  });

  it('refuses a folder without BraTS files and one that is missing', async () => {
    await mkdir(join(root, 'empty'));
    expect((await refusal(readBratsSubject(join(root, 'empty')))).message).toContain('no BraTS files');
    expect((await refusal(readBratsSubject(join(root, 'absent')))).message).toContain('not found');
  });
});

describe('bratsLabelConvention', () => {
  it('tells 4 from 3, takes maps without ET as brats-4, refuses fractions', () => {
    expect(bratsLabelConvention([0, 1, 2, 4], 'x')).toBe('brats-4');
    expect(bratsLabelConvention([0, 1, 2, 3], 'x')).toBe('brats-3');
    expect(bratsLabelConvention([0, 2, 2], 'x')).toBe('brats-4');
    expect(() => bratsLabelConvention([0, 1.5], 'seg.nii')).toThrow(/seg\.nii: .*1\.5 \(1 voxels\)/);
  });
});
