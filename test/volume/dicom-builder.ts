/**
 * Test-only minimal DICOM Part 10 writer (one CT slice per file), written from the standard's encoding
 * rules (PS3.5 section 7, PS3.10 section 7), so the reader can be tested on series we control.
 */
import { deflateRawSync } from 'node:zlib';

export interface SliceSpec {
  transferSyntax?:
    | '1.2.840.10008.1.2'
    | '1.2.840.10008.1.2.1'
    | '1.2.840.10008.1.2.2'
    | '1.2.840.10008.1.2.1.99'
    | '1.2.840.10008.1.2.5';
  seriesUid?: string;
  ipp: number[];
  iop?: number[];
  pixelSpacing?: [number, number];
  rows: number;
  cols: number;
  /** Stored values, row by row. */
  pixels: number[];
  signed?: boolean;
  bitsStored?: number;
  slope?: number;
  intercept?: number;
  instance?: number;
}

type El = { group: number; element: number; vr: string; value: Uint8Array; undefinedLength?: boolean };

const LONG_VRS = new Set(['OB', 'OW', 'OF', 'SQ', 'UT', 'UN']);

function str(s: string, pad = ' '): Uint8Array {
  const t = s.length % 2 ? s + pad : s;
  return new TextEncoder().encode(t);
}

function u16(v: number, le: boolean): Uint8Array {
  const b = new Uint8Array(2);
  new DataView(b.buffer).setUint16(0, v, le);
  return b;
}

function encode(els: El[], le: boolean, explicit: boolean): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const e of els) {
    const head = new DataView(new ArrayBuffer(12));
    head.setUint16(0, e.group, le);
    head.setUint16(2, e.element, le);
    let n: number;
    if (!explicit) {
      head.setUint32(4, e.value.length, le);
      n = 8;
    } else if (LONG_VRS.has(e.vr)) {
      head.setUint8(4, e.vr.charCodeAt(0));
      head.setUint8(5, e.vr.charCodeAt(1));
      head.setUint32(8, e.undefinedLength ? 0xffffffff : e.value.length, le);
      n = 12;
    } else {
      head.setUint8(4, e.vr.charCodeAt(0));
      head.setUint8(5, e.vr.charCodeAt(1));
      head.setUint16(6, e.value.length, le);
      n = 8;
    }
    parts.push(new Uint8Array(head.buffer, 0, n), e.value);
  }
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function buildDicomSlice(s: SliceSpec): Uint8Array {
  const ts = s.transferSyntax ?? '1.2.840.10008.1.2.1';
  const le = ts !== '1.2.840.10008.1.2.2';
  const explicit = ts !== '1.2.840.10008.1.2';
  const sop = `1.2.3.4.${Math.floor(Math.random() * 1e9)}`;
  const metaBody = encode(
    [
      { group: 2, element: 1, vr: 'OB', value: new Uint8Array([0, 1]) },
      { group: 2, element: 2, vr: 'UI', value: str('1.2.840.10008.5.1.4.1.1.2', '\0') },
      { group: 2, element: 3, vr: 'UI', value: str(sop, '\0') },
      { group: 2, element: 0x10, vr: 'UI', value: str(ts, '\0') },
    ],
    true,
    true,
  );
  const groupLength = new Uint8Array(4);
  new DataView(groupLength.buffer).setUint32(0, metaBody.length, true);
  const meta = encode([{ group: 2, element: 0, vr: 'UL', value: groupLength }], true, true);
  const pix = new Uint8Array(s.pixels.length * 2);
  const dv = new DataView(pix.buffer);
  s.pixels.forEach((v, i) => {
    if (s.signed) dv.setInt16(2 * i, v, le);
    else dv.setUint16(2 * i, v, le);
  });
  const plain = encode(
    [
      { group: 8, element: 0x16, vr: 'UI', value: str('1.2.840.10008.5.1.4.1.1.2', '\0') },
      { group: 8, element: 0x18, vr: 'UI', value: str(sop, '\0') },
      { group: 8, element: 0x60, vr: 'CS', value: str('CT') },
      { group: 0x20, element: 0x0e, vr: 'UI', value: str(s.seriesUid ?? '1.2.3.99', '\0') },
      { group: 0x20, element: 0x13, vr: 'IS', value: str(String(s.instance ?? 1)) },
      { group: 0x20, element: 0x32, vr: 'DS', value: str(s.ipp.join('\\')) },
      { group: 0x20, element: 0x37, vr: 'DS', value: str((s.iop ?? [1, 0, 0, 0, 1, 0]).join('\\')) },
      { group: 0x28, element: 0x02, vr: 'US', value: u16(1, le) },
      { group: 0x28, element: 0x04, vr: 'CS', value: str('MONOCHROME2') },
      { group: 0x28, element: 0x10, vr: 'US', value: u16(s.rows, le) },
      { group: 0x28, element: 0x11, vr: 'US', value: u16(s.cols, le) },
      { group: 0x28, element: 0x30, vr: 'DS', value: str((s.pixelSpacing ?? [1, 1]).join('\\')) },
      { group: 0x28, element: 0x100, vr: 'US', value: u16(16, le) },
      { group: 0x28, element: 0x101, vr: 'US', value: u16(s.bitsStored ?? 16, le) },
      { group: 0x28, element: 0x102, vr: 'US', value: u16((s.bitsStored ?? 16) - 1, le) },
      { group: 0x28, element: 0x103, vr: 'US', value: u16(s.signed ? 1 : 0, le) },
      { group: 0x28, element: 0x1052, vr: 'DS', value: str(String(s.intercept ?? 0)) },
      { group: 0x28, element: 0x1053, vr: 'DS', value: str(String(s.slope ?? 1)) },
      ts === '1.2.840.10008.1.2.5'
        ? { group: 0x7fe0, element: 0x10, vr: 'OB', value: encapsulate(rleFrame(pix)), undefinedLength: true }
        : { group: 0x7fe0, element: 0x10, vr: 'OW', value: pix },
    ],
    le,
    explicit,
  );
  // Deflated explicit VR little endian: the data set after the meta header is raw-deflated.
  const ds = ts === '1.2.840.10008.1.2.1.99' ? new Uint8Array(deflateRawSync(plain)) : plain;
  const out = new Uint8Array(132 + meta.length + metaBody.length + ds.length);
  out.set(new TextEncoder().encode('DICM'), 128);
  out.set(meta, 132);
  out.set(metaBody, 132 + meta.length);
  out.set(ds, 132 + meta.length + metaBody.length);
  return out;
}

/** PackBits: a replicate run for 3+ equal bytes, literal runs otherwise, at most 128 bytes a run. */
function packBits(src: number[]): number[] {
  const out: number[] = [];
  let i = 0;
  while (i < src.length) {
    let run = 1;
    while (i + run < src.length && src[i + run] === src[i] && run < 128) run++;
    if (run >= 3) {
      out.push(257 - run, src[i]); // header -(run-1) as an unsigned byte
      i += run;
      continue;
    }
    const start = i;
    while (i < src.length && i - start < 128) {
      if (i + 2 < src.length && src[i] === src[i + 1] && src[i] === src[i + 2]) break;
      i++;
    }
    out.push(i - start - 1, ...src.slice(start, i));
  }
  return out;
}

/** RLE Lossless frame (PS3.5 annex G) of little-endian 16-bit samples: high-byte segment, then low. */
function rleFrame(pix: Uint8Array): Uint8Array {
  const high: number[] = [];
  const low: number[] = [];
  for (let i = 0; i < pix.length; i += 2) {
    low.push(pix[i]);
    high.push(pix[i + 1]);
  }
  const segs = [packBits(high), packBits(low)].map((sg) => (sg.length % 2 ? [...sg, 0x80] : sg));
  const out = new Uint8Array(64 + segs[0].length + segs[1].length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, 2, true);
  dv.setUint32(4, 64, true);
  dv.setUint32(8, 64 + segs[0].length, true);
  out.set(segs[0], 64);
  out.set(segs[1], 64 + segs[0].length);
  return out;
}

/** Encapsulated pixel data: empty basic offset table item, one fragment item, sequence delimiter. */
function encapsulate(frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + 8 + frame.length + 8);
  const dv = new DataView(out.buffer);
  const item = (at: number, tag: number, len: number) => {
    dv.setUint16(at, 0xfffe, true);
    dv.setUint16(at + 2, tag, true);
    dv.setUint32(at + 4, len, true);
  };
  item(0, 0xe000, 0);
  item(8, 0xe000, frame.length);
  out.set(frame, 16);
  item(16 + frame.length, 0xe0dd, 0);
  return out;
}
