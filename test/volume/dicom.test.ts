import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import dicomParser from 'dicom-parser';
import { beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../lib/errors.ts';
import { orientationCode } from '../../lib/volume/affine.ts';
import { decodeDicomSeries, readDicomSeries } from '../../lib/volume/dicom.ts';
import { decodeRleFrame } from '../../lib/volume/dicom-rle.ts';
import { readNifti } from '../../lib/volume/nifti.ts';
import type { Volume } from '../../lib/volume/volume.ts';
import { buildDicomSlice, type SliceSpec } from './dicom-builder.ts';
import { SHARED_DATA, useTempDir } from './helpers.ts';

const near = (a: number[], b: number[], tol: number) => {
  expect(a.length).toBe(b.length);
  a.forEach((v, i) => {
    expect(Math.abs(v - b[i]), `entry ${i}: ${v} vs ${b[i]}`).toBeLessThanOrEqual(tol);
  });
};

async function expectInputError(p: Promise<unknown>, code: string, pattern: RegExp) {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(InputError);
  expect((e as InputError).code).toBe(code);
  expect((e as Error).message).toMatch(pattern);
}

const COLS = 4;
const ROWS = 3;
/** Stored value of pixel (column i, row j) of slice number s (its order along the normal). */
const stored = (i: number, j: number, s: number) => 100 * s + 10 * j + i;

function series(
  positions: number[],
  over: Partial<SliceSpec> = {},
  ippOf: (p: number) => number[] = (p) => [-5, 7, p],
) {
  return positions.map((p, s) => ({
    name: `slice-${(s * 7) % positions.length}-${p}`, // names unrelated to the order
    bytes: buildDicomSlice({
      ipp: ippOf(p),
      rows: ROWS,
      cols: COLS,
      pixelSpacing: [0.7, 0.5],
      pixels: Array.from({ length: ROWS * COLS }, (_, n) => stored(n % COLS, Math.floor(n / COLS), s)),
      intercept: -1024,
      instance: positions.length - s,
      ...over,
    }),
  }));
}

describe('DICOM series (synthetic)', () => {
  it('orders slices by position along the normal, not by file order, and builds the RAS affine', async () => {
    const files = series([10, 12, 14, 16]);
    const shuffled = [files[2], files[0], files[3], files[1]];
    const v = await decodeDicomSeries(shuffled, 'synthetic');
    expect(v.dims).toEqual([4, 3, 4]);
    expect(v.data).toBeInstanceOf(Int16Array);
    near(v.spacing, [0.5, 0.7, 2], 1e-9);
    // Hand-derived: LPS i=[0.5,0,0], j=[0,0.7,0], k=[0,0,2], origin (-5,7,10); RAS negates x,y;
    // rows stored bottom-up: j -> +0.7 in y, origin y = -7 - 2*0.7.
    near(v.affine, [-0.5, 0, 0, 5, 0, 0.7, 0, -8.4, 0, 0, 2, 10, 0, 0, 0, 1], 1e-9);
    expect(orientationCode(v.affine)).toBe('LAS');
    for (let k = 0; k < 4; k++) {
      for (let j = 0; j < ROWS; j++) {
        for (let i = 0; i < COLS; i++) {
          expect(v.data[i + COLS * (j + ROWS * k)]).toBe(stored(i, ROWS - 1 - j, k) - 1024);
        }
      }
    }
  });

  it('handles a coronal series (slices along y)', async () => {
    // rows along +x, columns towards the feet (-z): normal = x cross -z = +y (LPS)
    const files = series([3, 0, 6], { iop: [1, 0, 0, 0, 0, -1] }, (p) => [1, p, 50]);
    const v = await decodeDicomSeries(files, 'coronal');
    // sorted positions 0, 3, 6. LPS: i=[0.5,0,0], j=[0,0,-0.7], k=[0,3,0], origin (1,0,50).
    // RAS: i=[-0.5,0,0], j=[0,0,-0.7], k=[0,-3,0], origin (-1,0,50); flip j: j=[0,0,0.7], origin z 50-1.4.
    near(v.affine, [-0.5, 0, 0, -1, 0, 0, -3, 0, 0, 0.7, 0, 48.6, 0, 0, 0, 1], 1e-9);
    expect(orientationCode(v.affine)).toBe('LSP');
    // first slice in the volume is the one at position 0 (second file, stored with s = 1)
    expect(v.data[0]).toBe(stored(0, ROWS - 1, 1) - 1024);
  });

  it('reads implicit VR LE, explicit VR BE, deflated LE and RLE Lossless alike', async () => {
    const ref = await decodeDicomSeries(series([0, 1, 2]), 'le');
    for (const ts of [
      '1.2.840.10008.1.2',
      '1.2.840.10008.1.2.2',
      '1.2.840.10008.1.2.1.99',
      '1.2.840.10008.1.2.5',
    ] as const) {
      const v = await decodeDicomSeries(series([0, 1, 2], { transferSyntax: ts }), ts);
      expect(Array.from(v.data)).toEqual(Array.from(ref.data));
      expect(v.affine).toEqual(ref.affine);
    }
  });

  it('sign-extends signed pixels from BitsStored and applies fractional rescale as float32', async () => {
    const pixels = [-5, 4091, 2047, 0, 1, 2, 3, 4, 5, 6, 7, 8]; // 4091 = 0x0FFB = -5 in 12 bits
    const signed = await decodeDicomSeries(
      series([0, 1], { signed: true, bitsStored: 12, pixels, intercept: 0 }),
      'signed',
    );
    // first stored row (pixels 0..3) ends up in the last volume row
    expect(Array.from(signed.data.subarray(8, 12))).toEqual([-5, -5, 2047, 0]);
    const frac = await decodeDicomSeries(series([0, 1], { pixels, slope: 0.5, intercept: -10.25 }), 'frac');
    expect(frac.data).toBeInstanceOf(Float32Array);
    expect(frac.dtype).toBe('float32');
    expect(Array.from(frac.data.subarray(8, 12))).toEqual([
      65531 * 0.5 - 10.25, // -5 written as unsigned 16-bit
      4091 * 0.5 - 10.25,
      1013.25,
      -10.25,
    ]);
    const wide = await decodeDicomSeries(series([0, 1], { pixels: new Array(12).fill(60000) }), 'wide');
    expect(wide.data).toBeInstanceOf(Int32Array);
    expect(wide.data[0]).toBe(60000 - 1024);
  });

  it('decodes PackBits RLE segments (hand-coded frames)', () => {
    const frame = (segments: number[][]) => {
      const out = new Uint8Array(64 + segments.reduce((n, sg) => n + sg.length, 0));
      const dv = new DataView(out.buffer);
      dv.setUint32(0, segments.length, true);
      let at = 64;
      segments.forEach((sg, k) => {
        dv.setUint32(4 + 4 * k, at, true);
        out.set(sg, at);
        at += sg.length;
      });
      return out;
    };
    // 0xfe = -2: repeat the next byte 3 times; 0x01: copy 2 literal bytes; 0x80: no-op
    expect(Array.from(decodeRleFrame(frame([[0xfe, 5, 0x01, 10, 11, 0x80]]), 5, 1))).toEqual([
      5, 5, 5, 10, 11,
    ]);
    // 16-bit: segment 0 = high bytes (1, 2), segment 1 = low bytes (3, 4) -> 0x0103, 0x0204 little-endian
    expect(
      Array.from(
        decodeRleFrame(
          frame([
            [0x01, 1, 2],
            [0x01, 3, 4],
          ]),
          2,
          2,
        ),
      ),
    ).toEqual([3, 1, 4, 2]);
    expect(() => decodeRleFrame(frame([[0x00, 1]]), 3, 1)).toThrow(/1 of 3 samples/);
  });

  it('caps the inflation of a deflated data set', async () => {
    const big = series([0, 1], {
      transferSyntax: '1.2.840.10008.1.2.1.99',
      pixels: new Array(ROWS * COLS).fill(0),
    });
    await expectInputError(
      decodeDicomSeries(big, 'deflated', { maxDecompressedBytes: 100 }),
      'TOO_LARGE',
      /deflated: slice-.*cap of 100 bytes/,
    );
  });

  it('refuses a folder mixing series, naming them', async () => {
    const files = [
      ...series([0, 1], { seriesUid: '1.2.3.111' }),
      ...series([2, 3], { seriesUid: '1.2.3.222' }),
    ];
    await expectInputError(
      decodeDicomSeries(files, 'mixed'),
      'BAD_SERIES',
      /mixed: .*2 DICOM series.*1\.2\.3\.111.*1\.2\.3\.222/,
    );
  });

  it('refuses missing slices, unequal gaps and duplicate positions, naming the gap', async () => {
    await expectInputError(
      decodeDicomSeries(series([0, 2, 4, 8, 10]), 'gap'),
      'BAD_SERIES',
      /missing slice: gap of 4\.000 mm between .* \(4\.000 mm\) and .* \(8\.000 mm\).* 2\.000 mm apart/,
    );
    await expectInputError(
      decodeDicomSeries(series([0, 2, 4, 5, 7]), 'uneq'),
      'BAD_SERIES',
      /unequal slice spacing: gap of 1\.000 mm between .*\(4\.000 mm\).*\(5\.000 mm\)/,
    );
    await expectInputError(
      decodeDicomSeries(series([0, 2, 2, 4]), 'dup'),
      'BAD_SERIES',
      /same position 2\.000/,
    );
    // small jitter is tolerated
    const jitter = await decodeDicomSeries(series([0, 2.004, 3.998, 6]), 'jitter');
    near(jitter.spacing, [0.5, 0.7, 2], 1e-9);
  });

  it('skips non-DICOM files, but refuses a folder without any', async () => {
    const files = [...series([0, 1]), { name: 'README.txt', bytes: new TextEncoder().encode('notes') }];
    expect((await decodeDicomSeries(files, 'with-readme')).dims).toEqual([4, 3, 2]);
    await expectInputError(
      decodeDicomSeries([{ name: 'a.txt', bytes: new Uint8Array(300) }], 'empty'),
      'BAD_SERIES',
      /empty: no DICOM files found/,
    );
  });

  it('refuses truncated pixel data', async () => {
    const files = series([0, 1]);
    files[1] = { name: files[1].name, bytes: files[1].bytes.subarray(0, files[1].bytes.length - 6) };
    await expectInputError(decodeDicomSeries(files, 'cut'), 'TRUNCATED', /cut: slice-.*truncated/);
  });
});

describe('DICOM series (real data)', () => {
  const tmp = useTempDir('raunet-dicom-');
  let j2k: Volume;
  beforeAll(async () => {
    j2k = await readDicomSeries(join(SHARED_DATA, 'dicom/ct-jpeg2000'));
  });

  it('reads the 3-slice GE series in position order whatever the file names', async () => {
    const src = join(SHARED_DATA, 'dicom/ct-3slice');
    const shuffled = join(tmp(), 'shuffled');
    await mkdir(shuffled);
    // 01 (z -126.69, top) -> "a", 02 -> "c", 03 (z -128.69, bottom) -> "b"; plus a stray text file
    await copyFile(join(src, '01.dcm'), join(shuffled, 'a'));
    await copyFile(join(src, '02.dcm'), join(shuffled, 'c'));
    await copyFile(join(src, '03.dcm'), join(shuffled, 'b'));
    await writeFile(join(shuffled, 'notes.txt'), 'not dicom');
    const v = await readDicomSeries(shuffled);
    const orig = await readDicomSeries(src);
    expect(Array.from(v.data)).toEqual(Array.from(orig.data));
    expect(v.dims).toEqual([512, 512, 3]);
    near(v.spacing, [0.810547, 0.810547, 1], 1e-6);
    // slice 0 is the most inferior one (03.dcm), origin at its last row
    near(
      v.affine,
      [
        -0.810547,
        0,
        0,
        235.199997,
        0,
        0.810547,
        0,
        226.800003 - 511 * 0.810547,
        0,
        0,
        1,
        -128.690002,
        0,
        0,
        0,
        1,
      ],
      1e-4,
    );
    // voxels: 03.dcm's stored int16 pixels plus the intercept -1024, rows flipped (read independently here)
    const bytes = await readFile(join(src, '03.dcm'));
    const ds = dicomParser.parseDicom(bytes);
    const el = ds.elements.x7fe00010;
    const raw = new DataView(bytes.buffer, bytes.byteOffset + el.dataOffset, el.length);
    for (const [i, j] of [
      [0, 0],
      [256, 256],
      [100, 400],
      [511, 3],
    ]) {
      expect(v.data[i + 512 * (511 - j)]).toBe(raw.getInt16(2 * (i + 512 * j), true) - 1024);
    }
  });

  it('decodes the JPEG 2000 series onto the grid of its label map, in HU', async () => {
    const seg = await readNifti(join(SHARED_DATA, 'dicom/example_seg_dicom.nii.gz'));
    expect(j2k.dims).toEqual(seg.dims);
    near(j2k.affine, seg.affine, 1e-3);
    expect(orientationCode(j2k.affine)).toBe('LAS');
    expect(j2k.data).toBeInstanceOf(Int16Array);
    const liver: number[] = [];
    for (let i = 0; i < seg.data.length; i++) if (seg.data[i] === 5) liver.push(j2k.data[i]);
    liver.sort((a, b) => a - b);
    expect(liver.length).toBe(366708);
    // soft tissue under the liver label (this scan is contrast-enhanced: median ~93 HU); a misaligned
    // grid (rows not flipped) would put the mask largely on fat/air, median ~ -75 HU
    const median = liver[liver.length >> 1];
    expect(median).toBeGreaterThan(40);
    expect(median).toBeLessThan(150);
    // air: the most common 50-HU bin of the scan is the one at -1000
    const bins = new Map<number, number>();
    for (const x of j2k.data) bins.set(Math.round(x / 50), (bins.get(Math.round(x / 50)) ?? 0) + 1);
    const mode = [...bins].sort((a, b) => b[1] - a[1])[0][0] * 50;
    expect(mode).toBe(-1000);
  });
});
