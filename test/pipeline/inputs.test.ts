/** Folder inputs of `raunet segment`: label maps skipped, DICOM series found beside NIfTI files and nested. */

import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expandInputs, isLabelMapName } from '../../lib/pipeline/inputs.ts';

let dir: string;
const rel = resolve(import.meta.dirname, '../../../shared/data/dicom/ct-3slice');
const SERIES = existsSync(rel) ? rel : '/work/shared/data/dicom/ct-3slice';

/** A copy of the real 3-slice DICOM series in `dest`. */
async function series(dest: string): Promise<void> {
  await mkdir(dest, { recursive: true });
  for (const f of await readdir(SERIES)) await copyFile(join(SERIES, f), join(dest, f));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'raunet-inputs-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('label maps by name', () => {
  it('recognises LiTS, phantom and segment/demo outputs, not CT names', () => {
    for (const n of [
      'segmentation-3.nii.gz',
      'case_seg.nii.gz',
      'a-labels.nii',
      'phantom-0_truth.nii.gz',
      'mask_1.nii',
    ])
      expect([n, isLabelMapName(n)]).toEqual([n, true]);
    for (const n of ['volume-3.nii.gz', 'liver.nii.gz', 'segment_me.nii', 'example_ct.nii.gz'])
      expect([n, isLabelMapName(n)]).toEqual([n, false]);
  });
});

describe('expandInputs', () => {
  it('a LiTS/phantom folder: the volumes are cases, the segmentation-N label maps are skipped', async () => {
    const lits = join(dir, 'lits');
    await mkdir(lits);
    for (const f of ['volume-0.nii.gz', 'segmentation-0.nii.gz', 'volume-1.nii', 'segmentation-1.nii'])
      await writeFile(join(lits, f), 'x');
    const { cases, problems, skipped } = await expandInputs([lits]);
    expect(cases.map((c) => c.name)).toEqual(['volume-0', 'volume-1']);
    expect(skipped.map((s) => s.path)).toEqual([
      join(lits, 'segmentation-0.nii.gz'),
      join(lits, 'segmentation-1.nii'),
    ]);
    expect(problems).toEqual([]);
    const only = join(dir, 'labels-only');
    await mkdir(only);
    await writeFile(join(only, 'segmentation-0.nii.gz'), 'x');
    expect((await expandInputs([only])).problems).toEqual([
      { path: only, reason: 'holds only label maps (no CT to segment)' },
    ]);
  });

  it('a stray NIfTI inside a DICOM series folder does not hide the series', async () => {
    const s = join(dir, 'series-a');
    await series(s);
    await writeFile(join(s, 'stray.nii.gz'), 'x');
    const { cases } = await expandInputs([s]);
    expect(cases.map((c) => [c.name, c.kind, c.path])).toEqual([
      ['stray', 'nifti', join(s, 'stray.nii.gz')],
      ['series-a', 'dicom', s],
    ]);
  });

  it('nested study/series folders: one series is a case, several are a choice to make', async () => {
    const one = join(dir, 'patient-1');
    await series(join(one, 'study', 'ct'));
    expect((await expandInputs([one])).cases.map((c) => [c.name, c.kind])).toEqual([['study_ct', 'dicom']]);
    const two = join(dir, 'patient-2');
    await series(join(two, 'study', 'arterial'));
    await series(join(two, 'study', 'venous'));
    const refused = await expandInputs([two]);
    expect(refused.cases).toEqual([]);
    expect(refused.problems).toEqual([
      {
        path: two,
        reason:
          'holds 2 DICOM series in nested folders (study/arterial, study/venous): give the series folder(s) ' +
          'to segment, or --all-series to segment each',
      },
    ]);
    const all = await expandInputs([two], { allSeries: true });
    expect(all.cases.map((c) => c.name)).toEqual(['study_arterial', 'study_venous']);
  });
});
