/**
 * NRRD and MetaImage input: headers and data written here by hand (attached and detached, raw and
 * compressed, both byte orders), geometry checked against hand-derived RAS affines, bad files refused.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../lib/cli/main.ts';
import { InputError } from '../../lib/errors.ts';
import { readNifti } from '../../lib/volume/nifti.ts';
import { readVolume } from '../../lib/volume/read.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'raunet-nrrd-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const DIMS = [4, 3, 2];
const VALUES = Array.from({ length: 24 }, (_, n) => n * 100 - 1000);
function int16Bytes(bigEndian = false): Uint8Array {
  const b = new Uint8Array(48);
  const v = new DataView(b.buffer);
  for (const [i, x] of VALUES.entries()) v.setInt16(2 * i, x, !bigEndian);
  return b;
}
const cat = (a: string, b: Uint8Array) => {
  const h = new TextEncoder().encode(a);
  const out = new Uint8Array(h.length + b.length);
  out.set(h);
  out.set(b, h.length);
  return out;
};
async function read(name: string, bytes: Uint8Array | string) {
  const p = join(dir, name);
  await writeFile(p, bytes);
  return readVolume(p);
}

describe('NRRD', () => {
  it('attached raw, LPS: values and the RAS affine (x and y negated)', async () => {
    const header =
      'NRRD0004\n# a comment\ntype: short\ndimension: 3\nspace: left-posterior-superior\nsizes: 4 3 2\n' +
      'space directions: (0.5,0,0) (0,0.7,0) (0,0,2)\nkinds: domain domain domain\nendian: little\n' +
      'encoding: raw\nspace origin: (10,20,30)\n\n';
    const v = await read('a.nrrd', cat(header, int16Bytes()));
    expect(v.dims).toEqual(DIMS);
    expect(v.dtype).toBe('int16');
    expect(Array.from(v.data)).toEqual(VALUES);
    expect(v.affine).toEqual([-0.5, 0, 0, -10, 0, -0.7, 0, -20, 0, 0, 2, 30, 0, 0, 0, 1]);
    expect(v.spacing).toEqual([0.5, 0.7, 2]);
  });

  it('detached .nhdr with gzip, big-endian data file', async () => {
    await writeFile(join(dir, 'b.raw.gz'), gzipSync(int16Bytes(true)));
    const header =
      'NRRD0004\ntype: int16\ndimension: 3\nspace: RAS\nsizes: 4 3 2\n' +
      'space directions: (1,0,0) (0,1,0) (0,0,3)\nendian: big\nencoding: gzip\nspace origin: (0,0,0)\ndata file: b.raw.gz\n';
    const v = await read('b.nhdr', header);
    expect(Array.from(v.data)).toEqual(VALUES);
    expect(v.affine).toEqual([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 3, 0, 0, 0, 0, 1]);
  });

  it('refuses truncated data, 4D images and degenerate directions, naming the file', async () => {
    const base = 'NRRD0004\ntype: short\ndimension: 3\nsizes: 4 3 2\nencoding: raw\n';
    const cut = await read('cut.nrrd', cat(`${base}\n`, int16Bytes().subarray(0, 40))).catch(
      (e: unknown) => e,
    );
    expect(cut).toBeInstanceOf(InputError);
    expect((cut as InputError).code).toBe('TRUNCATED');
    expect((cut as Error).message).toMatch(/cut\.nrrd: voxel data holds 40 bytes, 4x3x2 int16 needs 48/);
    const four = await read(
      'four.nrrd',
      cat('NRRD0004\ntype: short\ndimension: 4\nsizes: 4 3 2 2\nencoding: raw\n\n', int16Bytes()),
    ).catch((e: unknown) => e);
    expect((four as InputError).code).toBe('UNSUPPORTED');
    expect((four as Error).message).toMatch(/four\.nrrd: sizes 4 3 2 2: only 3D/);
    const flat = await read(
      'flat.nrrd',
      cat(
        'NRRD0004\ntype: short\nsizes: 4 3 2\nspace: RAS\nspace directions: (1,0,0) (2,0,0) (0,0,1)\nencoding: raw\n\n',
        int16Bytes(),
      ),
    ).catch((e: unknown) => e);
    expect((flat as InputError).code).toBe('BAD_HEADER');
    expect((flat as Error).message).toMatch(/flat\.nrrd: degenerate geometry/);
  });
});

describe('MetaImage', () => {
  const header = (extra: string, file: string) =>
    'ObjectType = Image\nNDims = 3\nBinaryData = True\nDimSize = 4 3 2\nElementSpacing = 0.8 0.9 2.5\n' +
    `TransformMatrix = 0 1 0 1 0 0 0 0 1\nOffset = 1 2 3\nElementType = MET_SHORT\n${extra}ElementDataFile = ${file}\n`;

  it('.mha attached, zlib-compressed, axes swapped: values and the hand-derived RAS affine', async () => {
    const v = await read('c.mha', cat(header('CompressedData = True\n', 'LOCAL'), deflateSync(int16Bytes())));
    expect(Array.from(v.data)).toEqual(VALUES);
    // axis i runs along LPS y (0.8 mm), axis j along LPS x (0.9 mm); RAS negates x and y
    expect(v.affine).toEqual([0, -0.9, 0, -1, -0.8, 0, 0, -2, 0, 0, 2.5, 3, 0, 0, 0, 1]);
    expect(v.spacing).toEqual([0.8, 0.9, 2.5]);
  });

  it('.mhd detached big-endian raw, and convert to NIfTI keeps the geometry', async () => {
    await writeFile(join(dir, 'd.raw'), int16Bytes(true));
    const v = await read('d.mhd', header('BinaryDataByteOrderMSB = True\n', 'd.raw'));
    expect(Array.from(v.data)).toEqual(VALUES);
    const out = join(dir, 'd.nii.gz');
    expect(await main(['node', 'raunet', 'convert', join(dir, 'd.mhd'), out])).toBe(0);
    const n = await readNifti(out);
    expect(Array.from(n.data)).toEqual(VALUES);
    for (const [i, x] of n.affine.entries()) expect(x).toBeCloseTo(v.affine[i], 5);
  });

  it('refuses a missing data file and multi-channel images', async () => {
    const gone = await read('e.mhd', header('', 'missing.raw')).catch((e: unknown) => e);
    expect(gone).toBeInstanceOf(InputError);
    expect((gone as Error).message).toMatch(/missing\.raw/);
    const rgb = await read(
      'f.mha',
      cat(header('ElementNumberOfChannels = 3\n', 'LOCAL'), int16Bytes()),
    ).catch((e: unknown) => e);
    expect((rgb as InputError).code).toBe('UNSUPPORTED');
    expect((rgb as Error).message).toMatch(/f\.mha: multi-channel/);
  });
});
