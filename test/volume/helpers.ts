/**
 * Test-only helpers: a hand-rolled NIfTI file builder (any version, either byte order) written straight
 * from the nifti1.h / nifti2.h field offsets, independent of `lib/volume/nifti-header.ts`, and paths to
 * the shared real data.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll } from 'vitest';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const rel = resolve(repoRoot, '../shared/data');
export const SHARED_DATA = existsSync(rel) ? rel : '/work/shared/data';

export interface RawNifti {
  version?: 1 | 2;
  littleEndian?: boolean;
  dim: number[]; // dim[0..] (dim[0] = ndim), padded with 1
  datatype: number;
  bitpix: number;
  pixdim?: number[];
  sclSlope?: number;
  sclInter?: number;
  qformCode?: number;
  sformCode?: number;
  quatern?: number[];
  qoffset?: number[];
  srow?: number[];
  /** Voxel bytes already in the file's byte order. */
  data: Uint8Array;
  magic?: string;
}

export function buildNifti(f: RawNifti): Uint8Array {
  const v2 = f.version === 2;
  const le = f.littleEndian ?? true;
  const hdr = v2 ? 540 : 348;
  const off = hdr + 4;
  const out = new Uint8Array(off + f.data.length);
  const dv = new DataView(out.buffer);
  const dim = [...f.dim, 1, 1, 1, 1, 1, 1, 1, 1].slice(0, 8);
  const pixdim = [...(f.pixdim ?? [1, 1, 1, 1]), 0, 0, 0, 0, 0, 0, 0, 0].slice(0, 8);
  const srow = f.srow ?? [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  const q = f.quatern ?? [0, 0, 0];
  const qo = f.qoffset ?? [0, 0, 0];
  const magic = f.magic ?? (v2 ? 'n+2\0\r\n\x1a\n' : 'n+1\0');
  dv.setInt32(0, hdr, le);
  if (v2) {
    for (let i = 0; i < magic.length; i++) out[4 + i] = magic.charCodeAt(i);
    dv.setInt16(12, f.datatype, le);
    dv.setInt16(14, f.bitpix, le);
    dim.forEach((d, i) => {
      dv.setBigInt64(16 + 8 * i, BigInt(d), le);
    });
    pixdim.forEach((p, i) => {
      dv.setFloat64(104 + 8 * i, p, le);
    });
    dv.setBigInt64(168, BigInt(off), le);
    dv.setFloat64(176, f.sclSlope ?? 0, le);
    dv.setFloat64(184, f.sclInter ?? 0, le);
    dv.setInt32(344, f.qformCode ?? 0, le);
    dv.setInt32(348, f.sformCode ?? 0, le);
    q.forEach((v, i) => {
      dv.setFloat64(352 + 8 * i, v, le);
    });
    qo.forEach((v, i) => {
      dv.setFloat64(376 + 8 * i, v, le);
    });
    srow.forEach((v, i) => {
      dv.setFloat64(400 + 8 * i, v, le);
    });
    dv.setInt32(500, 2, le);
  } else {
    dim.forEach((d, i) => {
      dv.setInt16(40 + 2 * i, d, le);
    });
    dv.setInt16(70, f.datatype, le);
    dv.setInt16(72, f.bitpix, le);
    pixdim.forEach((p, i) => {
      dv.setFloat32(76 + 4 * i, p, le);
    });
    dv.setFloat32(108, off, le);
    dv.setFloat32(112, f.sclSlope ?? 0, le);
    dv.setFloat32(116, f.sclInter ?? 0, le);
    out[123] = 2;
    dv.setInt16(252, f.qformCode ?? 0, le);
    dv.setInt16(254, f.sformCode ?? 0, le);
    q.forEach((v, i) => {
      dv.setFloat32(256 + 4 * i, v, le);
    });
    qo.forEach((v, i) => {
      dv.setFloat32(268 + 4 * i, v, le);
    });
    srow.forEach((v, i) => {
      dv.setFloat32(280 + 4 * i, v, le);
    });
    for (let i = 0; i < magic.length; i++) out[344 + i] = magic.charCodeAt(i);
  }
  out.set(f.data, off);
  return out;
}

/** int16 values as bytes in the given order. */
export function int16Bytes(values: number[], littleEndian: boolean): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  const dv = new DataView(out.buffer);
  values.forEach((v, i) => {
    dv.setInt16(2 * i, v, littleEndian);
  });
  return out;
}

/** A fresh temporary folder for the enclosing `describe`, removed afterwards; call the returned function inside tests for its path. */
export function useTempDir(prefix: string): () => string {
  let path = '';
  beforeAll(async () => {
    path = await mkdtemp(join(tmpdir(), prefix));
  });
  afterAll(async () => {
    await rm(path, { recursive: true, force: true });
  });
  return () => path;
}
