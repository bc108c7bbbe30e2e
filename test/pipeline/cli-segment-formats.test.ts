/**
 * `raunet segment --format nrrd|mha`: the label map and probability maps in NRRD / MetaImage, read back
 * here by a parser of the test's own (not `lib/volume/nrrd-mha.ts`) and compared voxel by voxel and in
 * LPS geometry with the NIfTI written for the same case; the same no-overwrite and all-or-nothing rules;
 * what the viewer and `report --html` do with these files.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, inflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSegment, type SegmentCliOptions } from '../../lib/cli/commands/segment.ts';
import { segmentViewHint } from '../../lib/cli/view-hint.ts';
import { batchRows } from '../../lib/pipeline/html-report.ts';
import { resolveViewerCases } from '../../lib/viewer/cases.ts';
import { readNifti, writeNifti } from '../../lib/volume/nifti.ts';
import type { Volume } from '../../lib/volume/volume.ts';
import { runCli } from '../cli.ts';
import { obliqueAffine, scene, sceneModels } from './scene.ts';

let dir: string;
const input = () => join(dir, 'in', 'case-a.nii.gz');

async function segment(out: string, o: Partial<SegmentCliOptions> = {}) {
  return runSegment(
    [input()],
    { models: 'x', out: join(dir, out), quiet: true, saveProbabilities: true, ...o },
    { loadModels: async () => sceneModels() },
  );
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'raunet-formats-'));
  await mkdir(join(dir, 'in'));
  // oblique (rotated about z) with an origin: the LPS conversion must flip x and y of both
  await writeNifti(input(), scene(obliqueAffine(20)).ct);
  for (const [out, format] of [
    ['nifti', 'nifti'],
    ['nrrd', 'nrrd'],
    ['mha', 'mha'],
  ] as const) {
    const [r] = await segment(out, { format });
    expect(r!.ok, r!.reason).toBe(true);
  }
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** An image read by the test's own reading of the formats: sizes, LPS axes (voxel steps), LPS origin, bytes. */
interface Parsed {
  sizes: number[];
  axes: number[][];
  origin: number[];
  type: string;
  bytes: Uint8Array;
}

const numbers = (s: string) => s.trim().split(/\s+/).map(Number);

function parseNrrd(file: Uint8Array): Parsed {
  const end = Buffer.from(file).indexOf('\n\n');
  const head = new TextDecoder().decode(file.subarray(0, end));
  const field = (k: string) => {
    const line = head.split('\n').find((l) => l.startsWith(`${k}:`));
    if (!line) throw new Error(`no ${k}`);
    return line.slice(k.length + 1).trim();
  };
  expect(head.startsWith('NRRD')).toBe(true);
  expect(field('space')).toBe('left-posterior-superior');
  expect(field('encoding')).toBe('gzip');
  const vectors = (s: string) => [...s.matchAll(/\(([^)]*)\)/g)].map((m) => m[1]!.split(',').map(Number));
  return {
    sizes: numbers(field('sizes')),
    axes: vectors(field('space directions')),
    origin: vectors(field('space origin'))[0]!,
    type: field('type'),
    bytes: new Uint8Array(gunzipSync(file.subarray(end + 2))),
  };
}

function parseMha(file: Uint8Array): Parsed {
  const text = new TextDecoder('latin1').decode(file);
  const endKey = text.indexOf('ElementDataFile = LOCAL\n');
  const dataStart = endKey + 'ElementDataFile = LOCAL\n'.length;
  const fields = new Map(
    text
      .slice(0, endKey)
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' = ') as [string, string]),
  );
  expect(fields.get('CompressedData')).toBe('True');
  const spacing = numbers(fields.get('ElementSpacing')!);
  const m = numbers(fields.get('TransformMatrix')!);
  return {
    sizes: numbers(fields.get('DimSize')!),
    // ITK's reading: values 3i..3i+2 are the direction of voxel axis i
    axes: [0, 1, 2].map((i) => [0, 1, 2].map((j) => m[3 * i + j]! * spacing[i]!)),
    origin: numbers(fields.get('Offset')!),
    type: fields.get('ElementType')!,
    bytes: new Uint8Array(inflateSync(file.subarray(dataStart))),
  };
}

/** The NIfTI volume's geometry in LPS: x and y rows of the RAS affine negated. */
function expectSameGrid(p: Parsed, nifti: Volume) {
  expect(p.sizes).toEqual([...nifti.dims]);
  const a = nifti.affine;
  const flip = [-1, -1, 1];
  for (let axis = 0; axis < 3; axis++)
    for (let row = 0; row < 3; row++)
      expect(p.axes[axis]![row]).toBeCloseTo(flip[row]! * a[4 * row + axis]!, 4); // the NIfTI sform is float32
  for (let row = 0; row < 3; row++) expect(p.origin[row]).toBeCloseTo(flip[row]! * a[4 * row + 3]!, 3);
  const expected = new Uint8Array(nifti.data.buffer, nifti.data.byteOffset, nifti.data.byteLength);
  expect(Buffer.from(p.bytes).equals(Buffer.from(expected))).toBe(true);
}

describe('segment --format nrrd|mha', () => {
  it('writes the case files, volumes in the asked format, next to the colour tables', async () => {
    for (const [out, ext] of [
      ['nrrd', '.nrrd'],
      ['mha', '.mha'],
    ]) {
      expect((await readdir(join(dir, out))).sort()).toEqual(
        [
          'case-a_preview.png',
          `case-a_prob_liver${ext}`,
          `case-a_prob_tumor${ext}`,
          'case-a_report.json',
          'case-a_seg.ctbl',
          'case-a_seg.labels.txt',
          `case-a_seg${ext}`,
        ].sort(),
      );
    }
  });

  it('NRRD: label map and probability maps equal the NIfTI ones, voxels and LPS geometry', async () => {
    const seg = await readNifti(join(dir, 'nifti', 'case-a_seg.nii.gz'));
    const nrrd = parseNrrd(await readFile(join(dir, 'nrrd', 'case-a_seg.nrrd')));
    expect(nrrd.type).toBe('uint8');
    expectSameGrid(nrrd, seg);
    // and it is the scene's truth, so the comparison is not between two empty maps
    expect(Array.from(seg.data)).toEqual(Array.from(scene(obliqueAffine(20)).truth.data));
    for (const s of ['liver', 'tumor']) {
      const prob = await readNifti(join(dir, 'nifti', `case-a_prob_${s}.nii.gz`));
      const p = parseNrrd(await readFile(join(dir, 'nrrd', `case-a_prob_${s}.nrrd`)));
      expect(p.type).toBe('float');
      expectSameGrid(p, prob);
    }
  });

  it('MetaImage: label map and probability maps equal the NIfTI ones, voxels and LPS geometry', async () => {
    const mha = parseMha(await readFile(join(dir, 'mha', 'case-a_seg.mha')));
    expect(mha.type).toBe('MET_UCHAR');
    expectSameGrid(mha, await readNifti(join(dir, 'nifti', 'case-a_seg.nii.gz')));
    const p = parseMha(await readFile(join(dir, 'mha', 'case-a_prob_liver.mha')));
    expect(p.type).toBe('MET_FLOAT');
    expectSameGrid(p, await readNifti(join(dir, 'nifti', 'case-a_prob_liver.nii.gz')));
  });

  it('replaces nothing without --overwrite, and writes nothing of a case whose NRRD is in the way', async () => {
    const before = await readFile(join(dir, 'nrrd', 'case-a_seg.nrrd'));
    const [again] = await segment('nrrd', { format: 'nrrd' });
    expect(again!.ok).toBe(false);
    expect(again!.reason).toMatch(/--overwrite/);
    expect(Buffer.from(await readFile(join(dir, 'nrrd', 'case-a_seg.nrrd'))).equals(before)).toBe(true);

    const out = join(dir, 'blocked');
    await mkdir(out);
    await writeFile(join(out, 'case-a_seg.mha'), 'mine');
    const [blocked] = await segment('blocked', { format: 'mha' });
    expect(blocked!.ok).toBe(false);
    expect(blocked!.reason).toMatch(/case-a_seg\.mha: output exists/);
    expect(await readdir(out)).toEqual(['case-a_seg.mha']);
    expect(await readFile(join(out, 'case-a_seg.mha'), 'utf8')).toBe('mine');
  });

  it('refuses an unknown format with exit code 2', async () => {
    const r = await runCli(['segment', input(), '--out', join(dir, 'x'), '--format', 'png']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--format.*png/);
    expect(existsSync(join(dir, 'x'))).toBe(false);
  });
});

describe('viewer and report --html with NRRD / MetaImage label maps', () => {
  it('the viewer refuses them with one line saying how to convert; segment says so instead of the view hint', async () => {
    await expect(resolveViewerCases(join(dir, 'nrrd'))).rejects.toThrow(
      /holds label maps in another format \(case-a_seg\.nrrd\): .*npx raunet convert .*case-a_seg\.nrrd .*case-a_seg\.nii\.gz/,
    );
    await expect(resolveViewerCases(join(dir, 'mha', 'case-a_seg.mha'))).rejects.toThrow(
      /viewer shows NIfTI label maps; convert it first/,
    );
    expect(segmentViewHint('out', 'mha')).toBe(
      'raunet view reads NIfTI label maps: to look at one in the browser, convert it first (npx raunet convert out/<name>_seg.mha out/<name>_seg.nii.gz)',
    );
    expect(segmentViewHint('out', 'nifti')).toMatch(/npx raunet view out$/);
  });

  it('report --html scores them against a reference like the NIfTI', async () => {
    const ref = join(dir, 'ref');
    await mkdir(ref);
    const { truth } = scene(obliqueAffine(20));
    await writeNifti(join(ref, 'case-a.nii.gz'), truth);
    for (const out of ['nifti', 'nrrd', 'mha']) {
      const [row] = await batchRows(join(dir, out), ref);
      // the fake networks answer with the truth itself: Dice 1 for both structures
      expect(row!.dice, out).toEqual({ liver: 1, tumor: 1 });
    }
  });
});
