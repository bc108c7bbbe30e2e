/**
 * SIGTERM while a case's files are being written (not before any file, as in outputs.test.ts): the
 * second case is interrupted the moment its first temporary file appears. The first case's files stay
 * whole, the second case has all of its files or none, and no temporary file or lock is left. And
 * `view --static --overwrite`, interrupted as its staging folder appears: the earlier folder or the new one
 * whole, nothing else left.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generatePhantom } from '../../lib/phantom/phantom.ts';
import { readNifti, writeNifti } from '../../lib/volume/nifti.ts';
import { writeViewerFixture } from '../viewer/fixture.ts';
import { runRaunet } from './child.ts';
import { snapshot } from './inputs.ts';

const root = mkdtempSync(join(tmpdir(), 'raunet-interrupt-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The files `segment` writes for case `name` (label map with its colour tables, report, preview). */
const caseFiles = (name: string) =>
  [
    `${name}_preview.png`,
    `${name}_report.json`,
    `${name}_seg.ctbl`,
    `${name}_seg.labels.txt`,
    `${name}_seg.nii.gz`,
  ].sort();

describe('segment interrupted while writing a case', () => {
  it('SIGTERM at the second case’s first temporary file: exit 143, the first case whole, the second all or nothing', async () => {
    const d = join(root, 'run');
    const out = join(d, 'out');
    mkdirSync(out, { recursive: true });
    for (const [name, seed] of [
      ['p1', 11],
      ['p2', 12],
    ] as const) {
      await writeNifti(join(d, `${name}.nii.gz`), generatePhantom({ seed, dims: [64, 64, 48] }).ct);
    }
    let sawPart = false;
    const watcher = watch(out);
    const r = await runRaunet(['segment', join(d, 'p1.nii.gz'), join(d, 'p2.nii.gz'), '--out', out], {
      timeoutMs: 120_000,
      onStart: (child) => {
        watcher.on('change', (_kind, file) => {
          if (!sawPart && /^\.p2_.*\.part$/.test(String(file))) {
            sawPart = true;
            child.kill('SIGTERM');
          }
        });
      },
    });
    watcher.close();
    expect(sawPart, r.err).toBe(true);
    expect(r.timedOut).toBe(false);
    const left = readdirSync(out).sort();
    const second = left.filter((f) => f.startsWith('p2_'));
    // On a loaded machine the signal can land after the second case was committed and the run dropped
    // its handlers (seen twice in four runs beside another test file): SIGTERM then simply ends it.
    if (r.code === 143) {
      expect(r.err).toMatch(/interrupted \(SIGTERM\): removed this run's unfinished outputs/);
    } else {
      expect(
        [
          [null, 'SIGTERM'],
          [0, null],
        ],
        r.err,
      ).toContainEqual([r.code, r.signal]);
      expect(second).toEqual(caseFiles('p2'));
    }
    // what remains: the first case, complete; of the second, everything (committed in time) or nothing
    expect(left.filter((f) => !f.startsWith('p2_'))).toEqual(caseFiles('p1'));
    expect([[], caseFiles('p2')]).toContainEqual(second);
    process.stderr.write(`interrupt: the second case had ${second.length ? 'committed' : 'not committed'}\n`);
    // the first case's label map decodes whole, on its input's grid
    expect((await readNifti(join(out, 'p1_seg.nii.gz'))).dims).toEqual([64, 64, 48]);
    expect(Object.keys(snapshot(out)).filter((f) => f.includes('.part') || f.includes('lock'))).toEqual([]);
  }, 180_000);
});

describe('view --static interrupted while writing the folder', () => {
  it('SIGTERM as the staging folder appears: one folder whole (so far always the earlier one), nothing else left', async () => {
    const d = join(root, 'view');
    const seg = join(d, 'seg');
    const site = join(d, 'site');
    mkdirSync(seg, { recursive: true });
    mkdirSync(site);
    await writeViewerFixture(seg, 'a');
    writeFileSync(join(site, 'index.html'), 'an earlier page');
    const before = snapshot(d);
    let sawStaging = false;
    const watcher = watch(d);
    const r = await runRaunet(['view', seg, '--static', site, '--overwrite'], {
      timeoutMs: 120_000,
      onStart: (child) => {
        watcher.on('change', (_kind, file) => {
          if (!sawStaging && /^\.site\.staging-/.test(String(file))) {
            sawStaging = true;
            child.kill('SIGTERM');
          }
        });
      },
    });
    watcher.close();
    expect(sawStaging, r.err).toBe(true);
    expect(r.timedOut).toBe(false);
    // The page of this small case takes milliseconds to write: on a loaded machine the signal can land
    // after the new folder was moved in (the handler then finishes deleting the earlier one), or after
    // the run finished and dropped its handler (then SIGTERM simply ends it, or finds it gone). Whatever
    // the moment: the earlier folder whole or the new one whole, the inputs untouched, nothing else left.
    const endings = [
      [143, null],
      [null, 'SIGTERM'],
      [0, null],
    ];
    expect(endings, r.err).toContainEqual([r.code, r.signal]);
    if (r.code === 143) expect(r.err).toMatch(/interrupted \(SIGTERM\)/);
    const siteNow = snapshot(site);
    const newPage = [
      'data/a/ct.nii.gz',
      'data/a/report.json',
      'data/a/seg.nii.gz',
      'index.html',
      'manifest.json',
      'viewer.js',
    ];
    const whole =
      JSON.stringify(siteNow) === JSON.stringify({ 'index.html': before['site/index.html'] }) ||
      JSON.stringify(Object.keys(siteNow).sort()) === JSON.stringify(newPage);
    expect(whole, JSON.stringify(siteNow)).toBe(true);
    const segBefore = Object.fromEntries(
      Object.entries(before)
        .filter(([k]) => k.startsWith('seg/'))
        .map(([k, v]) => [k.slice(4), v]),
    );
    expect(snapshot(seg)).toEqual(segBefore);
    process.stderr.write(
      `view --static interrupt: ${r.code === 143 ? 'handled' : 'after the run'}, ${siteNow['manifest.json'] ? 'new' : 'earlier'} folder\n`,
    );
    expect(readdirSync(d).sort()).toEqual(['seg', 'site']);
  }, 180_000);
});
