/**
 * Test-only minimal DICOM Part 10 writer (one CT slice per file), written from the standard's encoding
 * rules (PS3.5 section 7, PS3.10 section 7), so the reader can be tested on series we control.
 */
export interface SliceSpec {
  transferSyntax?: '1.2.840.10008.1.2' | '1.2.840.10008.1.2.1' | '1.2.840.10008.1.2.2';
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

type El = { group: number; element: number; vr: string; value: Uint8Array };

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
      head.setUint32(8, e.value.length, le);
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
  const ds = encode(
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
      { group: 0x7fe0, element: 0x10, vr: 'OW', value: pix },
    ],
    le,
    explicit,
  );
  const out = new Uint8Array(132 + meta.length + metaBody.length + ds.length);
  out.set(new TextEncoder().encode('DICM'), 128);
  out.set(meta, 132);
  out.set(metaBody, 132 + meta.length);
  out.set(ds, 132 + meta.length + metaBody.length);
  return out;
}
