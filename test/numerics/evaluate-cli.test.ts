import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { caseKey, pairByName } from '../../lib/metrics/pairing.ts';
import { writeNifti } from '../../lib/volume/nifti.ts';
import { createVolume, type Vec3 } from '../../lib/volume/volume.ts';
import { runCli } from '../cli.ts';

describe('pairing by name', () => {
  it('derives case keys from LiTS and common file names', () => {
    expect(caseKey('/data/segmentation-12.nii.gz')).toBe('12');
    expect(caseKey('segmentation-12.nii')).toBe('12');
    expect(caseKey('volume-3.nii')).toBe('3');
    expect(caseKey('12_seg.nii.gz')).toBe('12');
    expect(caseKey('liver_07_pred.nii.gz')).toBe('liver_07');
    expect(caseKey('case.seg.nii')).toBe('case');
    expect(caseKey('abc.nii.gz')).toBe('abc');
  });

  it('pairs by key, reports the unpaired, sorts numerically, refuses duplicate keys', () => {
    const p = pairByName(
      ['p/segmentation-10.nii', 'p/2_seg.nii.gz', 'p/x.nii'],
      ['r/segmentation-2.nii.gz', 'r/segmentation-10.nii.gz', 'r/segmentation-3.nii'],
    );
    expect(p.pairs.map((x) => [x.id, x.pred, x.ref])).toEqual([
      ['2', 'p/2_seg.nii.gz', 'r/segmentation-2.nii.gz'],
      ['10', 'p/segmentation-10.nii', 'r/segmentation-10.nii.gz'],
    ]);
    expect(p.unpairedPred).toEqual(['p/x.nii']);
    expect(p.unpairedRef).toEqual(['r/segmentation-3.nii']);
    expect(() => pairByName(['a/1.nii', 'a/segmentation-1.nii.gz'], [])).toThrow(/case key '1'/);
  });
});

describe('raunet evaluate', () => {
  const dir = mkdtempSync(join(tmpdir(), 'raunet-eval-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(() => vi.restoreAllMocks());

  const dims: Vec3 = [6, 5, 4];
  const spacing: Vec3 = [0.8, 0.8, 2];
  /** Labels: a liver box x in [1, lx], y in [1, 3], z in [1, 2]; optional tumor voxel at (2, 2, 1). */
  function labels(lx: number, tumor: boolean, d: Vec3 = dims, s: Vec3 = spacing) {
    const data = new Uint8Array(d[0] * d[1] * d[2]);
    for (let z = 1; z <= 2; z++)
      for (let y = 1; y <= 3; y++) for (let x = 1; x <= lx; x++) data[x + d[0] * (y + d[1] * z)] = 1;
    if (tumor) data[2 + d[0] * (2 + d[1] * 1)] = 2;
    return createVolume(data, d, s);
  }

  const run = (args: string[]) => runCli(['evaluate', ...args]);

  it('pairs folders by name and prints one JSON object with hand-checkable values, plus a CSV', async () => {
    const pred = join(dir, 'pred');
    const ref = join(dir, 'ref');
    await mkdir(pred);
    await mkdir(ref);
    // Case 1: ref liver 4x3x2 = 24 voxels with tumor; pred liver 3x3x2 = 18 voxels, same tumor.
    await writeNifti(join(ref, 'segmentation-1.nii.gz'), labels(4, true));
    await writeNifti(join(pred, 'segmentation-1.nii.gz'), labels(3, true));
    // Case 2: identical livers, no tumor anywhere.
    await writeNifti(join(ref, 'segmentation-2.nii'), labels(4, false));
    await writeNifti(join(pred, '2_seg.nii.gz'), labels(4, false));
    await writeNifti(join(ref, 'segmentation-5.nii'), labels(4, false)); // no prediction
    const csv = join(dir, 'out.csv');
    const r = await run(['--pred', pred, '--ref', ref, '--json', '--csv', csv]);
    expect(r.code).toBe(0);
    const e = JSON.parse(r.out);
    expect(e.cases.map((c: { id: string }) => c.id)).toEqual(['1', '2']);
    const c1 = e.cases[0];
    expect(c1.liver.dice).toBeCloseTo((2 * 18) / 42, 10);
    expect(c1.liver.rvd).toBeCloseTo(-6 / 24, 10);
    // The pred liver's x = 4 column is missing: the furthest surface voxel is 1 voxel (0.8 mm) away.
    expect(c1.liver.msd).toBeCloseTo(0.8, 5);
    expect(c1.tumor.dice).toBe(1);
    expect(e.cases[1].liver.assd).toBe(0);
    expect(e.cases[1].tumor).toMatchObject({ dice: 1, rvd: 0, assd: null, msd: null, hd95: null });
    expect(e.liver.dice_global).toBeCloseTo((2 * (18 + 24)) / (42 + 48), 10);
    expect(e.liver.dice_per_case).toBeCloseTo(((2 * 18) / 42 + 1) / 2, 10);
    expect(e.tumor.defined.assd).toBe(1);
    expect(r.err).toMatch(/unpaired reference: .*segmentation-5\.nii/);
    const lines = readFileSync(csv, 'utf8').trim().split('\n');
    expect(lines[0].split(',').slice(0, 3)).toEqual(['id', 'liver_dice', 'liver_jaccard']);
    expect(lines).toHaveLength(3);
    expect(lines[2].split(',')).toContain(''); // case 2 tumor distances: not defined
  });

  it('prints tables by default and accepts two single files', async () => {
    const a = join(dir, 'a.nii.gz');
    const b = join(dir, 'b_seg.nii');
    await writeNifti(a, labels(4, true));
    await writeNifti(b, labels(4, true));
    const r = await run(['--pred', b, '--ref', a]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/Liver \(1 cases\)/);
    expect(r.out).toMatch(/Tumor/);
    expect(r.out).toMatch(/^a\s+1\.0000/m);
  });

  it('fails with an input error naming the pair when shapes or spacing differ', async () => {
    const a = join(dir, 'shape-ref.nii');
    const b = join(dir, 'shape-pred.nii');
    await writeNifti(a, labels(4, false));
    await writeNifti(b, labels(4, false, [6, 5, 5]));
    const r = await run(['--pred', b, '--ref', a, '--json']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/shape-pred\.nii.*shape-ref\.nii.*6x5x5.*6x5x4/);
    const c = join(dir, 'spacing-pred.nii');
    await writeNifti(c, labels(4, false, dims, [0.8, 0.8, 3]));
    const r2 = await run(['--pred', c, '--ref', a]);
    expect(r2.code).toBe(2);
    expect(r2.err).toMatch(/spacing-pred\.nii.*spacing/);
  });

  it('fails clearly for a missing path or when nothing pairs', async () => {
    const r = await run(['--pred', join(dir, 'nope'), '--ref', dir]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/nope.*no such file/);
    const lone = join(dir, 'lone');
    await mkdir(lone);
    await writeNifti(join(lone, 'segmentation-99.nii'), labels(2, false));
    const r2 = await run(['--pred', lone, '--ref', join(dir, 'ref')]);
    expect(r2.code).toBe(2);
    expect(r2.err).toMatch(/no prediction file pairs/);
  });
});
