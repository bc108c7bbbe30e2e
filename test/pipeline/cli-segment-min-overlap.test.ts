/**
 * `raunet segment --min-overlap f`: through the CLI with the bundled demo models, the flag reaches the
 * window placement (fewer stage-2/3 windows, counted in the report and checked against the placement's
 * closed form) and is recorded in the report; a value outside [0, 1) exits 2.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatePhantom } from '../../lib/phantom/phantom.ts';
import { writeNifti } from '../../lib/volume/nifti.ts';
import { runCli } from '../cli.ts';
import { expectValidReport } from '../report-schema.ts';

let dir: string;
const scan = () => join(dir, 'p.nii.gz');

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'raunet-min-overlap-'));
  // the demo models' phantom size (their liver windows are 64x64x32, tumor windows 64x64x32)
  const { ct } = generatePhantom({ seed: 7, dims: [128, 128, 96], spacing: [2.5, 2.5, 2.5], tumors: 2 });
  await writeNifti(scan(), ct);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Windows along an axis of `length` voxels, counted here: stepping by round(w * (1 - overlap)), last snapped to the end. */
function steppedCount(length: number, w: number, overlap: number): number {
  if (length <= w) return 1;
  const step = Math.max(1, Math.round(w * (1 - overlap)));
  let n = 0;
  for (let s = 0; s < length - w; s += step) n++;
  return n + 1;
}
/** The fewest windows whose neighbours overlap by at least `minOverlap * w` voxels. */
function evenCount(length: number, w: number, minOverlap: number): number {
  if (length <= w) return 1;
  const step = Math.floor(w * (1 - minOverlap));
  // n windows cover length when (n - 1) * step >= length - w
  let n = 2;
  while ((n - 1) * step < length - w) n++;
  return n;
}

async function segment(out: string, ...extra: string[]) {
  const r = await runCli(['segment', scan(), '--out', join(dir, out), '--quiet', ...extra]);
  expect(r.code, r.err).toBe(0);
  const report = JSON.parse(await readFile(join(dir, out, 'p_report.json'), 'utf8'));
  expectValidReport(report);
  return report;
}

describe('segment --min-overlap', () => {
  it('places fewer windows, as the placement rule says, and records the fraction', async () => {
    const stepped = await segment('stepped');
    const even = await segment('even', '--min-overlap', '0.1');
    expect(stepped.options.minOverlap).toBeNull();
    expect(even.options.minOverlap).toBe(0.1);
    expect(even.options.overlap).toBe(0.5);
    // Stage 2 runs on the stage-1 box resized in-plane to the window: one window in x and y, windows
    // along z over the box's slices (the phantom is RAS, so the report's box is the canonical one).
    const depth = stepped.options.patches.liver[2];
    expect(depth).toBe(32);
    const boxSlices = (r: typeof stepped) => r.localization.voxels.end[2] - r.localization.voxels.start[2];
    expect(boxSlices(even)).toBe(boxSlices(stepped)); // stage 1 does not depend on the flag
    const z = boxSlices(stepped);
    expect(stepped.windows.liver).toBe(steppedCount(z, depth, 0.5));
    expect(even.windows.liver).toBe(evenCount(z, depth, 0.1));
    expect(even.windows.liver).toBeLessThan(stepped.windows.liver);
    expect(even.windows.tumor).toBeLessThan(stepped.windows.tumor);
  });

  it('refuses a fraction outside [0, 1) with exit code 2, naming the flag', async () => {
    for (const bad of ['1', '-0.1', 'abc', '']) {
      const r = await runCli(['segment', scan(), '--out', join(dir, 'bad'), '--quiet', '--min-overlap', bad]);
      expect(r.code, bad).toBe(2);
      expect(r.err).toMatch(/--min-overlap.*is not a fraction in \[0, 1\)/);
    }
  });

  it('is refused for --task brats (its windows are placed by --overlap only)', async () => {
    const r = await runCli([
      'segment',
      '--task',
      'brats',
      dir,
      '--out',
      join(dir, 'b'),
      '--min-overlap',
      '0.2',
    ]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--min-overlap is not for --task brats/);
  });
});
