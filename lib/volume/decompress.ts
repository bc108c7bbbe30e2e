/**
 * Decompression with a bound on the output size, so a small crafted file (a "gzip bomb") cannot exhaust
 * memory. gzip goes through Node's native zlib, whose `maxOutputLength` stops inflation at the bound:
 * a NIfTI file is bounded by what its header says it holds (`gunzipPrefix` reads the header first),
 * anything else by the cap. Zip archives are checked against their declared sizes before any entry is
 * inflated, and each entry is bounded by its declared size.
 */
import { constants as bufferConstants } from 'node:buffer';
import { gunzipSync, inflateRawSync, constants as zlibConstants } from 'node:zlib';
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
 * Gunzip `bytes`, stopping as soon as the output would exceed `limit` bytes (then `onExceed()` is
 * thrown): no more than about `limit` bytes are ever held.
 */
export function gunzipBounded(
  bytes: Uint8Array,
  file: string,
  limit: number,
  onExceed: () => Error,
): Uint8Array {
  // zlib cannot produce a single buffer larger than the platform maximum: bound there as well.
  const max = Math.max(1, Math.floor(Math.min(limit, BUFFER_MAX)));
  try {
    const out = gunzipSync(bytes, { maxOutputLength: max });
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw onExceed();
    throw gzipError(e, file);
  }
}

function gzipError(e: unknown, file: string): InputError {
  const code = (e as NodeJS.ErrnoException).code;
  const msg = e instanceof Error ? e.message : String(e);
  if (code === 'Z_BUF_ERROR' || /unexpected end/i.test(msg)) {
    return new InputError(`truncated gzip stream (${msg})`, 'TRUNCATED', file);
  }
  return new InputError(`corrupt gzip stream (${msg})`, 'BAD_HEADER', file);
}

/** deflate never expands more than about 1032:1; this bounds what a prefix of `n` bytes can give. */
const prefixBound = (n: number) => n * 1040 + 65536;

/**
 * The first (at least) `want` bytes of a gzip stream, inflating only a prefix of the compressed bytes
 * (a few KiB, more only when the stream's own header is long): whatever follows is not materialised.
 * Fewer bytes come back only when the whole stream is shorter.
 */
export function gunzipPrefix(bytes: Uint8Array, file: string, want: number): Uint8Array {
  for (let take = 4096; ; take *= 16) {
    const n = Math.min(take, bytes.length);
    let out: Buffer;
    try {
      out = gunzipSync(bytes.subarray(0, n), {
        finishFlush: zlibConstants.Z_SYNC_FLUSH, // a cut stream is fine here: we asked for a prefix
        maxOutputLength: Math.min(prefixBound(n), BUFFER_MAX),
      });
    } catch (e) {
      throw gzipError(e, file);
    }
    if (out.length >= want || n === bytes.length)
      return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  }
}

/** The first `want` bytes of a raw-deflate stream (zip entries), like `gunzipPrefix`. */
function inflateRawPrefix(data: Uint8Array, want: number): Uint8Array | undefined {
  for (let take = 4096; ; take *= 16) {
    const n = Math.min(take, data.length);
    try {
      const out = inflateRawSync(data.subarray(0, n), {
        finishFlush: zlibConstants.Z_SYNC_FLUSH,
        maxOutputLength: Math.min(prefixBound(n), BUFFER_MAX),
      });
      if (out.length >= want || n === data.length) return out.subarray(0, want);
    } catch {
      return undefined; // corrupt: the full inflation reports it, if the entry is kept
    }
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
  select: {
    /** Keep an entry (given its name and first 132 bytes)? Entries not kept are never fully inflated. */
    keep?: (name: string, head: Uint8Array) => boolean;
  } = {},
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
  // The directory's declared sizes first: an archive that says it holds more than the cap is refused
  // before anything is inflated.
  let declared = 0;
  for (let n = 0, at = cdOffset; n < count; n++) {
    if (at + 46 > bytes.length || u32(at) !== CENTRAL_SIG) break; // the main loop names this error
    declared += u32(at + 24);
    at += 46 + u16(at + 28) + u16(at + 30) + u16(at + 32);
  }
  if (declared > cap) throw tooLarge(file, cap);
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
    if (select.keep) {
      const head = method === 8 ? inflateRawPrefix(data, 132) : data.subarray(0, 132);
      if (head && !select.keep(name, head)) continue;
    }
    const remaining = cap - total;
    let content: Uint8Array;
    if (method === 0) {
      if (data.length > remaining) throw tooLarge(file, cap);
      content = new Uint8Array(data); // a copy (data may be a Node Buffer, whose slice() is a view)
    } else if (method === 8) {
      // At most one byte more than the entry declares: enough to tell that it lies.
      const bound = Math.min(remaining, size + 1, BUFFER_MAX);
      try {
        const buf = inflateRawSync(data, { maxOutputLength: Math.max(1, Math.floor(bound)) });
        content = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
          if (bound < remaining) {
            throw new InputError(
              `zip entry ${name} inflates to more than the ${size} bytes the archive declares`,
              'BAD_HEADER',
              file,
            );
          }
          throw tooLarge(file, cap);
        }
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
