import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readDicomSeries } from '../../lib/volume/dicom.ts';
import { readNifti } from '../../lib/volume/nifti.ts';
import { runCli } from '../cli.ts';
import { SHARED_DATA, useTempDir } from './helpers.ts';

const run = (...args: string[]) => runCli(args);

const ct = join(SHARED_DATA, 'ct/example_ct.nii.gz');

describe('raunet info / convert', () => {
  const tmp = useTempDir('raunet-cli-');

  it('info --json prints exactly the agreed keys for the example CT', async () => {
    const r = await run('info', ct, '--json');
    expect(r.code).toBe(0);
    const info = JSON.parse(r.out);
    expect(Object.keys(info)).toEqual(['dims', 'spacing', 'dtype', 'orientation', 'min', 'max', 'affine']);
    expect(info.dims).toEqual([122, 101, 112]);
    expect(info.spacing).toEqual([3, 3, 3]);
    expect(info.dtype).toBe('int32');
    expect(info.orientation).toBe('RAS');
    expect([info.min, info.max]).toEqual([-1207, 3382]);
    expect(info.affine).toHaveLength(4);
    expect(info.affine[3]).toEqual([0, 0, 0, 1]);
    expect([info.affine[0][0], info.affine[1][1], info.affine[2][2]]).toEqual([3, 3, 3]);
  });

  it('info prints a readable summary', async () => {
    const r = await run('info', ct);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/dims: +122 x 101 x 112/);
    expect(r.out).toMatch(/spacing: +3 x 3 x 3 mm/);
    expect(r.out).toMatch(/orientation: +RAS/);
    expect(r.out).toMatch(/range: +-1207 \.\. 3382/);
  });

  it('convert keeps values and geometry (NIfTI -> .nii, DICOM -> .nii.gz)', async () => {
    const out1 = join(tmp(), 'ct.nii');
    expect((await run('convert', ct, out1)).code).toBe(0);
    const [a, b] = [await readNifti(ct), await readNifti(out1)];
    expect(b.affine).toEqual(a.affine);
    expect(b.dtype).toBe('int32');
    expect(
      Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength).equals(
        Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength),
      ),
    ).toBe(true);

    const src = join(SHARED_DATA, 'dicom/ct-3slice');
    const out2 = join(tmp(), 'dcm.nii.gz');
    const r = await run('convert', src, out2);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/512x512x3 int16/);
    const [d, n] = [await readDicomSeries(src), await readNifti(out2)];
    n.affine.forEach((v, i) => {
      expect(Math.abs(v - d.affine[i])).toBeLessThan(1e-4);
    });
    expect(Array.from(n.data)).toEqual(Array.from(d.data));
  });

  it('bad input: exit code 2 and a message naming the file', async () => {
    const missing = await run('info', join(tmp(), 'none.nii.gz'));
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/^error: .*none\.nii\.gz: no such file/);
    const badOut = await run('convert', ct, join(tmp(), 'out.png'));
    expect(badOut.code).toBe(2);
    expect(badOut.err).toMatch(/out\.png: output must end in \.nii, \.nii\.gz, \.nrrd, \.nhdr, \.mha, \.mhd/);
    const capped = await run('info', ct, '--max-decompressed-bytes', '1000');
    expect(capped.code).toBe(2);
    expect(capped.err).toMatch(/cap of 1000 bytes/);
  });
});
