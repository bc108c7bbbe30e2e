import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../lib/errors.ts';
import type { PreparedCase } from '../../lib/training/case.ts';
import { CaseStore, discoverCases } from '../../lib/training/dataset.ts';
import { writeNifti } from '../../lib/volume/nifti.ts';
import { createVolume, scalingAffine } from '../../lib/volume/volume.ts';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'raunet-dataset-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function folder(name: string, files: string[]): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  for (const f of files) {
    await mkdir(join(dir, f, '..'), { recursive: true });
    await writeFile(join(dir, f), '');
  }
  return dir;
}

describe('discoverCases', () => {
  it('pairs volumes and segmentations in natural order, also in sub-folders', async () => {
    const dir = await folder('lits', [
      'volume-10.nii.gz',
      'segmentation-10.nii.gz',
      'volume-2.nii',
      'segmentation-2.nii.gz',
      'README.txt',
      'Training Batch 2/volume-3.nii',
      'Training Batch 2/segmentation-3.nii',
    ]);
    const cases = await discoverCases(dir);
    expect(cases.map((c) => c.id)).toEqual(['2', '10', '3']);
    expect(cases[0].volume).toBe(join(dir, 'volume-2.nii'));
    expect(cases[0].segmentation).toBe(join(dir, 'segmentation-2.nii.gz'));
    expect(cases[2].segmentation).toBe(join(dir, 'Training Batch 2', 'segmentation-3.nii'));
  });

  it('qualifies ids that repeat across folders', async () => {
    const dir = await folder('dup', [
      'a/volume-1.nii',
      'a/segmentation-1.nii',
      'b/volume-1.nii',
      'b/segmentation-1.nii',
    ]);
    expect((await discoverCases(dir)).map((c) => c.id)).toEqual(['a/1', 'b/1']);
  });

  it('names unpaired files', async () => {
    const dir = await folder('unpaired', [
      'volume-1.nii',
      'segmentation-1.nii',
      'volume-7.nii.gz',
      'segmentation-9.nii',
    ]);
    const err = await discoverCases(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect(String((err as Error).message)).toMatch(/volume-7\.nii\.gz \(no segmentation-N/);
    expect(String((err as Error).message)).toMatch(/segmentation-9\.nii \(no volume-N/);
  });

  it('refuses two files for one case, an empty folder and a missing folder', async () => {
    const twice = await folder('twice', ['volume-1.nii', 'volume-1.nii.gz', 'segmentation-1.nii']);
    await expect(discoverCases(twice)).rejects.toThrow(/two files for the same case: .*volume-1\.nii/);
    const empty = await folder('empty', ['notes.txt']);
    await expect(discoverCases(empty)).rejects.toThrow(/no volume-N/);
    await expect(discoverCases(join(root, 'nope'))).rejects.toThrow(/not found/);
  });
});

describe('CaseStore', () => {
  it('loads a case lazily, checks the grid and caches the prepared case', async () => {
    const dir = join(root, 'nifti');
    await mkdir(dir, { recursive: true });
    const dims: [number, number, number] = [4, 3, 2];
    const ct = createVolume(
      Int16Array.from({ length: 24 }, (_, i) => i * 20 - 100),
      dims,
      [1, 1, 2],
    );
    const seg = createVolume(
      Uint8Array.from({ length: 24 }, (_, i) => (i >= 20 ? 2 : i >= 12 ? 1 : 0)),
      dims,
      [1, 1, 2],
    );
    await writeNifti(join(dir, 'volume-1.nii.gz'), ct);
    await writeNifti(join(dir, 'segmentation-1.nii.gz'), seg);
    const shifted = createVolume(seg.data, dims, [1, 1, 2], scalingAffine([1, 1, 2], [3, 0, 0]));
    await writeNifti(join(dir, 'volume-2.nii'), ct);
    await writeNifti(join(dir, 'segmentation-2.nii'), shifted);
    const store = await CaseStore.open(dir, { cacheSize: 1 });
    expect(store.ids).toEqual(['1', '2']);
    const c = await store.get('1');
    expect(c.dims).toEqual(dims);
    expect(c.labels[21]).toBe(2);
    expect(c.image[0]).toBe(0); // -100 HU: bottom of the window
    expect(c.image[15]).toBe(1); // 200 HU: top of the window
    expect(c.liverBox).toEqual({ start: [0, 0, 1], end: [4, 3, 2] });
    expect(await store.get('1')).toBe(c);
    await expect(store.get('2')).rejects.toThrow(
      /segmentation-2\.nii: grid .* does not match the CT .*volume-2\.nii/,
    );
  });

  it('keeps at most cacheSize prepared cases', async () => {
    let loads = 0;
    const fake = (id: string) => ({ id, volume: `v${id}`, segmentation: `s${id}` });
    const store = new CaseStore([fake('a'), fake('b'), fake('c')], {
      cacheSize: 2,
      load: async (f) => {
        loads++;
        return { id: f.id } as PreparedCase;
      },
    });
    await store.get('a');
    await store.get('b');
    await store.get('a'); // hit; b is now the least recently used
    await store.get('c'); // evicts b
    await store.get('a'); // hit
    expect(loads).toBe(3);
    await store.get('b');
    expect(loads).toBe(4);
    expect(() => store.get('zzz')).toThrow(/unknown case/);
  });
});
