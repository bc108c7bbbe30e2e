/**
 * NRRD and MetaImage writing and `raunet convert` both ways: header geometry against hand-derived LPS
 * values for an oblique, flipped grid; read back (affine and every voxel); gzip / zlib bodies inflated
 * independently; detached data files; outputs written all together or refused.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync, inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { readNifti, writeNifti } from '../../lib/volume/nifti.ts';
import { encodeMetaImage, encodeNrrd } from '../../lib/volume/nrrd-mha-write.ts';
import { readVolume } from '../../lib/volume/read.ts';
import { createVolume, type Volume } from '../../lib/volume/volume.ts';
import { runCli } from '../cli.ts';
import { SHARED_DATA, useTempDir } from './helpers.ts';

/*
 * The grid, defined in LPS by hand: axis i 2 mm along (0.6, 0.8, 0), axis j 0.5 mm along (-0.8, 0.6, 0),
 * axis k 3 mm towards inferior (0, 0, -1), voxel (0,0,0) at LPS (10, -20, 30). Its RAS affine negates the
 * x and y rows.
 */
const LPS_AXES = [
  [1.2, 1.6, 0],
  [-0.4, 0.3, 0],
  [0, 0, -3],
];
const LPS_ORIGIN = [10, -20, 30];
const RAS_AFFINE = [-1.2, 0.4, 0, -10, -1.6, -0.3, 0, 20, 0, 0, -3, 30, 0, 0, 0, 1];
const DIMS: [number, number, number] = [5, 4, 3];

function oblique<T extends Volume['data']>(data: T): Volume<T> {
  return { ...createVolume(data, DIMS), affine: [...RAS_AFFINE], spacing: [2, 0.5, 3] };
}
const int16Values = () => Int16Array.from({ length: 60 }, (_, n) => n * 37 - 1024);

function headerText(bytes: Uint8Array): string {
  return new TextDecoder('latin1').decode(bytes);
}

/** The bytes after the NRRD header's blank line. */
function nrrdBody(bytes: Uint8Array): Uint8Array {
  for (let i = 0; i + 1 < bytes.length; i++)
    if (bytes[i] === 10 && bytes[i + 1] === 10) return bytes.subarray(i + 2);
  throw new Error('no blank line');
}

function littleEndianInt16(values: Int16Array): number[] {
  const b = new Uint8Array(values.length * 2);
  const v = new DataView(b.buffer);
  values.forEach((x, i) => {
    v.setInt16(2 * i, x, true);
  });
  return [...b];
}

function expectSameVolume(got: Volume, want: Volume) {
  expect(got.dims).toEqual(want.dims);
  got.affine.forEach((x, i) => {
    expect(x).toBeCloseTo(want.affine[i], 12);
  });
  expect(got.data.constructor).toBe(want.data.constructor);
  expect([...got.data]).toEqual([...want.data]);
}

describe('NRRD writing', () => {
  it('writes LPS space directions and origin from the RAS affine (hand values), gzip body', () => {
    const vol = oblique(int16Values());
    const { header, data } = encodeNrrd(vol);
    expect(data).toBeUndefined();
    const text = headerText(header.subarray(0, 400));
    expect(text).toMatch(/^NRRD0004\n/);
    expect(text).toContain('\ntype: int16\n');
    expect(text).toContain('\nsizes: 5 4 3\n');
    expect(text).toContain('\nspace: left-posterior-superior\n');
    expect(text).toContain(`\nspace directions: ${LPS_AXES.map((a) => `(${a.join(',')})`).join(' ')}\n`);
    expect(text).toContain(`\nspace origin: (${LPS_ORIGIN.join(',')})\n`);
    expect(text).toContain('\nencoding: gzip\n');
    // the body is gzip (magic 1f 8b) of the little-endian voxels
    const body = nrrdBody(header);
    expect([body[0], body[1]]).toEqual([0x1f, 0x8b]);
    expect([...gunzipSync(body)]).toEqual(littleEndianInt16(vol.data));
  });

  it('raw encoding, detached header naming its data file', () => {
    const vol = oblique(int16Values());
    const { header, data } = encodeNrrd(vol, { compress: false, dataFile: 'scan.raw' });
    const text = headerText(header);
    expect(text).toContain('\nencoding: raw\n');
    expect(text).toMatch(/\ndata file: scan\.raw\n$/);
    expect([...(data ?? [])]).toEqual(littleEndianInt16(vol.data));
  });
});

describe('MetaImage writing', () => {
  it('writes TransformMatrix (unit axis directions, first axis first), ElementSpacing and LPS Offset', () => {
    const vol = oblique(int16Values());
    const { header } = encodeMetaImage(vol);
    const text = headerText(header.subarray(0, 600));
    const field = (k: string) =>
      (new RegExp(`\\n${k} = ([^\\n]*)\\n`).exec(`\n${text}`)?.[1] ?? '').split(' ');
    expect(field('TransformMatrix').map(Number)).toEqual([0.6, 0.8, 0, -0.8, 0.6, 0, 0, 0, -1]);
    expect(field('ElementSpacing').map(Number)).toEqual([2, 0.5, 3]);
    expect(field('Offset').map(Number)).toEqual(LPS_ORIGIN);
    expect(field('DimSize')).toEqual(['5', '4', '3']);
    expect(field('ElementType')).toEqual(['MET_SHORT']);
    expect(field('CompressedData')).toEqual(['True']);
    expect(field('ElementDataFile')).toEqual(['LOCAL']);
    // the body after the ElementDataFile line is zlib of the little-endian voxels, of the size declared
    const body = header.subarray(
      text.indexOf('ElementDataFile = LOCAL\n') + 'ElementDataFile = LOCAL\n'.length,
    );
    expect(Number(field('CompressedDataSize')[0])).toBe(body.length);
    expect([...inflateSync(body)]).toEqual(littleEndianInt16(vol.data));
  });
});

describe('round trips through the readers', () => {
  const tmp = useTempDir('raunet-nrrd-write-');
  const volumes: Array<[string, Volume]> = [
    ['int16', oblique(int16Values())],
    ['float32', oblique(Float32Array.from({ length: 60 }, (_, n) => n / 7 - 3.25))],
    ['uint8', oblique(Uint8Array.from({ length: 60 }, (_, n) => (n * 11) % 256))],
    ['float64', oblique(Float64Array.from({ length: 60 }, (_, n) => Math.sqrt(n) - 1e-9))],
  ];
  for (const [what, vol] of volumes) {
    for (const compress of [true, false]) {
      it(`${what}, ${compress ? 'compressed' : 'raw'}: .nrrd, .nhdr, .mha, .mhd read back exactly`, async () => {
        for (const [ext, encode] of [
          ['nrrd', encodeNrrd],
          ['mha', encodeMetaImage],
        ] as const) {
          const attached = join(tmp(), `a.${ext}`);
          await writeFile(attached, encode(vol, { compress }).header);
          expectSameVolume(await readVolume(attached), vol);
          const detachedExt = ext === 'nrrd' ? 'nhdr' : 'mhd';
          const d = encode(vol, { compress, dataFile: 'd.data' });
          await writeFile(join(tmp(), `d.${detachedExt}`), d.header);
          await writeFile(join(tmp(), 'd.data'), d.data ?? new Uint8Array());
          expectSameVolume(await readVolume(join(tmp(), `d.${detachedExt}`)), vol);
        }
      });
    }
  }
});

describe('raunet convert both ways', () => {
  const tmp = useTempDir('raunet-convert-');
  const run = (...args: string[]) => runCli(['convert', ...args]);

  it('nii -> nrrd / nhdr / mha / mhd -> nii keeps the oblique affine and every voxel', async () => {
    const src = join(tmp(), 'src.nii.gz');
    await writeNifti(src, oblique(int16Values()));
    // the reference is the NIfTI as read (its sform holds the affine to float32)
    const vol = await readNifti(src);
    for (const ext of ['nrrd', 'nhdr', 'mha', 'mhd']) {
      const mid = join(tmp(), `mid.${ext}`);
      const r = await run(src, mid);
      expect(r.code, r.err).toBe(0);
      expectSameVolume(await readVolume(mid), vol);
      const back = join(tmp(), `back-${ext}.nii`);
      expect((await run(mid, back)).code).toBe(0);
      expectSameVolume(await readNifti(back), vol);
    }
    // the detached headers' data files, compressed by default
    expect(existsSync(join(tmp(), 'mid.raw.gz'))).toBe(true);
    expect(existsSync(join(tmp(), 'mid.zraw'))).toBe(true);
    expect(headerText(await readFile(join(tmp(), 'mid.nhdr')))).toContain('data file: mid.raw.gz');
    // --no-compress: raw voxels in the file
    const raw = join(tmp(), 'raw.nrrd');
    expect((await run(src, raw, '--no-compress')).code).toBe(0);
    const bytes = new Uint8Array(await readFile(raw));
    expect([...nrrdBody(bytes)]).toEqual(littleEndianInt16(vol.data as Int16Array));
  });

  it('DICOM series -> .nrrd: the values and LAS affine of the series as read', async () => {
    const series = join(SHARED_DATA, 'dicom/ct-3slice');
    const out = join(tmp(), 'series.nrrd');
    expect((await run(series, out)).code).toBe(0);
    expectSameVolume(await readVolume(out), await readVolume(series));
  });

  it('refuses an existing header or data file, writing nothing', async () => {
    const src = join(tmp(), 'src.nii.gz');
    await writeNifti(src, oblique(int16Values()));
    // the data file of x.mhd exists: refused with its name, x.mhd not created
    await writeFile(join(tmp(), 'x.zraw'), 'keep');
    const r = await run(src, join(tmp(), 'x.mhd'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/x\.mhd: output exists \(and 1 more output file\(s\)\)|x\.zraw: output exists/);
    expect(existsSync(join(tmp(), 'x.mhd'))).toBe(false);
    expect(await readFile(join(tmp(), 'x.zraw'), 'utf8')).toBe('keep');
  });

  it("never writes over a detached input's data file, even with --overwrite", async () => {
    const src = join(tmp(), 'in.mhd');
    const vol = oblique(int16Values());
    const enc = encodeMetaImage(vol, { compress: false, dataFile: 'in.raw' });
    await writeFile(src, enc.header);
    await writeFile(join(tmp(), 'in.raw'), enc.data ?? new Uint8Array());
    // in.nhdr --no-compress would put its data in in.raw, the input's data file
    const r = await run(src, join(tmp(), 'in.nhdr'), '--no-compress', '--overwrite');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/in\.raw: output would overwrite the input .*in\.raw/);
    expect(existsSync(join(tmp(), 'in.nhdr'))).toBe(false);
    expectSameVolume(await readVolume(src), vol);
  });
});
