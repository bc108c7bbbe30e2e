/**
 * JPEG-family frame decoders for DICOM, all maintained packages from the field, loaded on first use:
 * - JPEG Lossless, process 14 (1.2.840.10008.1.2.4.57, and .70 = first-order prediction):
 *   `jpeg-lossless-decoder-js` (pure JavaScript, the decoder cornerstone uses);
 * - JPEG-LS lossless and near-lossless (.80 / .81): CharLS compiled to WebAssembly
 *   (`@cornerstonejs/codec-charls`);
 * - JPEG baseline (.50, 8 bit) and extended (.51, 8 bit samples; 12-bit is refused): libjpeg-turbo
 *   compiled to WebAssembly (`@cornerstonejs/codec-libjpeg-turbo-8bit`). Lossy.
 * Every decoder returns the same `DecodedFrame` as the JPEG 2000 one.
 */
// Static imports, so that esbuild puts the decoders' JavaScript into the Lambda bundles (their .wasm files
// are copied beside the bundle, see lib/infra/pipeline-function.ts); the WebAssembly is instantiated on
// first use only.
import charlsFactory from '@cornerstonejs/codec-charls/decodewasmjs';
import turboFactory from '@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs';
import { Decoder as JpegLosslessDecoder } from 'jpeg-lossless-decoder-js';
import { type DecodedFrame, decodeWithWasm, type WasmFrameDecoder } from './jpeg2000.ts';

type Factory<M> = (overrides?: Record<string, unknown>) => Promise<M>;

const quiet = { print: () => {}, printErr: () => {} };

let charls: Promise<{ JpegLSDecoder: new () => WasmFrameDecoder }> | undefined;
let turbo: Promise<{ JPEGDecoder: new () => WasmFrameDecoder }> | undefined;

export async function decodeJpegLs(frame: Uint8Array): Promise<DecodedFrame> {
  charls ??= (charlsFactory as Factory<{ JpegLSDecoder: new () => WasmFrameDecoder }>)(quiet);
  const mod = await charls;
  return decodeWithWasm(new mod.JpegLSDecoder(), frame);
}

export async function decodeJpegBaseline(frame: Uint8Array): Promise<DecodedFrame> {
  turbo ??= (turboFactory as Factory<{ JPEGDecoder: new () => WasmFrameDecoder }>)(quiet);
  const mod = await turbo;
  return decodeWithWasm(new mod.JPEGDecoder(), frame);
}

interface LosslessDecoder {
  decode(buffer: ArrayBuffer, offset?: number, length?: number, numBytes?: number): Uint8Array | Uint16Array;
  xDim: number;
  yDim: number;
  numComp: number;
  precision?: number;
}

export function decodeJpegLossless(frame: Uint8Array, bytesPerSample: number): DecodedFrame {
  const d = new (JpegLosslessDecoder as new () => LosslessDecoder)();
  const copy = new Uint8Array(frame); // a copy that starts at offset 0 (Buffer.slice would be a view)
  const out = d.decode(copy.buffer, 0, copy.length, bytesPerSample);
  return {
    width: d.xDim,
    height: d.yDim,
    bitsPerSample: d.precision ?? bytesPerSample * 8,
    componentCount: d.numComp,
    isSigned: false,
    pixels: new Uint8Array(out.buffer, out.byteOffset, out.byteLength).slice(),
  };
}

/** The first Start Of Frame marker's sample precision (bits), or undefined when none is found. */
export function jpegPrecision(frame: Uint8Array): number | undefined {
  for (let i = 2; i + 4 < frame.length; ) {
    if (frame[i] !== 0xff) return undefined;
    const marker = frame[i + 1];
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return frame[i + 4];
    }
    i += 2 + ((frame[i + 2] << 8) | frame[i + 3]);
  }
  return undefined;
}
