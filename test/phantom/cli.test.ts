import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatePhantom } from '../../lib/phantom/phantom.ts';
import { caseSeed, writePhantomSet } from '../../lib/phantom/set.ts';
import { readNifti } from '../../lib/volume/nifti.ts';
import { runCli } from '../cli.ts';
import { bytes } from './stats.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'raunet-phantom-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const run = (...args: string[]) => runCli(['phantom', ...args]);

describe('raunet phantom', () => {
  it('writes volume-K/segmentation-K pairs that read back with the generated geometry and voxels', async () => {
    const out = join(dir, 'set');
    const { code } = await run(
      '--out',
      out,
      '--count',
      '2',
      '--seed',
      '5',
      '--dims',
      '64x56x24',
      '--tumors',
      '2',
      '--tumor-radius',
      '8,12',
    );
    expect(code).toBe(0);
    const files = (await readdir(out)).sort();
    expect(files).toEqual([
      'phantoms.json',
      'segmentation-0.nii.gz',
      'segmentation-1.nii.gz',
      'volume-0.nii.gz',
      'volume-1.nii.gz',
    ]);
    const tumorCounts: number[] = [];
    for (const k of [0, 1]) {
      const expected = generatePhantom({
        seed: caseSeed(5, k),
        dims: [64, 56, 24],
        tumors: 2,
        tumorRadius: [8, 12],
      });
      const ct = await readNifti(join(out, `volume-${k}.nii.gz`));
      const seg = await readNifti(join(out, `segmentation-${k}.nii.gz`));
      for (const v of [ct, seg]) {
        expect(v.dims).toEqual([64, 56, 24]);
        for (let i = 0; i < 16; i++) expect(v.affine[i]).toBeCloseTo(expected.ct.affine[i], 4);
        for (let a = 0; a < 3; a++) expect(v.spacing[a]).toBeCloseTo(expected.ct.spacing[a], 4);
      }
      expect(ct.dtype).toBe('int16');
      expect(seg.dtype).toBe('uint8');
      expect(bytes(ct.data).equals(bytes(expected.ct.data))).toBe(true);
      expect(bytes(seg.data).equals(bytes(expected.seg.data))).toBe(true);
      tumorCounts.push(expected.info.tumors.length);
    }
    const manifest = JSON.parse(await readFile(join(out, 'phantoms.json'), 'utf8'));
    expect(manifest.cases.map((c: { seed: number }) => c.seed)).toEqual([caseSeed(5, 0), caseSeed(5, 1)]);
    expect(manifest.cases.map((c: { tumors: unknown[] }) => c.tumors.length)).toEqual(tumorCounts);
    expect(tumorCounts).toEqual([2, 2]);
    for (const c of manifest.cases) for (const t of c.tumors) expect(t.radiusMm).toBeLessThanOrEqual(12);
  });

  it('makes each case depend only on the set seed and its number', async () => {
    const a = await writePhantomSet(join(dir, 'a'), 1, 9, { dims: [32, 32, 16], start: 3 });
    const b = await writePhantomSet(join(dir, 'b'), 4, 9, { dims: [32, 32, 16] });
    expect(a).toEqual([join(dir, 'a', 'volume-3.nii.gz'), join(dir, 'a', 'segmentation-3.nii.gz')]);
    expect(b).toHaveLength(8);
    // (gzip headers carry a time stamp, so compare the decoded voxels)
    const va = (await readNifti(join(dir, 'a', 'volume-3.nii.gz'))).data;
    const vb = (await readNifti(join(dir, 'b', 'volume-3.nii.gz'))).data;
    expect(bytes(va).equals(bytes(vb))).toBe(true);
    const v2 = (await readNifti(join(dir, 'b', 'volume-2.nii.gz'))).data;
    expect(bytes(va).equals(bytes(v2))).toBe(false);
  });

  it('rejects malformed options with exit code 2 and a message naming the option', async () => {
    for (const [args, re] of [
      [['--dims', '64x64'], /--dims/],
      [['--spacing', '1,1'], /--spacing/],
      [['--count', '0'], /--count/],
      [['--seed', '-3'], /--seed/],
      [['--dims', '4x64x64'], /dims/],
      [['--tumor-radius', '5'], /--tumor-radius/],
    ] as Array<[string[], RegExp]>) {
      const { code, err } = await run('--out', join(dir, 'bad'), ...args);
      expect(code).toBe(2);
      expect(err).toMatch(re);
    }
  });
});
