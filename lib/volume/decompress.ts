/**
 * Decompression with a cap on the output size, so a small crafted file (a "gzip bomb") cannot exhaust
 * memory. gzip goes through Node's native zlib (its `maxOutputLength` stops inflation at the cap);
 * zip archives through fflate's streaming unzipper fed in small chunks, the output counted as it comes.
 */
import { constants as bufferConstants } from 'node:buffer';
import { gunzipSync } from 'node:zlib';
import { Unzip, UnzipInflate } from 'fflate';
import { InputError } from '../errors.ts';

const BUFFER_MAX = bufferConstants.MAX_LENGTH;

/** Default cap on decompressed bytes: 4 GiB. */
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 4 * 1024 ** 3;

export interface ReadOptions {
  /** Refuse inputs that decompress to more than this many bytes (default 4 GiB, env RAUNET_MAX_DECOMPRESSED_BYTES). */
  maxDecompressedBytes?: number;
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

/** Input chunk size: deflate expands at most ~1032x, so one chunk yields at most ~66 MB before the check. */
const CHUNK = 64 * 1024;

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

class CapExceeded extends Error {}

function wrapInflateError(e: unknown, file: string, cap: number, what: string): never {
  if (e instanceof CapExceeded) throw tooLarge(file, cap);
  if (e instanceof InputError) throw e;
  const msg = e instanceof Error ? e.message : String(e);
  if (/unexpected EOF/i.test(msg)) {
    throw new InputError(`truncated ${what} stream (${msg})`, 'TRUNCATED', file);
  }
  if (e instanceof RangeError) {
    throw new InputError(`${what} data too large to hold in memory (${msg})`, 'TOO_LARGE', file);
  }
  throw new InputError(`corrupt ${what} stream (${msg})`, 'BAD_HEADER', file);
}

/**
 * Gunzip `bytes` (one or more members) with Node's native zlib, refusing output beyond the cap
 * (zlib stops inflating once `maxOutputLength` is reached, so a bomb never gets further in memory).
 */
export function gunzipCapped(bytes: Uint8Array, file: string, opts?: ReadOptions): Uint8Array {
  const cap = decompressionCap(opts);
  // zlib cannot produce a single buffer larger than the platform maximum: cap there as well.
  const limit = Math.min(cap, BUFFER_MAX);
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

/** Unzip every file entry of a .zip archive into memory, the total output capped. Directories are skipped. */
export function unzipCapped(
  bytes: Uint8Array,
  file: string,
  opts?: ReadOptions,
): Array<{ name: string; bytes: Uint8Array }> {
  const cap = decompressionCap(opts);
  let total = 0;
  const entries: Array<{ name: string; chunks: Uint8Array[]; size: number; done: boolean }> = [];
  const unzip = new Unzip((f) => {
    if (f.name.endsWith('/')) return;
    const entry = { name: f.name, chunks: [] as Uint8Array[], size: 0, done: false };
    entries.push(entry);
    f.ondata = (err, chunk, final) => {
      if (err) throw err;
      total += chunk.length;
      if (total > cap) throw new CapExceeded();
      if (chunk.length) entry.chunks.push(chunk);
      entry.size += chunk.length;
      if (final) entry.done = true;
    };
    f.start();
  });
  unzip.register(UnzipInflate);
  try {
    for (let at = 0; at < bytes.length; at += CHUNK) {
      const end = Math.min(bytes.length, at + CHUNK);
      unzip.push(bytes.subarray(at, end), end === bytes.length);
    }
  } catch (e) {
    wrapInflateError(e, file, cap, 'zip');
  }
  const broken = entries.find((e) => !e.done);
  if (broken) throw new InputError(`truncated zip archive (entry ${broken.name})`, 'TRUNCATED', file);
  return entries.map((e) => ({ name: e.name, bytes: concat(e.chunks, e.size) }));
}
