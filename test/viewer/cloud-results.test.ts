/**
 * What the AWS segmentation job leaves in the results bucket for a user to look at, from its finalize
 * step run in memory (test/viewer/cloud-job.ts): the CLI's preview with the same header (case name,
 * demo-model mark, plausibility flags), and the viewer folder `raunet view --static` writes.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JOB_VIEWER_CASE_FOLDER } from '../../lib/cloud/job-viewer.ts';
import { drawText, GLYPH_H } from '../../lib/pipeline/font.ts';
import { renderPreviewPng } from '../../lib/pipeline/preview.ts';
import { resolveViewerCases } from '../../lib/viewer/cases.ts';
import type { ViewerManifest } from '../../lib/viewer/manifest.ts';
import { serveSite, staticFolderSite, writeStaticViewer } from '../../lib/viewer/site.ts';
import { decodeNifti, writeNifti } from '../../lib/volume/nifti.ts';
import { runCli } from '../cli.ts';
import { finalizeInMemory, JOB, RESULTS } from './cloud-job.ts';
import { type ViewerFixture, writeViewerFixture } from './fixture.ts';

const NAME = 'case 7';
let dir: string;
let fixture: ViewerFixture;
let demo: Awaited<ReturnType<typeof finalizeInMemory>>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'raunet-cloud-results-'));
  fixture = await writeViewerFixture(dir, 'fixture');
  demo = await finalizeInMemory(fixture.ct, fixture.seg, { scanName: NAME, demoModels: true });
}, 60_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const reportOf = (r: typeof demo) => JSON.parse(new TextDecoder().decode(r.results.get('report.json')));

/** The pixels of a text line drawn at (8, y), scale 2, as the preview's header lines are. */
function inkOf(width: number, height: number, y: number, text: string): Set<number> {
  const rgba = new Uint8Array(4 * width * height);
  drawText(rgba, width, height, 8, y, text, [255, 255, 255], 2);
  const out = new Set<number>();
  for (let p = 0; p < width * height; p++) if (rgba[4 * p]) out.add(p);
  return out;
}

/** Pixels of exactly `rgb` in rows y0..y1 (exclusive). */
function pixelsOf(png: PNG, rgb: number[], y0: number, y1: number): Set<number> {
  const out = new Set<number>();
  for (let p = y0 * png.width; p < y1 * png.width; p++) {
    if ([0, 1, 2].every((c) => png.data[4 * p + c] === rgb[c])) out.add(p);
  }
  return out;
}

describe('the AWS job preview', () => {
  it("is the CLI's preview: case name, demo-model mark and the report's flags in its header", () => {
    const report = reportOf(demo);
    expect(report.input.name).toBe(NAME);
    expect(report.demoModels).toBe(true);
    // The demo stages add the demo-models flag; the phantom's liver gives what plausibility finds.
    expect(report.flags.map((f: { code: string }) => f.code)).toContain('demo-models');
    const png = demo.results.get('preview.png');
    expect(png).toBeDefined();
    // One implementation: byte for byte what `raunet segment` draws with this header.
    const cli = renderPreviewPng(fixture.ct, fixture.seg, {
      name: NAME,
      demoModels: true,
      flags: report.flags,
    });
    expect(Buffer.from(png!).equals(Buffer.from(cli))).toBe(true);
    // And the header says it: line 1 (y = 8) is the case name in white, line 2 the demo mark in orange.
    const img = PNG.sync.read(Buffer.from(png!));
    const line = 2 * GLYPH_H + 6;
    const nameInk = inkOf(img.width, img.height, 8, NAME);
    expect(pixelsOf(img, [235, 235, 235], 8, 8 + 2 * GLYPH_H)).toEqual(nameInk);
    const demoInk = inkOf(img.width, img.height, 8 + line, 'DEMO MODEL - not for clinical use');
    expect(pixelsOf(img, [255, 150, 0], 8 + line, 8 + line + 2 * GLYPH_H)).toEqual(demoInk);
    // Each flag is a yellow line of the header.
    const flagRows = new Set<number>();
    for (const p of pixelsOf(img, [255, 210, 80], 0, img.height)) flagRows.add(Math.floor(p / img.width));
    expect(flagRows.size).toBeGreaterThan(0);
    const bands = new Set([...flagRows].map((y) => Math.floor((y - 8) / line)));
    expect(bands.size).toBe(report.flags.length);
  });

  it('has no demo mark when the models are not demo models', async () => {
    const real = await finalizeInMemory(fixture.ct, fixture.seg, { scanName: NAME, demoModels: false });
    const report = reportOf(real);
    expect(report.demoModels).toBe(false);
    const img = PNG.sync.read(Buffer.from(real.results.get('preview.png')!));
    expect(pixelsOf(img, [255, 150, 0], 0, img.height).size).toBe(0);
    expect(pixelsOf(img, [235, 235, 235], 8, 8 + 2 * GLYPH_H)).toEqual(inkOf(img.width, img.height, 8, NAME));
  }, 60_000);
});

describe('the AWS job viewer folder', () => {
  it('is what `raunet view --static` writes for the same case, with the report, and is written before it', async () => {
    // The same case as a local output folder: <name>_ct, _seg, _report.
    const local = join(dir, 'local');
    await mkdir(local);
    await writeNifti(join(local, `${NAME}_ct.nii.gz`), fixture.ct);
    await writeNifti(join(local, `${NAME}_seg.nii.gz`), fixture.seg);
    await writeFile(
      join(local, `${NAME}_report.json`),
      new TextDecoder().decode(demo.results.get('report.json')),
    );
    const site = join(dir, 'static');
    await writeStaticViewer(await resolveViewerCases(local), site);
    const written = (await readdir(site, { recursive: true, withFileTypes: true }))
      .filter((e) => e.isFile())
      .map((e) => relative(site, join(e.parentPath, e.name)))
      .sort();
    // Same files, except that the job's data folder has a fixed name (keys never carry the case name).
    const cloud = [...demo.results.keys()].filter((k) => k.startsWith('viewer/')).map((k) => k.slice(7));
    expect(cloud.sort()).toEqual(
      written.map((f) => f.replace(`data/${NAME}/`, `data/${JOB_VIEWER_CASE_FOLDER}/`)).sort(),
    );
    expect(written).toEqual(
      [
        'index.html',
        'manifest.json',
        'viewer.js',
        ...['ct.nii.gz', 'report.json', 'seg.nii.gz'].map((f) => `data/${NAME}/${f}`),
      ].sort(),
    );
    for (const f of ['index.html', 'viewer.js']) {
      expect(Buffer.from(demo.results.get(`viewer/${f}`)!).equals(await readFile(join(site, f))), f).toBe(
        true,
      );
    }
    // The data: the scan and the label map voxel for voxel, the job's report (with its files).
    const data = `viewer/data/${JOB_VIEWER_CASE_FOLDER}/`;
    const ct = decodeNifti(demo.results.get(`${data}ct.nii.gz`)!, 'ct.nii.gz');
    expect(ct.dims).toEqual(fixture.ct.dims);
    expect(Array.from(ct.data)).toEqual(Array.from(fixture.ct.data));
    const seg = decodeNifti(demo.results.get(`${data}seg.nii.gz`)!, 'seg.nii.gz');
    expect(Buffer.from(seg.data as Uint8Array).equals(Buffer.from(fixture.seg.data))).toBe(true);
    const report = JSON.parse(new TextDecoder().decode(demo.results.get(`${data}report.json`)));
    expect(report).toEqual(reportOf(demo));
    expect(report.files.viewer).toBe(`s3://${RESULTS}/results/${JOB}/viewer/index.html`);
    expect(demo.out.results.viewer).toBe(report.files.viewer);
    // Order: the viewer's page after its files, the job's report.json last of all.
    const keys = [...demo.s3.objects.keys()].filter((k) => k.startsWith(`${RESULTS}/`));
    expect(keys.at(-1)).toBe(`${RESULTS}/results/${JOB}/report.json`);
    expect(keys.at(-2)).toBe(`${RESULTS}/results/${JOB}/viewer/index.html`);
  });

  it('serves downloaded (`aws s3 cp --recursive`) as it is, and only the files its manifest lists', async () => {
    const down = join(dir, 'download');
    for (const [k, bytes] of demo.results) {
      const path = join(down, ...k.split('/'));
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, bytes);
    }
    await writeFile(join(down, 'viewer', 'secret.txt'), 'not listed');
    const v = await serveSite(await staticFolderSite(join(down, 'viewer')), { port: 0 });
    try {
      expect(new URL(v.url).hostname).toBe('127.0.0.1');
      expect(await (await fetch(v.url)).text()).toContain('src="viewer.js"');
      const manifest = (await (await fetch(`${v.url}manifest.json`)).json()) as ViewerManifest;
      expect(manifest.cases.map((c: { name: string }) => c.name)).toEqual([NAME]);
      // The page shows the case's name; its data sit in the fixed folder.
      expect(manifest.cases[0].seg).toBe(`data/${JOB_VIEWER_CASE_FOLDER}/seg.nii.gz`);
      const seg = Buffer.from(await (await fetch(`${v.url}${manifest.cases[0].seg}`)).arrayBuffer());
      expect(
        seg.equals(Buffer.from(demo.results.get(`viewer/data/${JOB_VIEWER_CASE_FOLDER}/seg.nii.gz`)!)),
      ).toBe(true);
      expect((await fetch(`${v.url}secret.txt`)).status).toBe(404);
      expect((await fetch(`${v.url}..%2freport.json`)).status).toBe(404);
    } finally {
      await v.close();
    }
    // `raunet view <folder>` takes it as a page: --static or --ct make no sense there (bad input, exit 2).
    const cli = await runCli(['view', join(down, 'viewer'), '--static', join(dir, 'again')]);
    expect(cli.code).toBe(2);
    expect(cli.err).toMatch(/viewer.*is already a viewer folder: --static and --ct do not apply/);
    // A manifest pointing outside the folder, or a missing data file, is refused with the file named.
    const manifestPath = join(down, 'viewer', 'manifest.json');
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
    for (const outside of [
      'data/../../report.json',
      'data/..%2F..%2Freport.json',
      '../report.json',
      'data/%E0',
    ]) {
      manifest.cases[0].report = outside;
      await writeFile(manifestPath, JSON.stringify(manifest));
      await expect(staticFolderSite(join(down, 'viewer')), outside).rejects.toThrow(
        /manifest\.json.*outside data\//,
      );
    }
    manifest.cases[0].report = 'data/nothing.json';
    await writeFile(manifestPath, JSON.stringify(manifest));
    await expect(staticFolderSite(join(down, 'viewer'))).rejects.toThrow(/missing data\/nothing\.json/);
  });
});
