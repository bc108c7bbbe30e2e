/**
 * Nothing stored is lost, overwritten or half-written: outputs onto inputs (even with --overwrite),
 * over existing files, into a folder holding another set, unwritable targets, concurrent writers,
 * failures half-way and interrupts. Each test checks exit code, message, the checksums of the files
 * that were there before and that nothing is left over.
 */
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkOutputTargets, lockCase, OutputBatch } from '../../lib/output/safe-output.ts';
import { writeWholeFolder } from '../../lib/output/whole-folder.ts';
import { generatePhantom } from '../../lib/phantom/phantom.ts';
import { writeNifti } from '../../lib/volume/nifti.ts';
import { createVolume } from '../../lib/volume/volume.ts';
import { runCli } from '../cli.ts';
import { writeViewerFixture } from '../viewer/fixture.ts';
import { runRaunet } from './child.ts';
import { scratchFolders, snapshot } from './inputs.ts';

const { fresh } = scratchFolders('raunet-outputs-');

/** A small label map (labels 0/1/2) on a 1 mm grid. */
async function labelMap(path: string, fill = 1) {
  const data = new Uint8Array(6 * 5 * 4);
  for (let i = 10; i < 40; i++) data[i] = fill;
  data[20] = 2;
  await writeNifti(path, createVolume(data, [6, 5, 4], [1, 1, 1]));
}

const oneLine = (err: string) => expect(err.trim().split('\n'), err).toHaveLength(1);
const noTemps = (dir: string) =>
  expect(Object.keys(snapshot(dir)).filter((f) => /\.part$|raunet-lock/.test(f))).toEqual([]);

describe('convert', () => {
  it('refuses to write onto its input, however spelled, even with --overwrite', async () => {
    const d = fresh();
    const input = join(d, 'scan.nii.gz');
    await labelMap(input);
    symlinkSync(input, join(d, 'alias.nii.gz'));
    const before = snapshot(d);
    for (const out of [input, join(d, 'alias.nii.gz'), join(d, '..', basename(d), 'scan.nii.gz')]) {
      const r = await runCli(['convert', input, out, '--overwrite']);
      expect(r.code).toBe(2);
      oneLine(r.err);
      expect(r.err).toMatch(/would overwrite the input .*scan\.nii\.gz; refusing even with --overwrite/);
    }
    expect(snapshot(d)).toEqual(before);
  });

  it('refuses an existing output unless --overwrite, then replaces it whole', async () => {
    const d = fresh();
    await labelMap(join(d, 'a.nii.gz'));
    writeFileSync(join(d, 'b.nii'), 'precious');
    const before = snapshot(d);
    const r = await runCli(['convert', join(d, 'a.nii.gz'), join(d, 'b.nii')]);
    expect(r.code).toBe(2);
    oneLine(r.err);
    expect(r.err).toMatch(/b\.nii: output exists; use --overwrite/);
    expect(snapshot(d)).toEqual(before);
    const forced = await runCli(['convert', join(d, 'a.nii.gz'), join(d, 'b.nii'), '--overwrite']);
    expect(forced.code).toBe(0);
    expect(snapshot(d)['b.nii']).not.toBe(before['b.nii']);
    noTemps(d);
  });

  it('fails at once with one line for unwritable targets, leaving no folder behind', async () => {
    const d = fresh();
    await labelMap(join(d, 'a.nii.gz'));
    writeFileSync(join(d, 'file'), 'x');
    mkdirSync(join(d, 'folder.nii'));
    const before = snapshot(d);
    const cases: Array<[string, RegExp]> = [
      ['/proc/raunet-x/out.nii', /\/proc\/raunet-x: cannot create the output folder/],
      [join(d, 'file', 'out.nii'), /a path component of the output is a file|file is in the way|is a file/],
      [join(d, 'folder.nii'), /folder\.nii: output path is a folder/],
    ];
    await runCli(['--version']); // load the commands first: the bound is on the refusal, not on start-up
    for (const [out, message] of cases) {
      const t0 = performance.now();
      const r = await runCli(['convert', join(d, 'a.nii.gz'), out]);
      expect(r.code, out).toBe(2);
      oneLine(r.err);
      expect(r.err).toMatch(message);
      expect(performance.now() - t0).toBeLessThan(5000);
    }
    // bad input into a new folder: the folder the run created is removed again
    const r = await runCli(['convert', join(d, 'nope.nii'), join(d, 'new', 'sub', 'out.nii')]);
    expect(r.code).toBe(2);
    expect(existsSync(join(d, 'new'))).toBe(false);
    expect(snapshot(d)).toEqual(before);
  });
});

describe('evaluate --csv', () => {
  it('refuses to write the CSV onto a label map (even with --overwrite) or over a file', async () => {
    const d = fresh();
    await labelMap(join(d, 'pred.nii.gz'));
    await labelMap(join(d, 'ref.nii.gz'));
    writeFileSync(join(d, 'old.csv'), 'keep me');
    const before = snapshot(d);
    const onto = await runCli([
      'evaluate',
      '--pred',
      join(d, 'pred.nii.gz'),
      '--ref',
      join(d, 'ref.nii.gz'),
      '--csv',
      join(d, 'pred.nii.gz'),
      '--overwrite',
    ]);
    expect(onto.code).toBe(2);
    oneLine(onto.err);
    expect(onto.err).toMatch(/pred\.nii\.gz: output would overwrite the input/);
    const over = await runCli([
      'evaluate',
      '--pred',
      join(d, 'pred.nii.gz'),
      '--ref',
      join(d, 'ref.nii.gz'),
      '--csv',
      join(d, 'old.csv'),
    ]);
    expect(over.code).toBe(2);
    expect(over.err).toMatch(/old\.csv: output exists; use --overwrite/);
    expect(snapshot(d)).toEqual(before);
  });
});

describe('phantom', () => {
  it('refuses a folder that holds another set unless --overwrite', async () => {
    const d = fresh();
    const args = ['phantom', '--out', d, '--count', '1', '--dims', '32x32x16', '--quiet'];
    expect((await runCli([...args, '--seed', '1'])).code).toBe(0);
    const before = snapshot(d);
    for (const extra of [
      ['--seed', '2'],
      ['--start', '5'],
    ]) {
      const r = await runCli([...args, ...extra]);
      expect(r.code).toBe(2);
      oneLine(r.err);
      expect(r.err).toMatch(/use another --out or --overwrite|output exists/);
      expect(snapshot(d)).toEqual(before);
    }
    expect((await runCli([...args, '--seed', '2', '--overwrite'])).code).toBe(0);
    expect(snapshot(d)['volume-0.nii.gz']).not.toBe(before['volume-0.nii.gz']);
    noTemps(d);
  });
});

describe('report --html', () => {
  it('refuses an existing page unless --overwrite, and never writes onto a file the page is made from', async () => {
    const d = fresh();
    await writeViewerFixture(d, 'p1');
    writeFileSync(join(d, 'report.html'), 'an earlier page');
    writeFileSync(join(d, 'notes.html'), 'precious notes');
    const before = snapshot(d);
    for (const out of [[], ['--out', join(d, 'notes.html')]]) {
      const r = await runCli(['report', d, '--html', ...out]);
      expect(r.code).toBe(2);
      oneLine(r.err);
      expect(r.err).toMatch(/(report|notes)\.html: output exists; use --overwrite to replace it/);
    }
    for (const input of ['p1_report.json', 'p1_seg.nii.gz']) {
      const r = await runCli(['report', d, '--html', '--out', join(d, input), '--overwrite']);
      expect(r.code).toBe(2);
      oneLine(r.err);
      expect(r.err).toMatch(/would overwrite the input .*; refusing even with --overwrite/);
    }
    expect(snapshot(d)).toEqual(before);
    const forced = await runCli(['report', d, '--html', '--overwrite']);
    expect(forced.code, forced.err).toBe(0);
    expect(readFileSync(join(d, 'report.html'), 'utf8')).toContain('<tr data-case="p1">');
    expect(snapshot(d)['notes.html']).toBe(before['notes.html']);
    noTemps(d);
  });

  it('a new page in a new folder: written whole, nothing else left', async () => {
    const d = fresh();
    await writeViewerFixture(d, 'p1');
    const out = join(d, 'pages', 'sub', 'summary.html');
    expect((await runCli(['report', d, '--html', '--out', out])).code).toBe(0);
    expect(readdirSync(join(d, 'pages', 'sub'))).toEqual(['summary.html']);
    const file = join(d, 'not-a-folder');
    writeFileSync(file, 'x');
    const r = await runCli(['report', file, '--html']);
    expect(r.code).toBe(2);
    oneLine(r.err);
    expect(r.err).toMatch(/not-a-folder: not a folder/);
  });
});

describe('view --static', () => {
  /** Files and folders under `dir` that a run left behind: staging or moved-aside folders. */
  const leftovers = (dir: string) => readdirSync(dir).filter((f) => /^\..*(staging|replaced)-/.test(f));

  it('refuses a folder that holds anything unless --overwrite, then replaces it whole', async () => {
    const d = fresh();
    const seg = join(d, 'seg');
    mkdirSync(seg);
    await writeViewerFixture(seg, 'a');
    const site = join(d, 'site');
    mkdirSync(site);
    writeFileSync(join(site, 'index.html'), 'an earlier page');
    writeFileSync(join(site, 'notes.txt'), 'precious');
    const before = snapshot(d);
    const r = await runCli(['view', seg, '--static', site]);
    expect(r.code).toBe(2);
    oneLine(r.err);
    expect(r.err).toMatch(/site: output folder is not empty \(2 entries\); use --overwrite to replace it/);
    expect(snapshot(d)).toEqual(before);

    const forced = await runCli(['view', seg, '--static', site, '--overwrite']);
    expect(forced.code, forced.err).toBe(0);
    // The new page only: nothing of the earlier folder is mixed in.
    expect(Object.keys(snapshot(site)).sort()).toEqual([
      'data/a/ct.nii.gz',
      'data/a/report.json',
      'data/a/seg.nii.gz',
      'index.html',
      'manifest.json',
      'viewer.js',
    ]);
    expect(snapshot(site)['data/a/seg.nii.gz']).toBe(before['seg/a_seg.nii.gz']);
    expect(leftovers(d)).toEqual([]);

    // An empty folder is no obstacle.
    const empty = join(d, 'empty');
    mkdirSync(empty);
    expect((await runCli(['view', seg, '--static', empty])).code).toBe(0);
    expect(existsSync(join(empty, 'manifest.json'))).toBe(true);
  });

  it('never replaces a folder that holds its inputs, even with --overwrite', async () => {
    const d = fresh();
    const seg = join(d, 'seg');
    mkdirSync(seg);
    await writeViewerFixture(seg, 'a');
    const before = snapshot(d);
    for (const site of [seg, d]) {
      const r = await runCli(['view', seg, '--static', site, '--overwrite']);
      expect(r.code).toBe(2);
      oneLine(r.err);
      expect(r.err).toMatch(
        /output folder holds the input .*a_(ct|seg)\.nii\.gz; refusing even with --overwrite/,
      );
    }
    writeFileSync(join(d, 'file'), 'x');
    const serveOnly = await runCli(['view', seg, '--overwrite']);
    expect(serveOnly.code).toBe(2);
    expect(serveOnly.err).toMatch(/--overwrite applies to --static only/);
    const file = await runCli(['view', seg, '--static', join(d, 'file'), '--overwrite']);
    expect(file.code).toBe(2);
    expect(file.err).toMatch(/file: output folder is a file/);
    expect(snapshot(d)).toEqual({ ...before, file: snapshot(d).file });
  });

  it('a failure half-way leaves the earlier folder as it was and no staging folder', async () => {
    const d = fresh();
    const seg = join(d, 'seg');
    mkdirSync(seg);
    await writeViewerFixture(seg, 'a');
    // Case b's CT is named by its report only and is no scan: converting it fails after case a's files
    // were written.
    const fx = await writeViewerFixture(seg, 'b');
    rmSync(join(seg, 'b_ct.nii.gz'));
    writeFileSync(join(d, 'b-scan.dcm'), 'not a DICOM file at all');
    writeFileSync(
      join(seg, 'b_report.json'),
      JSON.stringify({ ...fx.report, input: { ...fx.report.input, path: join(d, 'b-scan.dcm') } }),
    );
    const site = join(d, 'site');
    mkdirSync(site);
    writeFileSync(join(site, 'index.html'), 'an earlier page');
    const before = snapshot(d);
    for (const flags of [['--overwrite'], []]) {
      const r = await runCli(['view', seg, '--static', site, ...flags]);
      expect(r.code).toBe(2);
      oneLine(r.err);
      expect(r.err).toMatch(flags.length ? /b-scan\.dcm/ : /not empty/);
      expect(snapshot(d)).toEqual(before);
      expect(leftovers(d)).toEqual([]);
    }
    // Into a new folder: no folder at all afterwards.
    const r = await runCli(['view', seg, '--static', join(d, 'new', 'site')]);
    expect(r.code).toBe(2);
    expect(existsSync(join(d, 'new'))).toBe(false);
    expect(leftovers(d)).toEqual([]);
  });
});

describe('the whole-folder writer', () => {
  it('never replaces a folder that filled up while the new one was written (no --overwrite)', async () => {
    const d = fresh();
    const target = join(d, 'site');
    const write = writeWholeFolder(target, async (staging) => {
      writeFileSync(join(staging, 'index.html'), 'new page');
      // Another run creates the folder and puts a file in it meanwhile.
      mkdirSync(target);
      writeFileSync(join(target, 'theirs.txt'), 'theirs');
    });
    await expect(write).rejects.toThrow(
      /site: output folder appeared \(or filled\) while this run was writing it/,
    );
    expect(snapshot(target)).toEqual({ 'theirs.txt': snapshot(target)['theirs.txt'] });
    expect(readdirSync(d)).toEqual(['site']);
  });

  it('with overwrite: the new folder replaces the earlier one whole; a failing fill leaves it as it was', async () => {
    const d = fresh();
    const target = join(d, 'site');
    mkdirSync(target);
    writeFileSync(join(target, 'old.txt'), 'old');
    const before = snapshot(d);
    const failing = writeWholeFolder(
      target,
      async (staging) => {
        writeFileSync(join(staging, 'index.html'), 'half');
        throw new Error('conversion failed');
      },
      { overwrite: true },
    );
    await expect(failing).rejects.toThrow('conversion failed');
    expect(snapshot(d)).toEqual(before);
    await writeWholeFolder(target, async (staging) => writeFileSync(join(staging, 'index.html'), 'new'), {
      overwrite: true,
    });
    expect(readdirSync(target)).toEqual(['index.html']);
    expect(readdirSync(d)).toEqual(['site']);
  });
});

describe('the safe-output module', () => {
  it('a failure half-way removes everything the batch wrote', async () => {
    const d = fresh();
    const batch = new OutputBatch();
    await batch.write(join(d, 'a.nii.gz'), 'first');
    await expect(batch.write(join(d, 'missing', 'b.json'), 'second')).rejects.toThrow(
      /b\.json: cannot write/,
    );
    expect(readdirSync(d)).toEqual([]);
  });

  it('commit never replaces a file that appeared after the check (no-clobber), and leaves nothing', async () => {
    const d = fresh();
    const batch = new OutputBatch();
    await batch.write(join(d, 'a_seg.nii.gz'), 'mine');
    await batch.write(join(d, 'a_report.json'), 'mine');
    writeFileSync(join(d, 'a_report.json'), 'theirs'); // another run got there first
    await expect(batch.commit()).rejects.toThrow(
      /a_report\.json: output appeared while this run was writing/,
    );
    expect(readdirSync(d)).toEqual(['a_report.json']);
    await expect(checkOutputTargets([join(d, 'a_report.json')])).rejects.toThrow(/--overwrite/);
  });

  it('one writer per case: a live lock refuses, a stale one is taken over', async () => {
    const d = fresh();
    const lock = await lockCase(d, 'case-1');
    await expect(lockCase(d, 'case-1')).rejects.toThrow(/another raunet run \(pid \d+\) is writing/);
    await lock.release();
    writeFileSync(join(d, '.case-2.raunet-lock'), '2147483646\n'); // no such process
    const taken = await lockCase(d, 'case-2');
    await taken.release();
    expect(readdirSync(d)).toEqual([]);
  });
});

describe('segment', () => {
  it('a case locked by another run fails as bad input (exit 2), its reason printed even with --quiet', async () => {
    const d = fresh();
    const { ct } = generatePhantom({ seed: 3, dims: [32, 32, 16] });
    await writeNifti(join(d, 'p.nii.gz'), ct);
    mkdirSync(join(d, 'out'));
    writeFileSync(join(d, 'out', '.p.raunet-lock'), `${process.pid}\n`); // held by a live process
    const r = await runCli([
      'segment',
      join(d, 'p.nii.gz'),
      join(d, 'nope.nii.gz'),
      '--out',
      join(d, 'out'),
      '--quiet',
    ]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/nope\.nii\.gz: FAILED: no such file/);
    expect(r.err).toMatch(/p\.nii\.gz: FAILED: .*another raunet run/);
    expect(r.err).toMatch(/^error: 2 of 2 input\(s\) failed/m);
    expect(readdirSync(join(d, 'out'))).toEqual(['.p.raunet-lock']);
  });

  it('leaves no output folder when every input failed', async () => {
    const d = fresh();
    const r = await runCli(['segment', join(d, 'nope.nii.gz'), '--out', join(d, 'out'), '--quiet']);
    expect(r.code).toBe(2);
    expect(existsSync(join(d, 'out'))).toBe(false);
  });

  it('SIGINT in the middle of a case: exit 130, nothing of the run left (child process)', async () => {
    const d = fresh();
    const { ct } = generatePhantom({ seed: 4, dims: [64, 64, 48] });
    await writeNifti(join(d, 'p.nii.gz'), ct);
    const before = snapshot(d);
    const r = await runRaunet(['segment', join(d, 'p.nii.gz'), '--out', join(d, 'out')], {
      timeoutMs: 90_000,
      onStart: (child) => {
        // interrupt once the case has started (its first stage reports)
        child.stderr?.on('data', (b: Buffer) => {
          if (/p localize|p liver/.test(String(b))) child.kill('SIGINT');
        });
      },
    });
    expect(r.timedOut).toBe(false);
    expect(r.code).toBe(130);
    expect(r.err).toMatch(/interrupted \(SIGINT\)/);
    expect(snapshot(d)).toEqual(before); // no out/, no lock, no temporary files
  });
});
