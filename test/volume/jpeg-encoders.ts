/**
 * Test-only encoders for the JPEG transfer syntaxes: CharLS (JPEG-LS) and libjpeg-turbo (baseline JPEG)
 * from the same cornerstone packages (their full builds, which encode), and a small JPEG Lossless
 * (process 14, first-order prediction) encoder written here from ITU-T T.81 Annex H, since no npm
 * package encodes that syntax.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const quiet = { print: () => {}, printErr: () => {} };

interface WasmEncoder {
  getDecodedBuffer(info: Record<string, unknown>): Uint8Array;
  getEncodedBuffer(): Uint8Array;
  encode(): void;
  setNearLossless?(near: number): void;
  setQuality?(quality: number): void;
  setProgressive?(progressive: boolean): void;
  delete(): void;
}

let charls: Promise<{ JpegLSEncoder: new () => WasmEncoder }> | undefined;
let turbo: Promise<{ JPEGEncoder: new () => WasmEncoder }> | undefined;

export async function encodeJpegLs(
  samples: Uint16Array,
  width: number,
  height: number,
  near = 0,
): Promise<Uint8Array> {
  charls ??= (
    require('@cornerstonejs/codec-charls/wasmjs') as (
      o: object,
    ) => Promise<{ JpegLSEncoder: new () => WasmEncoder }>
  )(quiet);
  const m = await charls;
  const e = new m.JpegLSEncoder();
  try {
    const buf = e.getDecodedBuffer({ width, height, bitsPerSample: 16, componentCount: 1, isSigned: false });
    buf.set(new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength));
    if (near) e.setNearLossless?.(near);
    e.encode();
    return e.getEncodedBuffer().slice();
  } finally {
    e.delete();
  }
}

export async function encodeJpegBaseline(
  samples: Uint8Array,
  width: number,
  height: number,
  quality = 95,
): Promise<Uint8Array> {
  turbo ??= (
    require('@cornerstonejs/codec-libjpeg-turbo-8bit/wasmjs') as (
      o: object,
    ) => Promise<{ JPEGEncoder: new () => WasmEncoder }>
  )(quiet);
  const m = await turbo;
  const e = new m.JPEGEncoder();
  try {
    const buf = e.getDecodedBuffer({ width, height, bitsPerSample: 8, componentCount: 1, isSigned: false });
    buf.set(samples);
    e.setProgressive?.(false);
    e.setQuality?.(quality);
    e.encode();
    return e.getEncodedBuffer().slice();
  } finally {
    e.delete();
  }
}

/** JPEG Lossless, 16-bit, one component, predictor 1 (left), one Huffman table of 17 five-bit codes. */
export function encodeJpegLossless(samples: Uint16Array, width: number, height: number): Uint8Array {
  const out: number[] = [];
  const u16 = (v: number) => out.push((v >> 8) & 0xff, v & 0xff);
  u16(0xffd8);
  u16(0xffc3); // SOF3
  u16(11);
  out.push(16);
  u16(height);
  u16(width);
  out.push(1, 1, 0x11, 0);
  u16(0xffc4); // DHT: class 0, id 0, symbols 0..16 all of code length 5
  u16(2 + 1 + 16 + 17);
  out.push(0x00);
  for (let len = 1; len <= 16; len++) out.push(len === 5 ? 17 : 0);
  for (let s = 0; s <= 16; s++) out.push(s);
  u16(0xffda); // SOS: predictor 1, point transform 0
  u16(8);
  out.push(1, 1, 0x00, 1, 0, 0);
  let acc = 0;
  let nbits = 0;
  const put = (value: number, n: number) => {
    for (let b = n - 1; b >= 0; b--) {
      acc = (acc << 1) | ((value >> b) & 1);
      if (++nbits === 8) {
        out.push(acc);
        if (acc === 0xff) out.push(0);
        acc = 0;
        nbits = 0;
      }
    }
  };
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const pred = x > 0 ? samples[i - 1] : y > 0 ? samples[i - width] : 1 << 15;
      let diff = (samples[i] - pred) & 0xffff;
      if (diff >= 0x8000) diff -= 0x10000;
      const ssss = diff === -0x8000 ? 16 : diff === 0 ? 0 : 32 - Math.clz32(Math.abs(diff));
      put(ssss, 5); // canonical code of symbol s is s itself, on 5 bits
      if (ssss > 0 && ssss < 16) put(diff > 0 ? diff : diff + (1 << ssss) - 1, ssss);
    }
  }
  if (nbits > 0) put(0x7f, 8 - nbits); // pad with ones
  u16(0xffd9);
  return Uint8Array.from(out);
}
