/** `raunet view` without a browser: which cases it finds, the files it serves or writes, where it listens. */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { viewHint } from '../../lib/cli/view-hint.ts';
import { LABELS } from '../../lib/pipeline/labels.ts';
import { resolveViewerCases } from '../../lib/viewer/cases.ts';
import type { ViewerManifest } from '../../lib/viewer/manifest.ts';
import { serveViewer, writeStaticViewer } from '../../lib/viewer/site.ts';
import { decodeNifti, writeNifti } from '../../lib/volume/nifti.ts';
import { readVolume } from '../../lib/volume/read.ts';
import { createVolume } from '../../lib/volume/volume.ts';
import { runCli } from '../cli.ts';
import { writeViewerFixture } from './fixture.ts';

const DICOM = '../shared/data/dicom/ct-3slice';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'raunet-view-'));
  await writeViewerFixture(dir, 'a');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('resolveViewerCases', () => {
  it('finds the label maps of a folder with their CT and report', async () => {
    const cases = await resolveViewerCases(dir);
    expect(cases).toEqual([
      {
        name: 'a',
        seg: join(dir, 'a_seg.nii.gz'),
        ct: { path: join(dir, 'a_ct.nii.gz'), kind: 'nifti' },
        report: join(dir, 'a_report.json'),
      },
    ]);
    expect(await resolveViewerCases(join(dir, 'a_seg.nii.gz'))).toEqual(cases);
  });

  it('takes the CT from the path in the report when it is not beside the label map', async () => {
    const sub = join(dir, 'segment-out');
    await mkdir(sub);
    await copyFile(join(dir, 'a_seg.nii.gz'), join(sub, 'a_seg.nii.gz'));
    const report = JSON.parse(await readFile(join(dir, 'a_report.json'), 'utf8'));
    report.input.path = join(dir, 'a_ct.nii.gz');
    await writeFile(join(sub, 'a_report.json'), JSON.stringify(report));
    const [c] = await resolveViewerCases(sub);
    expect(c.ct.path).toBe(join(dir, 'a_ct.nii.gz'));
    await unlink(join(sub, 'a_report.json'));
    await expect(resolveViewerCases(sub)).rejects.toThrow(/no CT found for case 'a'.*--ct/);
    await expect(resolveViewerCases(join(dir, 'nothing'))).rejects.toThrow(/no such file/);
    await rm(sub, { recursive: true });
  });

  it('rejects a folder without label maps and --ct with several cases', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'raunet-view-empty-'));
    await expect(resolveViewerCases(empty)).rejects.toThrow(/no <name>_seg.nii.gz/);
    await rm(empty, { recursive: true });
    const two = await mkdtemp(join(tmpdir(), 'raunet-view-two-'));
    for (const n of ['x', 'y']) await copyFile(join(dir, 'a_seg.nii.gz'), join(two, `${n}_seg.nii.gz`));
    await expect(resolveViewerCases(two, join(dir, 'a_ct.nii.gz'))).rejects.toThrow(/--ct names one scan/);
    await rm(two, { recursive: true });
  });
});

describe('serveViewer', () => {
  it('listens on loopback only by default and serves the page, the script, the manifest and the data', async () => {
    const v = await serveViewer(await resolveViewerCases(dir), { port: 0 });
    try {
      expect(new URL(v.url).hostname).toBe('127.0.0.1');
      const page = await (await fetch(v.url)).text();
      expect(page).toContain('<canvas id="gl">');
      expect(page).toContain('src="viewer.js"');
      expect(page).not.toMatch(/https?:\/\//); // nothing from a CDN
      const js = await fetch(`${v.url}viewer.js`);
      expect(js.status).toBe(200);
      expect((await js.text()).length).toBeGreaterThan(100_000); // niivue is bundled in
      const m = (await (await fetch(`${v.url}manifest.json`)).json()) as ViewerManifest;
      expect(m.labels).toEqual(LABELS);
      expect(m.cases).toEqual([
        { name: 'a', ct: 'data/a/ct.nii.gz', seg: 'data/a/seg.nii.gz', report: 'data/a/report.json' },
      ]);
      const seg = new Uint8Array(await (await fetch(`${v.url}${m.cases[0].seg}`)).arrayBuffer());
      expect(seg).toEqual(new Uint8Array(await readFile(join(dir, 'a_seg.nii.gz'))));
      expect((await fetch(`${v.url}data/a/../../../etc/passwd`)).status).toBe(404);
      expect((await fetch(`${v.url}nothing`)).status).toBe(404);
    } finally {
      await v.close();
    }
  });

  it.runIf(existsSync(DICOM))('serves a DICOM CT converted to NIfTI, same grid and values', async () => {
    const ct = await readVolume(DICOM);
    const sub = await mkdtemp(join(tmpdir(), 'raunet-view-dicom-'));
    const seg = join(sub, 'd_seg.nii.gz');
    await writeNifti(seg, createVolume(new Uint8Array(ct.data.length), ct.dims, ct.spacing, ct.affine));
    const v = await serveViewer(await resolveViewerCases(seg, DICOM), { port: 0 });
    try {
      const bytes = new Uint8Array(await (await fetch(`${v.url}data/d/ct.nii.gz`)).arrayBuffer());
      const served = decodeNifti(bytes, 'served');
      expect(served.dims).toEqual(ct.dims);
      expect(served.affine.map((x) => +x.toFixed(4))).toEqual(ct.affine.map((x) => +x.toFixed(4)));
      expect(Array.from(served.data)).toEqual(Array.from(ct.data));
    } finally {
      await v.close();
      await rm(sub, { recursive: true });
    }
  });
});

describe('writeStaticViewer', () => {
  it('writes the same page as a folder whose manifest points at files it holds', async () => {
    const out = await mkdtemp(join(tmpdir(), 'raunet-view-static-'));
    try {
      await writeStaticViewer(await resolveViewerCases(dir), out);
      const m = JSON.parse(await readFile(join(out, 'manifest.json'), 'utf8')) as ViewerManifest;
      for (const f of ['index.html', 'viewer.js', m.cases[0].ct, m.cases[0].seg, m.cases[0].report!])
        expect(existsSync(join(out, f)), f).toBe(true);
      expect(new Uint8Array(await readFile(join(out, m.cases[0].ct)))).toEqual(
        new Uint8Array(await readFile(join(dir, 'a_ct.nii.gz'))),
      );
    } finally {
      await rm(out, { recursive: true });
    }
  });
});

describe('raunet view (CLI)', () => {
  it('--static writes the page; a missing target is bad input (exit 2)', async () => {
    const out = await mkdtemp(join(tmpdir(), 'raunet-view-cli-'));
    try {
      const ok = await runCli(['view', dir, '--static', out]);
      expect(ok.code).toBe(0);
      expect(ok.out).toMatch(/wrote 6 files .*1 case/);
      expect(existsSync(join(out, 'data/a/seg.nii.gz'))).toBe(true);
      const bad = await runCli(['view', join(dir, 'no-such-dir')]);
      expect(bad.code).toBe(2);
      expect(bad.err).toMatch(/no-such-dir: no such file or folder/);
    } finally {
      await rm(out, { recursive: true });
    }
  });

  it('the hint segment and demo print names the command, quoting odd folder names', () => {
    expect(viewHint('./demo-out')).toBe('look at the results in the browser: npx raunet view ./demo-out');
    expect(viewHint("my out's")).toBe(`look at the results in the browser: npx raunet view 'my out'\\''s'`);
  });
});
