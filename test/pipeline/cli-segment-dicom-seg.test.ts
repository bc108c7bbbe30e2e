/**
 * `raunet segment --format`: the acceptance case (the JPEG 2000 DICOM series -> NIfTI label map and a
 * DICOM SEG of that series, checked independently against the source files and the NIfTI), and the
 * refusal of a NIfTI input for a DICOM SEG. Test ensembles threshold the intensity (no trained weights).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSegment } from '../../lib/cli/commands/segment.ts';
import { InputError } from '../../lib/errors.ts';
import { readNifti } from '../../lib/volume/nifti.ts';
import { SHARED_DATA } from '../volume/helpers.ts';
import { expectSegOfSeries } from '../volume/seg-check.ts';
import { sceneModels } from './scene.ts';

const J2K = join(SHARED_DATA, 'dicom/ct-jpeg2000');
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'raunet-dcmseg-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('segment --format', () => {
  it('both: writes the NIfTI label map and a DICOM SEG of the source series with the same frames', async () => {
    const out = join(dir, 'both');
    const lines: string[] = [];
    const outcomes = await runSegment(
      [J2K],
      { models: 'unused', out, format: 'both' },
      {
        loadModels: async () => sceneModels(),
        stream: { isTTY: false, write: (s: string) => lines.push(s) },
      },
    );
    expect(outcomes.map((o) => [o.name, o.ok, o.reason])).toEqual([['ct-jpeg2000', true, undefined]]);
    const labels = await readNifti(join(out, 'ct-jpeg2000_seg.nii.gz'));
    let liver = 0;
    for (const v of labels.data) if (v >= 1) liver++;
    expect(liver).toBeGreaterThan(1000);
    // colour tables next to the NIfTI label map
    expect(await readFile(join(out, 'ct-jpeg2000_seg.ctbl'), 'utf8')).toMatch(/^1 Liver 221 130 101 255$/m);
    expect(await readFile(join(out, 'ct-jpeg2000_seg.labels.txt'), 'utf8')).toMatch(/^2 .* "Liver tumor"$/m);
    const seg = new Uint8Array(await readFile(join(out, 'ct-jpeg2000_seg.dcm')));
    await expectSegOfSeries(seg, J2K, labels);
    // this export has no Study/Series UIDs: said once, as a warning
    expect(
      lines.filter((l) => /warning: .*ct-jpeg2000_seg\.dcm: .*no StudyInstanceUID/.test(l)),
    ).toHaveLength(1);
  });

  it('dicom-seg alone writes no NIfTI label map; a NIfTI input is refused before any work, naming it', async () => {
    const out = join(dir, 'seg-only');
    const outcomes = await runSegment(
      [J2K],
      { models: 'unused', out, format: 'dicom-seg', quiet: true },
      { loadModels: async () => sceneModels() },
    );
    expect(outcomes[0].ok).toBe(true);
    expect(existsSync(join(out, 'ct-jpeg2000_seg.dcm'))).toBe(true);
    expect(existsSync(join(out, 'ct-jpeg2000_seg.nii.gz'))).toBe(false);
    expect(existsSync(join(out, 'ct-jpeg2000_seg.ctbl'))).toBe(false);

    const nifti = join(SHARED_DATA, 'ct/example_ct.nii.gz');
    let loaded = false;
    const e = await runSegment(
      [nifti],
      { models: 'unused', out: join(dir, 'refused'), format: 'both', quiet: true },
      {
        loadModels: async () => {
          loaded = true;
          return sceneModels();
        },
      },
    ).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(InputError);
    expect((e as Error).message).toMatch(/example_ct\.nii\.gz: a NIfTI input has no DICOM UIDs/);
    expect(loaded).toBe(false);
  });
});
