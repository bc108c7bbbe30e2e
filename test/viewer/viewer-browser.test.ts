/**
 * The viewer page in a real browser (headless Chromium through playwright-core, WebGL2 on SwiftShader):
 * the volumes load, the label colours are drawn where the label map has liver and tumor, the legend and
 * tumor list are there, clicking a tumor moves the crosshair to it, and a data failure shows an error.
 * Without Chromium this fails under CI=true and is skipped loudly elsewhere.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABELS } from '../../lib/pipeline/labels.ts';
import { resolveViewerCases } from '../../lib/viewer/cases.ts';
import type { ViewerHook } from '../../lib/viewer/manifest.ts';
import { serveSite, serveViewer, staticFolderSite, type ViewerServer } from '../../lib/viewer/site.ts';
import { applyAffine } from '../../lib/volume/affine.ts';
import { finalizeInMemory } from './cloud-job.ts';
import { type ViewerFixture, writeViewerFixture } from './fixture.ts';

const CHROMIUM = process.env.RAUNET_CHROMIUM ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const IN_CI = process.env.CI === 'true';

if (!HAVE_CHROMIUM && !IN_CI) {
  console.warn(
    `\n!!! viewer browser test SKIPPED: no Chromium at ${CHROMIUM} (apt-get install chromium, or set ` +
      'RAUNET_CHROMIUM); under CI=true this is a failure !!!\n',
  );
}

const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--use-angle=swiftshader',
  '--enable-unsafe-swiftshader',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

type HookWindow = { raunetViewer: ViewerHook };

async function waitLoaded(page: Page): Promise<{ state: ViewerHook['state']; error: string | null }> {
  await page.waitForFunction(
    () => {
      const h = (globalThis as unknown as HookWindow).raunetViewer;
      return h !== undefined && h.state !== 'loading';
    },
    undefined,
    { timeout: 60_000 },
  );
  return page.evaluate(() => {
    const h = (globalThis as unknown as HookWindow).raunetViewer;
    return { state: h.state, error: h.error };
  });
}

/** RGB of the page at CSS pixel (x, y), from a fresh screenshot. */
async function pixelsAt(page: Page, points: [number, number][]): Promise<number[][]> {
  const png = PNG.sync.read(await page.screenshot());
  return points.map(([x, y]) => {
    const o = 4 * (Math.round(x) + png.width * Math.round(y));
    return [png.data[o], png.data[o + 1], png.data[o + 2]];
  });
}

/**
 * A voxel of `label` on slice k with its in-plane neighbourhood (radius r) all `label`, at least `gap`
 * voxels off the crosshair's row and column (`avoid`).
 */
function interiorVoxel(
  f: ViewerFixture,
  label: number,
  k: number,
  avoid: [number, number],
  r: number,
  gap: number,
): number[] | null {
  const [nx, ny] = f.seg.dims;
  const at = (i: number, j: number) => f.seg.data[i + nx * (j + ny * k)];
  for (let j = r; j < ny - r; j++)
    for (let i = r; i < nx - r; i++) {
      if (Math.abs(i - avoid[0]) < gap || Math.abs(j - avoid[1]) < gap) continue;
      let ok = true;
      for (let dj = -r; dj <= r && ok; dj++)
        for (let di = -r; di <= r && ok; di++) ok = at(i + di, j + dj) === label;
      if (ok) return [i, j, k];
    }
  return null;
}

/**
 * With the crosshair on `target`'s slice, the label colours are on screen where the label map has liver
 * (green) and tumor (red), off the crosshair lines; returns the page positions checked.
 */
async function expectOverlayColours(
  page: Page,
  f: ViewerFixture,
  target: { centroidVoxel: number[] },
): Promise<[number, number][]> {
  const k = Math.round(target.centroidVoxel[2]);
  const avoid: [number, number] = [Math.round(target.centroidVoxel[0]), Math.round(target.centroidVoxel[1])];
  const liverVox = interiorVoxel(f, 1, k, avoid, 2, 4);
  const tumorVox = interiorVoxel(f, 2, k, avoid, 1, 1);
  expect(liverVox).not.toBeNull();
  expect(tumorVox).not.toBeNull();
  const xy = await page.evaluate(
    (mms) => mms.map((mm) => (globalThis as unknown as HookWindow).raunetViewer.pageXYOfMm(mm)),
    [liverVox!, tumorVox!].map((v) => applyAffine(f.ct.affine, v)),
  );
  expect(xy[0]).not.toBeNull();
  expect(xy[1]).not.toBeNull();
  if (process.env.RAUNET_VIEWER_SHOT) await page.screenshot({ path: process.env.RAUNET_VIEWER_SHOT });
  const [liverRgb, tumorRgb] = await pixelsAt(page, xy as [number, number][]);
  const seen = JSON.stringify({ liverVox, tumorVox, xy, liverRgb, tumorRgb });
  expect(liverRgb[1] - Math.max(liverRgb[0], liverRgb[2]), seen).toBeGreaterThan(40); // green
  expect(tumorRgb[0] - Math.max(tumorRgb[1], tumorRgb[2]), seen).toBeGreaterThan(40); // red
  return xy as [number, number][];
}

describe.runIf(HAVE_CHROMIUM || IN_CI)('viewer page in headless Chromium', () => {
  let dir: string;
  let fixture: ViewerFixture;
  let browser: Browser;
  let viewer: ViewerServer | undefined;

  beforeAll(async () => {
    if (!HAVE_CHROMIUM) throw new Error(`CI=true but no Chromium at ${CHROMIUM}: the viewer test cannot run`);
    dir = await mkdtemp(join(tmpdir(), 'raunet-viewer-test-'));
    fixture = await writeViewerFixture(dir, 'case', {
      demoModels: true,
      flags: [
        { code: 'liver-touches-border', severity: 'warning', message: 'the liver touches the scan border' },
      ],
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  });

  afterAll(async () => {
    await viewer?.close();
    await browser?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('shows the CT with the label colours, legend and tumor list; a tumor click moves the crosshair', async () => {
    const t0 = Date.now();
    viewer = await serveViewer(await resolveViewerCases(dir), { port: 0 });
    expect(new URL(viewer.url).hostname).toBe('127.0.0.1');
    const page = await browser.newPage({ viewport: { width: 1000, height: 640 }, deviceScaleFactor: 1 });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(viewer.url);
    expect(await waitLoaded(page)).toEqual({ state: 'ready', error: null });
    expect(errors).toEqual([]);

    // Legend: one row per label, named, with its colour.
    const legend = await page.$$eval('#legend tr', (rows) =>
      rows.map((r) => [r.getAttribute('data-label'), r.querySelector('.swatch')?.getAttribute('style')]),
    );
    expect(legend).toEqual(LABELS.map((l) => [l.name, `background: rgb(${l.rgb.join(', ')});`]));
    // The report's demo-model mark and flags.
    expect(await page.isVisible('#demo')).toBe(true);
    expect(await page.textContent('#demo')).toBe('DEMO MODEL - not for clinical use');
    expect(await page.$$eval('#flags li', (li) => li.map((l) => l.textContent))).toEqual([
      'warning: the liver touches the scan border',
    ]);
    // Tumor list: the report's tumors.
    const items = fixture.report.tumors.items;
    expect(items.length).toBe(2);
    expect(await page.$$eval('#tumors tbody tr', (rows) => rows.length)).toBe(items.length);

    // The page starts on tumor 1; clicking a row moves the crosshair to that tumor's centroid, within one
    // voxel (niivue snaps to voxel centres; spacing 4 x 4 x 6 mm).
    const crosshair = () =>
      page.evaluate(() => (globalThis as unknown as HookWindow).raunetViewer.crosshairMm());
    const dist = (a: number[], b: number[]) => Math.hypot(...a.map((v, i) => v - b[i]));
    expect(dist(await crosshair(), items[1].centroidWorld)).toBeGreaterThan(6);
    for (const t of [items[1], items[0]]) {
      await page.click(`#tumors tbody tr[data-tumor="${t.id}"]`);
      const at = await crosshair();
      for (let a = 0; a < 3; a++)
        expect(Math.abs(at[a] - t.centroidWorld[a])).toBeLessThanOrEqual([2, 2, 3][a]);
    }
    const target = items[0];
    console.log(`viewer browser test: loaded and clicked in ${Date.now() - t0} ms`);

    // The axial tile now shows the tumor's slice: its label colours are on screen where the labels are.
    const xy = await expectOverlayColours(page, fixture, target);
    // Opacity 0: the same pixels are grey, so the colour came from the label overlay.
    await page.$eval('#opacity', (el) => {
      (el as unknown as { value: string }).value = '0';
      el.dispatchEvent(new Event('input'));
    });
    const [liverGrey, tumorGrey] = await pixelsAt(page, xy);
    for (const rgb of [liverGrey, tumorGrey]) expect(Math.max(...rgb) - Math.min(...rgb)).toBeLessThan(12);
    if (process.env.RAUNET_VIEWER_SHOT) await page.screenshot({ path: process.env.RAUNET_VIEWER_SHOT });
    await page.close();
    console.log(`viewer browser test: page loaded and checked in ${Date.now() - t0} ms`);
  });

  it("loads an AWS job's viewer folder as downloaded, with the job's report and label colours", async () => {
    // The finalize step of the segmentation workflow (in memory), its results copied to disk as
    // `aws s3 cp --recursive s3://<results>/results/<jobId>/ job/` would.
    const job = await finalizeInMemory(fixture.ct, fixture.seg, { scanName: 'job case', demoModels: true });
    const down = join(dir, 'job');
    for (const [key, bytes] of job.results) {
      await mkdir(dirname(join(down, key)), { recursive: true });
      await writeFile(join(down, key), bytes);
    }
    const report = JSON.parse(await readFile(join(down, 'report.json'), 'utf8'));
    const server = await serveSite(await staticFolderSite(join(down, 'viewer')), { port: 0 });
    try {
      const page = await browser.newPage({ viewport: { width: 1000, height: 640 }, deviceScaleFactor: 1 });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(server.url);
      expect(await waitLoaded(page)).toEqual({ state: 'ready', error: null });
      expect(errors).toEqual([]);
      expect(await page.evaluate(() => (globalThis as unknown as HookWindow).raunetViewer.caseName)).toBe(
        'job case',
      );
      expect(await page.isVisible('#demo')).toBe(true);
      expect(await page.$$eval('#flags li', (li) => li.length)).toBe(report.flags.length);
      const items = report.tumors.items as ViewerFixture['report']['tumors']['items'];
      expect(items.length).toBe(fixture.report.tumors.items.length);
      expect(await page.$$eval('#tumors tbody tr', (rows) => rows.length)).toBe(items.length);
      await page.click(`#tumors tbody tr[data-tumor="${items[0].id}"]`);
      await expectOverlayColours(page, fixture, items[0]);
      await page.close();
    } finally {
      await server.close();
    }
  }, 120_000);

  it('shows an error on the page when the data cannot be loaded', async () => {
    await writeFile(join(dir, 'broken_seg.nii.gz'), 'not a nifti');
    await writeFile(join(dir, 'broken_ct.nii.gz'), 'not a nifti either');
    const broken = (await resolveViewerCases(dir)).filter((c) => c.name === 'broken');
    const server = await serveViewer(broken, { port: 0 });
    try {
      const page = await browser.newPage();
      await page.goto(server.url);
      expect((await waitLoaded(page)).state).toBe('error');
      const text = await page.textContent('#error');
      expect(await page.isVisible('#error')).toBe(true);
      expect(text).toContain('Could not load');
      expect(text).toContain('data/broken/');
      await page.close();
    } finally {
      await server.close();
    }
  });
});
