/**
 * One error style and honest evaluation: bad input gives exit 2 and one line naming the file and the
 * problem (no stack trace); non-finite values are refused; evaluate refuses grids, images and labels it
 * cannot score, and maps other label conventions on request.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { describeFailure } from '../../lib/errors.ts';
import { outputError } from '../../lib/output/safe-output.ts';
import { readNifti, writeNifti } from '../../lib/volume/nifti.ts';
import { createVolume, type Vec3 } from '../../lib/volume/volume.ts';
import { runCli } from '../cli.ts';
import { buildNifti } from '../volume/helpers.ts';
import { NIFTI1, nifti, patchFloat32 } from './inputs.ts';

const dir = mkdtempSync(join(tmpdir(), 'raunet-errors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function refused(args: string[], pattern: RegExp) {
  const r = await runCli(args);
  expect(r.code, r.err).toBe(2);
  expect(r.err.trim().split('\n'), r.err).toHaveLength(1);
  expect(r.err).not.toMatch(/\n\s+at /);
  expect(r.err).toMatch(pattern);
  return r;
}

describe('one line, exit 2', () => {
  it('a symbolic link loop', async () => {
    symlinkSync(join(dir, 'loop-b.nii'), join(dir, 'loop-a.nii'));
    symlinkSync(join(dir, 'loop-a.nii'), join(dir, 'loop-b.nii'));
    await refused(['info', join(dir, 'loop-a.nii')], /loop-a\.nii: too many levels of symbolic links/);
  });

  it('NIfTI-2 dims beyond what can be read, and beyond what NIfTI-1 can write', async () => {
    const huge = join(dir, 'huge.nii');
    writeFileSync(
      huge,
      buildNifti({ version: 2, dim: [3, 2 ** 40, 1, 1], datatype: 2, bitpix: 8, data: new Uint8Array(0) }),
    );
    await refused(['info', huge], /huge\.nii: absurd dims 1099511627776x1x1/);
    const wide = join(dir, 'wide.nii');
    writeFileSync(
      wide,
      buildNifti({ version: 2, dim: [3, 40000, 1, 1], datatype: 2, bitpix: 8, data: new Uint8Array(40000) }),
    );
    await refused(
      ['convert', wide, join(dir, 'wide-out.nii')],
      /wide\.nii: cannot be written as NIfTI-1: .*32767/,
    );
    expect(existsSync(join(dir, 'wide-out.nii'))).toBe(false);
  });

  it('NaN voxels, an overflowing scl_slope and a NaN affine are refused, naming the cause', async () => {
    const f = new Float32Array(8).fill(1);
    f[3] = Number.NaN;
    writeFileSync(join(dir, 'nan.nii'), nifti(f, [2, 2, 2]));
    await refused(
      ['info', join(dir, 'nan.nii')],
      /nan\.nii: 1 of 8 voxels are NaN or infinite \(first at voxel \(1, 1, 0\)\)/,
    );
    const ints = new Int16Array(8).fill(1000);
    writeFileSync(join(dir, 'slope.nii'), patchFloat32(nifti(ints, [2, 2, 2]), { [NIFTI1.sclSlope]: 1e38 }));
    await refused(
      ['info', join(dir, 'slope.nii')],
      /slope\.nii: 8 of 8 voxels are NaN or infinite after scl_slope 1e\+38/,
    );
    // sform NaN (so it is skipped) and the qform's offset NaN: no finite geometry is left
    const bad = patchFloat32(nifti(new Uint8Array(8), [2, 2, 2]), {
      [NIFTI1.srowX]: Number.NaN,
      268: Number.NaN,
    });
    writeFileSync(join(dir, 'affine.nii'), bad);
    await refused(['info', join(dir, 'affine.nii')], /affine\.nii: the voxel-to-world affine holds NaN/);
  });
});

describe('failures that are not bad input', () => {
  it('a full disk while writing is one line naming the file, exit 1 (not 2)', () => {
    const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    const e = outputError(enospc, '/out/a_seg.nii.gz');
    expect(describeFailure(e)).toEqual({
      line: '/out/a_seg.nii.gz: cannot write: no space left on device',
      exitCode: 1,
    });
    const loop = Object.assign(new Error("ELOOP: too many symbolic links encountered, stat 'x'"), {
      code: 'ELOOP',
    });
    expect(describeFailure(loop).exitCode).toBe(2);
  });
});

describe('evaluate', () => {
  const dims: Vec3 = [6, 5, 4];
  const labels = (values: number[], affine?: number[]) => {
    const data = new Uint8Array(120);
    values.forEach((v, i) => {
      data[10 + i] = v;
    });
    return createVolume(data, dims, [1, 1, 1], affine);
  };

  it('refuses grids that differ only in their affine (same dims and spacing)', async () => {
    await writeNifti(join(dir, 'ref.nii.gz'), labels([1, 1, 2, 1]));
    const shifted = [1, 0, 0, 30, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
    await writeNifti(join(dir, 'shifted.nii.gz'), labels([1, 1, 2, 1], shifted));
    const flipped = [-1, 0, 0, 5, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
    await writeNifti(join(dir, 'flipped.nii.gz'), labels([1, 1, 2, 1], flipped));
    const ref = join(dir, 'ref.nii.gz');
    await refused(
      ['evaluate', '--pred', join(dir, 'shifted.nii.gz'), '--ref', ref],
      /grids differ .*origins \(30\.00, 0\.00, 0\.00\) vs \(0\.00, 0\.00, 0\.00\)/,
    );
    await refused(
      ['evaluate', '--pred', join(dir, 'flipped.nii.gz'), '--ref', ref],
      /orientation LAS vs RAS/,
    );
  });

  it('refuses an intensity image and labels outside {0,1,2}, pointing at --ref-label', async () => {
    const ct = resolve(import.meta.dirname, '../../../shared/data/ct/example_ct.nii.gz');
    const realCt = existsSync(ct) ? ct : '/work/shared/data/ct/example_ct.nii.gz';
    const liver = realCt.replace('example_ct.nii.gz', 'example_ct_liver.nii.gz');
    await refused(
      ['evaluate', '--pred', realCt, '--ref', liver],
      /example_ct\.nii\.gz: prediction looks like an intensity image/,
    );
    await writeNifti(join(dir, 'multi.nii.gz'), labels([5, 5, 7, 3]));
    await writeNifti(join(dir, 'pred.nii.gz'), labels([1, 1, 2, 0]));
    await refused(
      ['evaluate', '--pred', join(dir, 'pred.nii.gz'), '--ref', join(dir, 'multi.nii.gz')],
      /multi\.nii\.gz: reference has labels 0, 3, 5, 7, .*--ref-label/,
    );
    await refused(
      ['evaluate', '--pred', join(dir, 'pred.nii.gz'), '--ref', join(dir, 'pred.nii.gz')],
      /same file/,
    );
  });

  it('--ref-label maps a multi-label reference (liver=5,tumor=7; label 3 is another organ)', async () => {
    const r = await runCli([
      'evaluate',
      '--pred',
      join(dir, 'pred.nii.gz'),
      '--ref',
      join(dir, 'multi.nii.gz'),
      '--ref-label',
      'liver=5,tumor=7',
      '--json',
    ]);
    expect(r.code, r.err).toBe(0);
    const e = JSON.parse(r.out);
    expect(e.cases[0].liver.dice).toBe(1); // liver+tumor voxels 10..12 on both sides
    expect(e.cases[0].tumor.dice).toBe(1);
    await refused(
      [
        'evaluate',
        '--pred',
        join(dir, 'pred.nii.gz'),
        '--ref',
        join(dir, 'multi.nii.gz'),
        '--ref-label',
        'lung=5',
      ],
      /--ref-label: expected liver=/,
    );
  });

  it('--ref-label liver=5 on the real multi-organ map of the JPEG 2000 series scores its own liver as Dice 1', async () => {
    const seg = '/work/shared/data/dicom/example_seg_dicom.nii.gz';
    const rel = resolve(import.meta.dirname, '../../../shared/data/dicom/example_seg_dicom.nii.gz');
    const file = existsSync(rel) ? rel : seg;
    const ref = await readNifti(file);
    const liverOnly = new Uint8Array(ref.data.length);
    for (let i = 0; i < liverOnly.length; i++) liverOnly[i] = ref.data[i] === 5 ? 1 : 0;
    mkdirSync(join(dir, 'real'));
    await writeNifti(join(dir, 'real', 'liver.nii.gz'), { ...ref, data: liverOnly, dtype: 'uint8' });
    await refused(['evaluate', '--pred', join(dir, 'real', 'liver.nii.gz'), '--ref', file], /--ref-label/);
    const r = await runCli([
      'evaluate',
      '--pred',
      join(dir, 'real', 'liver.nii.gz'),
      '--ref',
      file,
      '--ref-label',
      'liver=5',
      '--json',
    ]);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out).cases[0].liver).toMatchObject({ dice: 1, ref_voxels: 366708 });
  });
});
