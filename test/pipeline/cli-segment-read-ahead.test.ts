/**
 * `raunet segment` over several cases reads the next case while the current one runs its passes
 * (`lib/pipeline/read-ahead.ts`), with outputs, failures, lines and exit codes as with sequential reads.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSegment } from '../../lib/cli/commands/segment.ts';
import type { InferenceEngine } from '../../lib/inference/engine.ts';
import { generatePhantom } from '../../lib/phantom/phantom.ts';
import type { LoadedModels } from '../../lib/pipeline/segment.ts';
import { readNifti, writeNifti } from '../../lib/volume/nifti.ts';
import { readVolumeWithInfo } from '../../lib/volume/read.ts';
import { captureStream, runCli } from '../cli.ts';
import { obliqueAffine, scene, sceneModels } from './scene.ts';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'raunet-read-ahead-'));
  await mkdir(join(dir, 'in'));
  const { ct } = scene(obliqueAffine(20));
  for (const name of ['case-a', 'case-b']) await writeNifti(join(dir, 'in', `${name}.nii.gz`), ct);
  // a truncated gzip stream: bad input, sorted after case-a
  await writeFile(join(dir, 'in', 'case-b-broken.nii.gz'), new Uint8Array([0x1f, 0x8b, 8, 0, 1, 2, 3]));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The scene models with every forward pass logged into `events` (after a short wait, as a real pass). */
function loggedModels(events: string[]): LoadedModels {
  const models = sceneModels();
  for (const stage of ['localize', 'liver', 'tumor'] as const) {
    for (const m of models[stage]) {
      const inner: InferenceEngine = m.engine;
      m.engine = {
        ...inner,
        async predict(input, shape) {
          await new Promise((r) => setTimeout(r, 2));
          const out = await inner.predict(input, shape);
          events.push('pass');
          return out;
        },
      };
    }
  }
  return models;
}

describe('segment reads the next case during the current one', () => {
  it("starts case 2's read before case 1's last forward pass", async () => {
    const events: string[] = [];
    const outcomes = await runSegment(
      [join(dir, 'in', 'case-a.nii.gz'), join(dir, 'in', 'case-b.nii.gz')],
      { models: 'x', out: join(dir, 'overlap'), quiet: true },
      {
        loadModels: async () => loggedModels(events),
        readInput: async (path, opts) => {
          events.push(`read ${basename(path)}`);
          return readVolumeWithInfo(path, opts);
        },
      },
    );
    expect(outcomes.map((o) => o.ok)).toEqual([true, true]);
    const passes = events.filter((e) => e === 'pass').length;
    expect(passes % 2).toBe(0); // the same scene twice: the same passes per case
    // the index in `events` of case 1's last pass
    let seen = 0;
    const lastPassOfFirst = events.findIndex((e) => e === 'pass' && ++seen === passes / 2);
    const secondRead = events.indexOf('read case-b.nii.gz');
    expect(events.indexOf('read case-a.nii.gz')).toBe(0);
    expect(secondRead).toBeGreaterThan(0);
    expect(secondRead).toBeLessThan(lastPassOfFirst);
  });

  it('reads one after the other with readAhead off (what the measurement compares)', async () => {
    const events: string[] = [];
    await runSegment(
      [join(dir, 'in', 'case-a.nii.gz'), join(dir, 'in', 'case-b.nii.gz')],
      { models: 'x', out: join(dir, 'sequential'), quiet: true, readAhead: false },
      {
        loadModels: async () => loggedModels(events),
        readInput: async (path, opts) => {
          events.push(`read ${basename(path)}`);
          return readVolumeWithInfo(path, opts);
        },
      },
    );
    const passes = events.filter((e) => e === 'pass').length;
    expect(events.indexOf('read case-b.nii.gz')).toBe(passes / 2 + 1);
  });
});

describe('a bad next case', () => {
  it('is reported after the current case, whose outputs are complete and correct', async () => {
    const out = join(dir, 'bad-next');
    const { out: lines, stream } = captureStream();
    const outcomes = await runSegment(
      [join(dir, 'in', 'case-a.nii.gz'), join(dir, 'in', 'case-b-broken.nii.gz')],
      { models: 'x', out },
      {
        loadModels: async () => sceneModels(),
        stream,
        // the second read warns too: the warning must wait for its case
        readInput: async (path, opts) => {
          if (path.includes('broken')) opts.onWarning?.(`${path}: a warning of the read`);
          return readVolumeWithInfo(path, opts);
        },
      },
    );
    expect(outcomes.map((o) => [o.name, o.ok, o.badInput])).toEqual([
      ['case-a', true, undefined],
      ['case-b-broken', false, true],
    ]);
    expect(outcomes[1]!.reason).toMatch(/case-b-broken\.nii\.gz/);
    // case 1: every file, and its label map is the scene's truth
    expect(outcomes[0]!.outputs!.map((p) => basename(p)).sort()).toEqual([
      'case-a_preview.png',
      'case-a_report.json',
      'case-a_seg.ctbl',
      'case-a_seg.labels.txt',
      'case-a_seg.nii.gz',
    ]);
    const seg = await readNifti(join(out, 'case-a_seg.nii.gz'));
    expect(Array.from(seg.data)).toEqual(Array.from(scene(obliqueAffine(20)).truth.data));
    expect(JSON.parse(await readFile(join(out, 'case-a_report.json'), 'utf8')).tumors.count).toBe(2);
    for (const f of ['case-b-broken_seg.nii.gz', 'case-b-broken_report.json'])
      expect(existsSync(join(out, f))).toBe(false);
    // the lines come in case order: case 1's result, then case 2's warning and failure
    const text = lines.join('');
    const done = text.indexOf('case-a: liver');
    const warned = text.indexOf(`warning: ${join(dir, 'in', 'case-b-broken.nii.gz')}: a warning of the read`);
    const failed = text.indexOf('case-b-broken.nii.gz: FAILED: ');
    expect(done).toBeGreaterThan(-1);
    expect(warned).toBeGreaterThan(done);
    expect(failed).toBeGreaterThan(warned);
  });

  it('exits 2 through the CLI, after writing the first case (bundled demo models)', async () => {
    const inDir = join(dir, 'cli-in');
    await mkdir(inDir);
    const { ct } = generatePhantom({ seed: 5, dims: [128, 128, 96], spacing: [2.5, 2.5, 2.5], tumors: 1 });
    await writeNifti(join(inDir, 'p1.nii.gz'), ct);
    await writeFile(join(inDir, 'p2.nii.gz'), 'not a volume');
    const out = join(dir, 'cli-out');
    const { code, err } = await runCli(['segment', inDir, '--out', out, '--quiet']);
    expect(code).toBe(2);
    expect(err).toMatch(/p2\.nii\.gz: FAILED: /);
    expect(err).toMatch(/1 of 2 input\(s\) failed/);
    for (const f of ['p1_seg.nii.gz', 'p1_report.json', 'p1_preview.png'])
      expect(existsSync(join(out, f)), f).toBe(true);
  });
});
