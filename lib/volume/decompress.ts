/**
 * Decompression with a cap on the output size, so a small crafted file (a "gzip bomb") cannot exhaust
 * memory. gzip goes through Node's native zlib (its `maxOutputLength` stops inflation at the cap);
 * zip archives entry by entry through the same zlib, each entry capped at what the cap leaves.
 */
import { constants as bufferConstants } from 'node:buffer';
import { gunzipSync, inflateRawSync } from 'node:zlib';
import { InputError } from '../errors.ts';

const BUFFER_MAX = bufferConstants.MAX_LENGTH;

/** Default cap on decompressed bytes: 4 GiB. */
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 4 * 1024 ** 3;

export interface ReadOptions {
  /** Refuse inputs that decompress to more than this many bytes (default 4 GiB, env RAUNET_MAX_DECOMPRESSED_BYTES). */
  maxDecompressedBytes?: number;
  /** Told about inputs that read but deserve a caveat (lossy JPEG DICOM), one line each. */
  onWarning?: (message: string) => void;
}

/** The cap in effect: the option, else `RAUNET_MAX_DECOMPRESSED_BYTES`, else 4 GiB. */
export function decompressionCap(opts?: ReadOptions): number {
  if (opts?.maxDecompressedBytes !== undefined) {
    if (!(opts.maxDecompressedBytes > 0)) {
      throw new InputError(
        `maxDecompressedBytes must be a positive number, got ${opts.maxDecompressedBytes}`,
      );
    }
    return opts.maxDecompressedBytes;
  }
  const env = process.env.RAUNET_MAX_DECOMPRESSED_BYTES;
  if (env !== undefined && env.trim() !== '') {
    const v = Number(env);
    if (!(v > 0)) {
      throw new InputError(`RAUNET_MAX_DECOMPRESSED_BYTES must be a positive number of bytes, got "${env}"`);
    }
    return v;
  }
  return DEFAULT_MAX_DECOMPRESSED_BYTES;
}

export function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${+(n / 1024 ** 3).toFixed(2)} GiB`;
  if (n >= 1024 ** 2) return `${+(n / 1024 ** 2).toFixed(2)} MiB`;
  if (n >= 1024) return `${+(n / 1024).toFixed(2)} KiB`;
  return `${n} bytes`;
}

export function tooLarge(file: string, cap: number): InputError {
  return new InputError(
    `decompresses to more than the cap of ${formatBytes(cap)} (${cap} bytes); raise maxDecompressedBytes or RAUNET_MAX_DECOMPRESSED_BYTES if the file is genuine`,
    'TOO_LARGE',
    file,
  );
}

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

export function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 3 && bytes[3] === 4;
}

/**
 * Gunzip `bytes` (one or more members) with Node's native zlib, refusing output beyond the cap
 * (zlib stops inflating once `maxOutputLength` is reached, so a bomb never gets further in memory).
 */
export function gunzipCapped(bytes: Uint8Array, file: string, opts?: ReadOptions): Uint8Array {
  const cap = decompressionCap(opts);
  // zlib cannot produce a single buffer larger than the platform maximum: cap there as well.
  const limit = Math.floor(Math.min(cap, BUFFER_MAX));
  try {
    const out = gunzipSync(bytes, { maxOutputLength: limit });
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(file, limit);
    const msg = e instanceof Error ? e.message : String(e);
    if (code === 'Z_BUF_ERROR' || /unexpected end/i.test(msg)) {
      throw new InputError(`truncated gzip stream (${msg})`, 'TRUNCATED', file);
    }
    throw new InputError(`corrupt gzip stream (${msg})`, 'BAD_HEADER', file);
  }
}

const EOCD_SIG = 0x06054b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;

/**
 * Unzip every file entry of a .zip archive into memory, the total output capped. Entries are located
 * through the central directory and inflated with native zlib (`inflateRawSync` with the remaining cap
 * as `maxOutputLength`). Directories are skipped; encrypted entries, ZIP64 archives and methods other
 * than stored/deflate are refused.
 */
export function unzipCapped(
  bytes: Uint8Array,
  file: string,
  opts?: ReadOptions,
): Array<{ name: string; bytes: Uint8Array }> {
  const cap = decompressionCap(opts);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (o: number) => view.getUint16(o, true);
  const u32 = (o: number) => view.getUint32(o, true);
  let eocd = -1;
  for (let o = bytes.length - 22; o >= Math.max(0, bytes.length - 22 - 0xffff); o--) {
    if (u32(o) === EOCD_SIG) {
      eocd = o;
      break;
    }
  }
  if (eocd < 0)
    throw new InputError('truncated or corrupt zip archive (no end of central directory)', 'TRUNCATED', file);
  const count = u16(eocd + 10);
  const cdOffset = u32(eocd + 16);
  if (count === 0xffff || cdOffset === 0xffffffff) {
    throw new InputError('ZIP64 archives are not supported', 'UNSUPPORTED', file);
  }
  const out: Array<{ name: string; bytes: Uint8Array }> = [];
  let total = 0;
  let at = cdOffset;
  const decoder = new TextDecoder();
  for (let n = 0; n < count; n++) {
    if (at + 46 > bytes.length || u32(at) !== CENTRAL_SIG) {
      throw new InputError('corrupt zip archive (bad central directory)', 'BAD_HEADER', file);
    }
    const flags = u16(at + 8);
    const method = u16(at + 10);
    const compSize = u32(at + 20);
    const size = u32(at + 24);
    const nameLen = u16(at + 28);
    const next = at + 46 + nameLen + u16(at + 30) + u16(at + 32);
    const name = decoder.decode(bytes.subarray(at + 46, at + 46 + nameLen));
    const local = u32(at + 42);
    at = next;
    if (name.endsWith('/')) continue;
    if (flags & 1) throw new InputError(`zip entry ${name} is encrypted`, 'UNSUPPORTED', file);
    if (local + 30 > bytes.length || u32(local) !== LOCAL_SIG) {
      throw new InputError(`truncated or corrupt zip archive (entry ${name})`, 'TRUNCATED', file);
    }
    const dataStart = local + 30 + u16(local + 26) + u16(local + 28);
    if (dataStart + compSize > bytes.length) {
      throw new InputError(`truncated zip archive (entry ${name})`, 'TRUNCATED', file);
    }
    const data = bytes.subarray(dataStart, dataStart + compSize);
    const remaining = cap - total;
    let content: Uint8Array;
    if (method === 0) {
      if (data.length > remaining) throw tooLarge(file, cap);
      content = new Uint8Array(data); // a copy (data may be a Node Buffer, whose slice() is a view)
    } else if (method === 8) {
      try {
        const buf = inflateRawSync(data, {
          maxOutputLength: Math.max(1, Math.floor(Math.min(remaining, BUFFER_MAX))),
        });
        content = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(file, cap);
        const msg = e instanceof Error ? e.message : String(e);
        throw new InputError(`corrupt zip entry ${name} (${msg})`, 'BAD_HEADER', file);
      }
    } else {
      throw new InputError(
        `zip entry ${name} uses compression method ${method} (only stored and deflate)`,
        'UNSUPPORTED',
        file,
      );
    }
    if (content.length !== size) {
      throw new InputError(
        `corrupt zip entry ${name}: ${content.length} bytes, the directory says ${size}`,
        'BAD_HEADER',
        file,
      );
    }
    total += content.length;
    if (total > cap) throw tooLarge(file, cap);
    out.push({ name, bytes: content });
  }
  return out;
}
