/**
 * `raunet segment` applies the input checks before stage 1: a refused input fails with one line naming
 * the file and nothing is written for it; warnings and the result's flags go to stderr and the report.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSegment } from '../../lib/cli/commands/segment.ts';
import { DEMO } from '../../lib/training/demo.ts';
import { writeNifti } from '../../lib/volume/nifti.ts';
import { withData } from '../../lib/volume/volume.ts';
import { captureStream } from '../cli.ts';
import { pointwiseEngine } from './engines.ts';
import { scene, sceneModels } from './scene.ts';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'raunet-checks-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('segment: input checks and flags', () => {
  it('refuses an MRI-like volume with one line naming it, and writes nothing for it', async () => {
    const { ct } = scene();
    // Non-negative intensities, dark background, brighter tissue: what an MR image looks like.
    const mri = withData(
      ct,
      Int16Array.from(ct.data, (hu, i) => (hu < -500 ? i % 7 : 300 + hu + (i % 13))),
    );
    const file = join(dir, 'mri.nii.gz');
    await writeNifti(file, mri);
    const { out: lines, stream } = captureStream();
    const out = join(dir, 'out-mri');
    const outcomes = await runSegment(
      [file],
      { models: 'x', out },
      { loadModels: async () => sceneModels(), stream },
    );
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0].ok).toBe(false);
    expect(outcomes[0].reason).toMatch(
      new RegExp(`^${file}: values 0\\.\\.\\d+ are not CT Hounsfield units`),
    );
    expect(lines.join('')).toContain(`${file}: FAILED: values`);
    expect(lines.join('')).not.toContain(`${file}: FAILED: ${file}`);
    // nothing written: not even the output folder the run created is left behind
    await expect(readdir(out)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('prints the result flags as warnings and writes them into the report', async () => {
    const { ct } = scene();
    const file = join(dir, 'small-liver.nii.gz');
    await writeNifti(file, ct);
    const { out: lines, stream } = captureStream();
    const out = join(dir, 'out-small');
    const outcomes = await runSegment(
      [file],
      { models: 'x', out },
      { loadModels: async () => sceneModels(), stream },
    );
    expect(outcomes[0].ok).toBe(true);
    const report = JSON.parse(await readFile(join(out, 'small-liver_report.json'), 'utf8'));
    // The scene's liver is an ellipsoid of about 5 mL, well inside the scan and the stage-1 box.
    expect(report.flags.map((f: { code: string }) => f.code)).toEqual(['liver-volume-implausible']);
    expect(report.demoModels).toBe(false);
    const warnings = lines
      .join('')
      .split('\n')
      .filter((l) => l.startsWith('warning:'));
    expect(warnings).toEqual([`warning: ${file}: ${report.flags[0].message}`]);
  });

  it('fails a case whose liver comes out empty after stage 1 found a box, as when stage 1 finds none', async () => {
    const file = join(dir, 'empty.nii.gz');
    await writeNifti(file, scene().ct);
    /** The scene's models with one stage answering 0 everywhere. */
    const blind = (stage: 'localize' | 'liver') => async () => {
      const m = sceneModels();
      m[stage] = m[stage].map((x) => ({ ...x, engine: pointwiseEngine(() => 0) }));
      return m;
    };
    const [afterBox] = await runSegment(
      [file],
      { models: 'x', out: join(dir, 'out-e1'), quiet: true },
      { loadModels: blind('liver') },
    );
    const [noBox] = await runSegment(
      [file],
      { models: 'x', out: join(dir, 'out-e2'), quiet: true },
      { loadModels: blind('localize') },
    );
    for (const o of [afterBox, noBox]) {
      expect(o.ok).toBe(false);
      expect(o.reason).toBe(`${file}: no liver found in the scan (is it an abdominal CT?)`);
    }
    for (const out of ['out-e1', 'out-e2']) {
      await expect(readdir(join(dir, out))).rejects.toMatchObject({ code: 'ENOENT' });
    }
  });

  it('says so on stderr and in the report when demo models segment a scan', async () => {
    const file = join(dir, 'demo.nii.gz');
    await writeNifti(file, scene().ct);
    const demo = async () => {
      const m = sceneModels();
      m.liver = m.liver.map((x) => ({ ...x, manifest: { ...x.manifest, note: DEMO.note } }));
      return m;
    };
    const { out: lines, stream } = captureStream();
    const out = join(dir, 'out-demo');
    const [o] = await runSegment([file], { models: 'x', out }, { loadModels: demo, stream });
    expect(o.ok).toBe(true);
    const report = JSON.parse(await readFile(join(out, 'demo_report.json'), 'utf8'));
    expect(report.demoModels).toBe(true);
    expect(report.flags.at(-1).code).toBe('demo-models');
    expect(lines.join('')).toContain(`warning: ${file}: DEMO MODEL - not for clinical use`);
  });
});
