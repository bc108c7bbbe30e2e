/**
 * Screenshot of `raunet view` on an output folder, for the docs:
 * `npx tsx scripts/viewer-screenshot.ts <out-dir | case_seg.nii.gz> <shot.png> [case-name] [tumor-id]`.
 * Needs Chromium (RAUNET_CHROMIUM, default /usr/bin/chromium); WebGL2 runs on SwiftShader.
 */
import { chromium } from 'playwright-core';
import { resolveViewerCases } from '../lib/viewer/cases.ts';
import { serveViewer } from '../lib/viewer/site.ts';

const [target, shot, caseName, tumor] = process.argv.slice(2);
if (!target || !shot) {
  process.stderr.write(
    'usage: viewer-screenshot.ts <out-dir | case_seg.nii.gz> <shot.png> [case] [tumor-id]\n',
  );
  process.exit(2);
}
const viewer = await serveViewer(await resolveViewerCases(target), { port: 0 });
const browser = await chromium.launch({
  executablePath: process.env.RAUNET_CHROMIUM ?? '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--use-angle=swiftshader',
    '--enable-unsafe-swiftshader',
    '--no-first-run',
  ],
});
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 680 }, deviceScaleFactor: 1 });
  await page.goto(caseName ? `${viewer.url}?case=${encodeURIComponent(caseName)}` : viewer.url);
  await page.waitForFunction(
    () => (globalThis as unknown as { raunetViewer?: { state: string } }).raunetViewer?.state !== 'loading',
    undefined,
    { timeout: Number(process.env.SHOT_TIMEOUT_MS ?? 600_000) },
  );
  if (tumor) await page.click(`#tumors tbody tr[data-tumor="${tumor}"]`);
  await page.screenshot({ path: shot });
} finally {
  await browser.close();
  await viewer.close();
}
