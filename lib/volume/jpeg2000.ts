/**
 * JPEG 2000 frame decoding (DICOM transfer syntaxes 1.2.840.10008.1.2.4.90 / .91) with OpenJPEG compiled to
 * WebAssembly (`@cornerstonejs/codec-openjpeg`). The wasm module is loaded once, on first use.
 */
// A static import, so that esbuild puts the codec's JavaScript into the Lambda bundles; its .wasm file is
// read from the folder of the running module (`__dirname`; the Lambda bundles get a copy, see
// lib/infra/pipeline-function.ts) or from node_modules when run from source.
import openJpegFactory from '@cornerstonejs/codec-openjpeg/decodewasmjs';

interface FrameInfo {
  width: number;
  height: number;
  bitsPerSample: number;
  componentCount: number;
  isSigned: boolean;
}

/** The decoder interface the cornerstone WebAssembly codecs share (OpenJPEG, CharLS, libjpeg-turbo). */
export interface WasmFrameDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  getDecodedBuffer(): Uint8Array;
  decode(): void;
  getFrameInfo(): Omit<FrameInfo, 'isSigned'> & { isSigned?: boolean };
  delete(): void;
}

interface OpenJpegModule {
  J2KDecoder: new () => WasmFrameDecoder;
}

type OpenJpegFactory = (overrides?: Record<string, unknown>) => Promise<OpenJpegModule>;

let codec: Promise<OpenJpegModule> | undefined;

function loadCodec(): Promise<OpenJpegModule> {
  if (!codec) {
    const factory = openJpegFactory as unknown as OpenJpegFactory;
    // The library logs every header it reads; keep stdout clean (the CLI prints JSON there).
    codec = factory({ print: () => {}, printErr: () => {} });
  }
  return codec;
}

export interface DecodedFrame extends FrameInfo {
  /** Samples, 1 byte each when bitsPerSample <= 8 else 2 bytes (native little-endian), copied out of wasm memory. */
  pixels: Uint8Array;
}

export async function decodeJpeg2000(frame: Uint8Array): Promise<DecodedFrame> {
  const mod = await loadCodec();
  return decodeWithWasm(new mod.J2KDecoder(), frame);
}

/** Decode one frame with a cornerstone WebAssembly decoder, copy the samples out, free the decoder. */
export function decodeWithWasm(decoder: WasmFrameDecoder, frame: Uint8Array): DecodedFrame {
  try {
    decoder.getEncodedBuffer(frame.length).set(frame);
    decoder.decode();
    const info = decoder.getFrameInfo();
    return {
      width: info.width,
      height: info.height,
      bitsPerSample: info.bitsPerSample,
      componentCount: info.componentCount,
      isSigned: Boolean(info.isSigned),
      pixels: decoder.getDecodedBuffer().slice(),
    };
  } finally {
    decoder.delete();
  }
}
