/**
 * Test-only independent checks of a DICOM SEG written for a series: parsed with dicom-parser (not the
 * dcmjs the writer uses), bits unpacked by hand, references compared with the source files themselves.
 * Axial series only (slices sorted by z); frame pixel (c, r) of slice k is voxel (c, ny-1-r, k) of the
 * label map, the documented layout of volumes read from DICOM.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import dicomParser, { type DataSet } from 'dicom-parser';
import { expect } from 'vitest';
import { SEG_SOP_CLASS_UID } from '../../lib/volume/dicom-seg.ts';
import type { Volume } from '../../lib/volume/volume.ts';

export const parse = (bytes: Uint8Array) => dicomParser.parseDicom(bytes);
export const items = (ds: DataSet, tag: string) =>
  (ds.elements[tag]?.items ?? []).map((i) => i.dataSet as DataSet);
export const nums = (s: string | undefined) => (s ?? '').split('\\').map(Number);

/** Independent view of a binary SEG: per frame its position, referenced instance, segment and bits. */
export function independentFrames(bytes: Uint8Array) {
  const ds = parse(bytes);
  const rows = ds.uint16('x00280010') ?? 0;
  const cols = ds.uint16('x00280011') ?? 0;
  const px = ds.elements.x7fe00010;
  const packed = bytes.subarray(px.dataOffset, px.dataOffset + px.length);
  const frames = items(ds, 'x52009230').map((f, n) => {
    const ipp = nums(items(f, 'x00209113')[0].string('x00200032'));
    const src = items(items(f, 'x00089124')[0], 'x00082112')[0];
    const segment = items(f, 'x0062000a')[0].uint16('x0062000b');
    const bits = new Uint8Array(rows * cols);
    for (let p = 0; p < rows * cols; p++) {
      const b = n * rows * cols + p;
      bits[p] = (packed[Math.floor(b / 8)] >> (b % 8)) & 1;
    }
    return { ipp, sop: src?.string('x00081155'), segment, bits };
  });
  return { ds, rows, cols, frames };
}

/** The source series read independently: SOP Instance UID and IPP per file, sorted by z (axial). */
export async function sourceFiles(dir: string) {
  const out = [];
  for (const name of (await readdir(dir)).sort()) {
    const ds = parse(new Uint8Array(await readFile(join(dir, name))));
    if (!ds.elements.x7fe00010) continue;
    out.push({
      sop: ds.string('x00080018') ?? ds.string('x00020003'), // these files keep it in the meta header only
      ipp: nums(ds.string('x00200032')),
      study: ds.string('x0020000d'),
      series: ds.string('x0020000e'),
      frameOfReference: ds.string('x00200052'),
      pixelSpacing: nums(ds.string('x00280030')),
      orientation: nums(ds.string('x00200037')),
    });
  }
  return out.sort((a, b) => a.ipp[2] - b.ipp[2]);
}

/** Check `bytes` is a binary SEG of the series in `dir` whose frames equal `labels` (liver = labels >= 1). */
export async function expectSegOfSeries(bytes: Uint8Array, dir: string, labels: Volume) {
  const ind = independentFrames(bytes);
  const src = await sourceFiles(dir);
  const ds = ind.ds;
  expect(ds.string('x00080016')).toBe(SEG_SOP_CLASS_UID);
  expect(ds.string('x00080060')).toBe('SEG');
  expect(ds.string('x00620001')).toBe('BINARY');
  expect(ds.uint16('x00280100')).toBe(1);
  // the source's study and frame of reference (when it has them), a new series of its own
  if (src[0].study) expect(ds.string('x0020000d')).toBe(src[0].study);
  if (src[0].frameOfReference) expect(ds.string('x00200052')).toBe(src[0].frameOfReference);
  expect(ds.string('x0020000e')).toMatch(/^[0-9.]+$/);
  expect(ds.string('x0020000e')).not.toBe(src[0].series);
  const refSeries = items(ds, 'x00081115')[0];
  if (src[0].series) expect(refSeries.string('x0020000e')).toBe(src[0].series);
  expect(items(refSeries, 'x0008114a').map((i) => i.string('x00081155'))).toEqual(src.map((s) => s.sop));
  const shared = items(ds, 'x52009229')[0];
  expect(nums(items(shared, 'x00289110')[0].string('x00280030'))).toEqual(src[0].pixelSpacing);
  expect(nums(items(shared, 'x00209116')[0].string('x00200037'))).toEqual(src[0].orientation);

  // segments: codes and colours from LABELS
  const segs = items(ds, 'x00620002');
  expect(segs.map((s) => s.string('x00620005'))).toEqual(['Liver', 'Liver tumor']);
  // (0062,0003) category, (0062,000F) type
  expect(items(segs[0], 'x00620003')[0].string('x00080100')).toBe('123037004');
  expect(items(segs[0], 'x0062000f')[0].string('x00080100')).toBe('10200004');
  expect(items(segs[0], 'x0062000f')[0].string('x00080102')).toBe('SCT');
  expect(items(segs[1], 'x00620003')[0].string('x00080100')).toBe('49755003');
  expect(items(segs[1], 'x0062000f')[0].string('x00080100')).toBe('108369006');
  expect(items(segs[1], 'x00082218')[0].string('x00080100')).toBe('10200004');

  // every frame: on the slice it references, bits equal to the label map (liver = labels >= 1)
  const [nx, ny, nz] = labels.dims;
  const counted = [0, 0, 0];
  for (const f of ind.frames) {
    const k = src.findIndex((s) => s.sop === f.sop);
    expect(k).toBeGreaterThanOrEqual(0);
    expect(
      f.ipp.map((v, a) => Math.abs(v - src[k].ipp[a]) < 1e-4),
      `${f.ipp} vs ${src[k].ipp} k=${k}`,
    ).toEqual([true, true, true]);
    for (let r = 0; r < ind.rows; r++) {
      for (let c = 0; c < ind.cols; c++) {
        const v = labels.data[c + nx * (ny - 1 - r + ny * k)];
        const want = f.segment === 1 ? v >= 1 : v === 2;
        if (Number(want) !== f.bits[r * ind.cols + c]) throw new Error(`frame k=${k} c=${c} r=${r}`);
        counted[f.segment ?? 0] += f.bits[r * ind.cols + c];
      }
    }
  }
  let liver = 0;
  let tumour = 0;
  for (const v of labels.data) {
    if (v >= 1) liver++;
    if (v === 2) tumour++;
  }
  expect(counted[1]).toBe(liver); // no frame with liver was left out
  expect(counted[2]).toBe(tumour);
  expect(ind.frames.length).toBeLessThanOrEqual(2 * nz);

  return { src, ind };
}
