/**
 * DICOM SEG: the dcmqi reference object read onto its series, and our writer's output read back both by
 * the project's reader and independently (dicom-parser here, unpacking the bits by hand), with its
 * references checked against the source files themselves.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../lib/errors.ts';
import type { DicomSeriesInfo } from '../../lib/volume/dicom.ts';
import {
  decodeDicomSeg,
  dicomSegWarnings,
  encodeDicomSeg,
  segToLabelMap,
} from '../../lib/volume/dicom-seg.ts';
import { LABELS } from '../../lib/volume/labels.ts';
import { readNifti } from '../../lib/volume/nifti.ts';
import { readVolumeWithInfo } from '../../lib/volume/read.ts';
import { sameGrid, type Volume } from '../../lib/volume/volume.ts';
import { SHARED_DATA } from './helpers.ts';
import { expectSegOfSeries, independentFrames, sourceFiles } from './seg-check.ts';

const THREE_SLICE = join(SHARED_DATA, 'dicom/ct-3slice');
const DCMQI_SEG = join(SHARED_DATA, 'dicom/ct-3slice-seg/liver_seg.dcm');
const J2K = join(SHARED_DATA, 'dicom/ct-jpeg2000');

describe('reading a DICOM SEG (dcmqi reference object)', () => {
  it('loads liver_seg.dcm as a label map on the grid of ct-3slice, frame by frame', async () => {
    const { volume, dicom } = await readVolumeWithInfo(THREE_SLICE);
    const bytes = new Uint8Array(await readFile(DCMQI_SEG));
    const seg = decodeDicomSeg(bytes, 'liver_seg.dcm');
    expect(seg.segments.map((s) => s.label)).toEqual(['Liver']);
    expect(seg.studyInstanceUid).toBe(dicom?.studyInstanceUid);
    expect(seg.frameOfReferenceUid).toBe(dicom?.frameOfReferenceUid);
    const labels = segToLabelMap(seg, volume, 'liver_seg.dcm');
    expect(sameGrid(labels, volume)).toBe(true);

    const [nx, ny, nz] = labels.dims;
    const ind = independentFrames(bytes);
    const src = await sourceFiles(THREE_SLICE);
    expect(ind.frames.length).toBe(nz);
    let inside = 0;
    for (const f of ind.frames) {
      // the frame's slice: the source file at its position (and the one it says it was derived from)
      const k = src.findIndex((s) => Math.abs(s.ipp[2] - f.ipp[2]) < 1e-3);
      expect(k).toBeGreaterThanOrEqual(0);
      expect(src[k].sop).toBe(f.sop);
      for (let r = 0; r < ind.rows; r++) {
        for (let c = 0; c < ind.cols; c++) {
          // documented layout: rows stored bottom-up, so DICOM row r is voxel row ny-1-r
          const v = labels.data[c + nx * (ny - 1 - r + ny * k)];
          if (v !== f.bits[r * ind.cols + c]) throw new Error(`mismatch at frame k=${k} c=${c} r=${r}`);
          inside += v;
        }
      }
    }
    expect(inside).toBeGreaterThan(100_000); // ~107k liver pixels over the three slices
  });

  it('refuses a SEG whose frames are not on the reference grid, and a file that is not a SEG', async () => {
    const seg = decodeDicomSeg(new Uint8Array(await readFile(DCMQI_SEG)), 'liver_seg.dcm');
    const { volume } = await readVolumeWithInfo(THREE_SLICE);
    const shifted = { ...volume, affine: volume.affine.map((v, i) => (i === 11 ? v + 0.5 : v)) };
    expect(() => segToLabelMap(seg, shifted, 'liver_seg.dcm')).toThrow(
      /liver_seg\.dcm: frame 1 .* reference grid/,
    );
    const ct = new Uint8Array(await readFile(join(THREE_SLICE, (await readdir(THREE_SLICE)).sort()[0])));
    expect(() => decodeDicomSeg(ct, '01.dcm')).toThrow(InputError);
    expect(() => decodeDicomSeg(ct, '01.dcm')).toThrow(/01\.dcm: not a DICOM Segmentation/);
  });
});

describe('writing a DICOM SEG', () => {
  let ct: Volume;
  let info: DicomSeriesInfo;
  let labels: Volume<Uint8Array>;

  beforeAll(async () => {
    const r = await readVolumeWithInfo(J2K);
    ct = r.volume;
    info = r.dicom as DicomSeriesInfo;
    // liver from the series' reference label map (label 5), a tumour box inside it
    const ref = await readNifti(join(SHARED_DATA, 'dicom/example_seg_dicom.nii.gz'));
    expect(sameGrid(ref, ct, 1e-3)).toBe(true);
    const data = new Uint8Array(ref.data.length);
    for (let i = 0; i < data.length; i++) data[i] = ref.data[i] === 5 ? 1 : 0;
    const [nx, ny] = ct.dims;
    let tumour = 0;
    for (let k = 8; k < 12; k++) {
      for (let j = 0; j < ny; j++) {
        for (let i = 0; i < nx; i++) {
          const at = i + nx * (j + ny * k);
          if (data[at] === 1 && (i + j) % 7 === 0) {
            data[at] = 2;
            tumour++;
          }
        }
      }
    }
    expect(tumour).toBeGreaterThan(100);
    labels = { data, dims: [...ct.dims], spacing: [...ct.spacing], affine: [...ct.affine], dtype: 'uint8' };
  });

  it('references the source series and round-trips through an independent reader', async () => {
    const bytes = encodeDicomSeg(labels, info, { date: '20260101', time: '120000' });
    const { src, ind } = await expectSegOfSeries(bytes, J2K, labels);
    expect(src[0].study).toBeUndefined(); // this export lacks Study/Series UIDs: generated ones stand in
    expect(ind.ds.string('x0020000d')).toMatch(/^2\.25\.\d+$/);
    expect(dicomSegWarnings(info).join()).toMatch(/no StudyInstanceUID, SeriesInstanceUID/);

    // the project's own reader gives the label map back
    const seg = decodeDicomSeg(bytes, 'ours.dcm');
    expect(seg.segments.map((s) => s.color)).toEqual(LABELS.map((l) => l.color));
    const back = segToLabelMap(seg, ct);
    expect(Buffer.from(back.data).equals(Buffer.from(labels.data))).toBe(true);
  });

  it('writes one for a series with all its UIDs (ct-3slice): same study, frame of reference, series referenced', async () => {
    const { volume, dicom } = await readVolumeWithInfo(THREE_SLICE);
    const liver = segToLabelMap(decodeDicomSeg(new Uint8Array(await readFile(DCMQI_SEG)), 'x'), volume);
    const data = liver.data.map((v, i) => (v && i % 5 === 0 ? 2 : v));
    const three = { ...liver, data };
    const bytes = encodeDicomSeg(three, dicom as DicomSeriesInfo);
    const { src, ind } = await expectSegOfSeries(bytes, THREE_SLICE, three);
    expect(src[0].study).toBeTruthy();
    expect(ind.ds.string('x0020000d')).toBe(src[0].study);
    expect(ind.ds.string('x00200052')).toBe(src[0].frameOfReference);
    expect(ind.ds.string('x00100020')).toBe('99000'); // patient module copied from the source
    expect(dicomSegWarnings(dicom as DicomSeriesInfo)).toEqual([]);
  });

  it('refuses a label map that is not on the series grid', () => {
    const half = { ...labels, affine: labels.affine.map((v, i) => (i === 3 ? v + 0.4 : v)) };
    expect(() => encodeDicomSeg(half, info)).toThrow(/not on the grid of the DICOM series/);
  });
});
