/**
 * JPEG-family DICOM transfer syntaxes: series written here (dcmjs) in each syntax from the same pixels,
 * read back voxel for voxel against the uncompressed series (lossless), or within the codec's error
 * with a warning (lossy).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../lib/errors.ts';
import { readVolume } from '../../lib/volume/read.ts';
import type { Volume } from '../../lib/volume/volume.ts';
import { dcmSlice } from '../datasets/dcmjs-slices.ts';
import { encodeJpegBaseline, encodeJpegLossless, encodeJpegLs } from './jpeg-encoders.ts';

const W = 40;
const H = 30;
const NZ = 3;
/** Int16 stored values with negatives, edges and noise-like texture. */
const hu = (c: number, r: number, k: number) =>
  -1024 + ((c * 37 + r * 91 + k * 13 + ((c * r * 7919) % 211)) % 3100) + (c === 5 ? 2000 : 0);
const grey = (c: number, r: number, k: number) => 20 + c * 3 + r * 2 + k * 10 + (c % 4) * 5;

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'raunet-jpeg-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

type Encode = (pixels: number[]) => Promise<Uint8Array> | Uint8Array;

async function series(name: string, value: typeof hu, bits: 8 | 16, ts?: string, encode?: Encode) {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  for (let k = 0; k < NZ; k++) {
    const pixels = Array.from({ length: W * H }, (_, p) => value(p % W, Math.floor(p / W), k));
    const compressed = ts && encode ? { transferSyntax: ts, frame: await encode(pixels) } : undefined;
    const bytes = dcmSlice({
      seriesUid: `2.25.77.${bits}`,
      sopUid: `2.25.77.${bits}.${k}`,
      ipp: [0, 0, 3 * k],
      rows: H,
      cols: W,
      pixels,
      bits,
      intercept: bits === 16 ? 0 : -100,
      compressed,
    });
    await writeFile(join(dir, `im${k}.dcm`), bytes);
  }
  return dir;
}

const asU16 = (pixels: number[]) => Uint16Array.from(pixels, (v) => v & 0xffff);

async function read(dir: string) {
  const warnings: string[] = [];
  const v = await readVolume(dir, { onWarning: (m) => warnings.push(m) });
  return { v, warnings };
}

function maxDiff(a: Volume, b: Volume): number {
  let m = 0;
  for (let i = 0; i < a.data.length; i++) m = Math.max(m, Math.abs(a.data[i] - b.data[i]));
  return m;
}

describe('JPEG transfer syntaxes', () => {
  let plain16: Volume;
  let plain8: Volume;
  beforeAll(async () => {
    plain16 = (await read(await series('plain16', hu, 16))).v;
    plain8 = (await read(await series('plain8', grey, 8))).v;
    expect(plain16.data.some((x) => x < 0)).toBe(true);
  });

  const lossless: Array<[string, string, Encode]> = [
    ['JPEG-LS lossless', '1.2.840.10008.1.2.4.80', (p) => encodeJpegLs(asU16(p), W, H)],
    ['JPEG Lossless SV1', '1.2.840.10008.1.2.4.70', (p) => encodeJpegLossless(asU16(p), W, H)],
    ['JPEG Lossless', '1.2.840.10008.1.2.4.57', (p) => encodeJpegLossless(asU16(p), W, H)],
  ];
  for (const [what, ts, encode] of lossless) {
    it(`${what} (${ts}) reads voxel for voxel as the uncompressed series, without warning`, async () => {
      const { v, warnings } = await read(await series(`ts-${ts}`, hu, 16, ts, encode));
      expect(v.dims).toEqual(plain16.dims);
      expect(v.affine).toEqual(plain16.affine);
      expect(Array.from(v.data)).toEqual(Array.from(plain16.data));
      expect(warnings).toEqual([]);
    });
  }

  it('JPEG-LS near-lossless (.81): within NEAR of the original, with a lossy warning', async () => {
    const ts = '1.2.840.10008.1.2.4.81';
    const { v, warnings } = await read(
      await series('near', hu, 16, ts, (p) => encodeJpegLs(asU16(p), W, H, 2)),
    );
    expect(maxDiff(v, plain16)).toBeLessThanOrEqual(2);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/near: lossy compression \(transfer syntax 1\.2\.840\.10008\.1\.2\.4\.81\)/);
  });

  it('baseline JPEG (.50, 8 bit): close to the original, with a lossy warning', async () => {
    const ts = '1.2.840.10008.1.2.4.50';
    const { v, warnings } = await read(
      await series('baseline', grey, 8, ts, (p) => encodeJpegBaseline(Uint8Array.from(p), W, H, 80)),
    );
    expect(v.dims).toEqual(plain8.dims);
    expect(maxDiff(v, plain8)).toBeLessThanOrEqual(8);
    expect(maxDiff(v, plain8)).toBeGreaterThan(0); // it is lossy: the test does compare decoded pixels
    expect(warnings.join()).toMatch(/lossy compression \(transfer syntax 1\.2\.840\.10008\.1\.2\.4\.50\)/);
  });

  it('12-bit extended JPEG is refused as unsupported, naming the file', async () => {
    const ts = '1.2.840.10008.1.2.4.51';
    const dir = await series('twelve', grey, 8, ts, async (p) => {
      const jpeg = await encodeJpegBaseline(Uint8Array.from(p), W, H);
      // set the SOF0 precision byte to 12
      for (let i = 2; i < jpeg.length; ) {
        if (jpeg[i + 1] === 0xc0) {
          jpeg[i + 4] = 12;
          break;
        }
        i += 2 + ((jpeg[i + 2] << 8) | jpeg[i + 3]);
      }
      return jpeg;
    });
    const e = await readVolume(dir).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(InputError);
    expect((e as InputError).code).toBe('UNSUPPORTED');
    expect((e as Error).message).toMatch(/im0\.dcm: 12-bit JPEG is not supported/);
  });
});
