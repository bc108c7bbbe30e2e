/**
 * Malformed and unusual inputs, generated on the fly (nothing large is committed): NIfTI files with
 * patched header fields, gzip and zip bombs built from one compressed block of zeros repeated (so a
 * GiB-sized bomb costs a few MB and milliseconds to make), checksums and leftovers of folders.
 * Shared by test/robustness and bench/robustness.bench.ts.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { constants, deflateRawSync, gzipSync } from 'node:zlib';
import { afterAll } from 'vitest';
import { encodeNifti } from '../../lib/volume/nifti.ts';
import { createVolume, type Vec3, type VoxelArray } from '../../lib/volume/volume.ts';

/** A valid little-endian NIfTI-1 (.nii bytes) of `data` on a 1 mm grid. */
export function nifti(data: VoxelArray, dims: Vec3): Uint8Array {
  return encodeNifti(createVolume(data, dims, [1, 1, 1]));
}

/** Copy of NIfTI-1 bytes with float32 header fields set (byte offset -> value). */
export function patchFloat32(bytes: Uint8Array, fields: Record<number, number>): Uint8Array {
  const out = bytes.slice();
  const view = new DataView(out.buffer);
  for (const [offset, v] of Object.entries(fields)) view.setFloat32(Number(offset), v, true);
  return out;
}

/** NIfTI-1 header byte offsets used by the tests. */
export const NIFTI1 = { sclSlope: 112, sclInter: 116, srowX: 280 } as const;

const MiB = 1024 ** 2;
const ZERO_BLOCK = 64 * MiB;

/**
 * A gzip file: `head` followed by `zeroBytes` of zeros (rounded up to 64 MiB), as several gzip members
 * (valid gzip: readers concatenate members). About 64 KiB per 64 MiB of zeros.
 */
export function gzipBomb(head: Uint8Array, zeroBytes: number): Uint8Array {
  const zeros = gzipSync(new Uint8Array(ZERO_BLOCK), { level: 9 });
  const n = Math.ceil(zeroBytes / ZERO_BLOCK);
  return Buffer.concat([gzipSync(head), ...Array.from({ length: n }, () => zeros)]);
}

/** Raw deflate of `zeroBytes` zeros (rounded up to 64 MiB): byte-aligned flushed segments, then a final block. */
export function deflateZeros(zeroBytes: number): Uint8Array {
  const segment = deflateRawSync(new Uint8Array(ZERO_BLOCK), {
    level: 9,
    finishFlush: constants.Z_FULL_FLUSH, // no final-block bit, ends byte-aligned, no back-references across
  });
  const n = Math.ceil(zeroBytes / ZERO_BLOCK);
  return Buffer.concat([...Array.from({ length: n }, () => segment), new Uint8Array([3, 0])]);
}

export interface ZipEntry {
  name: string;
  /** Raw-deflated bytes (method 8). */
  deflated: Uint8Array;
  /** The uncompressed size the archive declares (may lie). */
  declaredSize: number;
}

/** A .zip archive (no CRCs checked by our reader, so they are left 0). */
export function zipArchive(entries: ZipEntry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(8, 8);
    local.writeUInt32LE(e.deflated.length, 18);
    local.writeUInt32LE(e.declaredSize >>> 0, 22);
    local.writeUInt16LE(name.length, 26);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(20, 4);
    cd.writeUInt16LE(20, 6);
    cd.writeUInt16LE(8, 10);
    cd.writeUInt32LE(e.deflated.length, 20);
    cd.writeUInt32LE(e.declaredSize >>> 0, 24);
    cd.writeUInt16LE(name.length, 28);
    cd.writeUInt32LE(offset, 42);
    parts.push(local, name, e.deflated);
    central.push(cd, name);
    offset += 30 + name.length + e.deflated.length;
  }
  const cdSize = central.reduce((s, b) => s + b.length, 0);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cdSize, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, ...central, eocd]);
}

/** Every file under `dir` (hidden ones too) with its SHA-256, by path relative to `dir`. */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out[relative(dir, p)] = createHash('sha256').update(readFileSync(p)).digest('hex');
      else out[relative(dir, p)] = 'special';
    }
  };
  if (statSync(dir, { throwIfNoEntry: false })?.isDirectory()) walk(dir);
  return out;
}

/** A scratch root removed after the file's tests, and `fresh()`: a new empty folder in it per call. */
export function scratchFolders(prefix: string): { root: string; fresh: () => string } {
  const root = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  let n = 0;
  return {
    root,
    fresh: () => {
      const d = join(root, `t${n++}`);
      mkdirSync(d);
      return d;
    },
  };
}
