/**
 * Brain phantoms: deterministic per seed, exact BraTS labels, the contrast model's tissue order measured
 * on the rendered sequences, and `raunet phantom --kind brain` writing a set `readBratsSubject` reads back.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBratsSubject } from '../../lib/brats/subject.ts';
import { BRATS_MODALITIES, type BratsModality } from '../../lib/brats/types.ts';
import { generateBrainPhantom } from '../../lib/phantom/brain.ts';
import { TISSUE } from '../../lib/phantom/brain-contrast.ts';
import type { Vec3 } from '../../lib/volume/volume.ts';
import { runCli } from '../cli.ts';

const SMALL = { dims: [64, 64, 48] as Vec3, spacing: [3, 3, 3] as Vec3 };

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'brain-phantom-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Index of the first element where two arrays differ (-1 when equal); fast where `toEqual` is not. */
function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** Mean of `data` over the voxels of tissue `t`. */
function tissueMean(data: Float32Array, tissues: Uint8Array, t: number): number {
  let sum = 0;
  let n = 0;
  for (let v = 0; v < data.length; v++) {
    if (tissues[v] === t) {
      sum += data[v];
      n++;
    }
  }
  expect(n).toBeGreaterThan(0);
  return sum / n;
}

describe('generateBrainPhantom', () => {
  const p = generateBrainPhantom({ seed: 7, ...SMALL });

  it('is deterministic per seed and differs between seeds', () => {
    const again = generateBrainPhantom({ seed: 7, ...SMALL });
    const other = generateBrainPhantom({ seed: 8, ...SMALL });
    expect(firstDifference(again.labels, p.labels)).toBe(-1);
    for (const m of BRATS_MODALITIES) expect(firstDifference(again.channels[m], p.channels[m])).toBe(-1);
    expect(firstDifference(other.labels, p.labels)).not.toBe(-1);
    expect(firstDifference(other.channels.flair, p.channels.flair)).not.toBe(-1);
  });

  it('labels exactly 0/1/2/4, each present, from the tissues they name', () => {
    const counts = new Map<number, number>();
    for (const v of p.labels) counts.set(v, (counts.get(v) ?? 0) + 1);
    expect([...counts.keys()].sort()).toEqual([0, 1, 2, 4]);
    const expected: Record<number, number> = {
      [TISSUE.necrosis]: 1,
      [TISSUE.edema]: 2,
      [TISSUE.enhancing]: 4,
    };
    const fromTissues = Uint8Array.from(p.tissues, (t) => expected[t] ?? 0);
    expect(firstDifference(p.labels, fromTissues)).toBe(-1);
  });

  it('keeps the necrotic core inside the tumour: no core voxel touches tissue outside the lesion', () => {
    const [nx, ny, nz] = SMALL.dims;
    const steps = [1, -1, nx, -nx, nx * ny, -nx * ny];
    let cores = 0;
    let touching = 0;
    for (let k = 1; k < nz - 1; k++)
      for (let j = 1; j < ny - 1; j++)
        for (let i = 1; i < nx - 1; i++) {
          const v = i + nx * (j + ny * k);
          if (p.labels[v] !== 1) continue;
          cores++;
          if (steps.some((s) => p.labels[v + s] === 0)) touching++;
        }
    expect(cores).toBeGreaterThan(0);
    expect(touching).toBe(0);
  });

  it('follows the contrast model: T1 WM > GM > CSF, T2 CSF bright, FLAIR CSF dark and oedema bright, T1ce rim bright', () => {
    const mean = (m: BratsModality, t: number) => tissueMean(p.channels[m], p.tissues, t);
    const { csf, grey, white, edema, enhancing, necrosis, skull } = TISSUE;
    expect(mean('t1', white)).toBeGreaterThan(mean('t1', grey));
    expect(mean('t1', grey)).toBeGreaterThan(mean('t1', csf));
    expect(mean('t2', csf)).toBeGreaterThan(mean('t2', grey));
    expect(mean('t2', grey)).toBeGreaterThan(mean('t2', white));
    expect(mean('t2', edema)).toBeGreaterThan(mean('t2', white));
    expect(mean('flair', csf)).toBeLessThan(mean('flair', white));
    for (const t of [csf, grey, white, enhancing, necrosis]) {
      expect(mean('flair', edema)).toBeGreaterThan(mean('flair', t));
    }
    for (const t of [csf, grey, white, edema, necrosis]) {
      expect(mean('t1ce', enhancing)).toBeGreaterThan(mean('t1ce', t));
    }
    // Gadolinium: the rim is much brighter on T1ce than on T1 relative to white matter.
    const ratio = (m: BratsModality) => mean(m, enhancing) / mean(m, white);
    expect(ratio('t1ce')).toBeGreaterThan(1.5 * ratio('t1'));
    for (const m of BRATS_MODALITIES) expect(mean(m, skull)).toBeLessThan(mean(m, white) / 3);
  });

  it('leaves air at exactly 0 and every head voxel > 0; skull-stripped zeroes scalp and skull', () => {
    for (const m of BRATS_MODALITIES) {
      const positive = Uint8Array.from(p.channels[m], (x) => (x > 0 ? 1 : 0));
      const head = Uint8Array.from(p.tissues, (t) => (t === TISSUE.air ? 0 : 1));
      expect(firstDifference(positive, head)).toBe(-1);
      expect(p.channels[m].every((x, v) => p.tissues[v] !== TISSUE.air || x === 0)).toBe(true);
    }
    const stripped = generateBrainPhantom({ seed: 7, ...SMALL, skullStripped: true });
    expect(firstDifference(stripped.labels, p.labels)).toBe(-1);
    const bone = (t: number) => t === TISSUE.scalp || t === TISSUE.skull;
    let zeroed = 0;
    let kept = 0;
    for (let v = 0; v < p.tissues.length; v++) {
      if (bone(p.tissues[v])) zeroed += stripped.channels.t1[v] === 0 ? 1 : 0;
      else if (p.tissues[v] !== TISSUE.air) kept += stripped.channels.t1[v] > 0 ? 1 : 0;
    }
    expect(zeroed).toBe(p.tissues.filter(bone).length);
    expect(zeroed).toBeGreaterThan(0);
    expect(kept).toBe(p.tissues.filter((t) => t !== TISSUE.air && !bone(t)).length);
  });

  it('defaults to the BraTS grid and refuses absurd sizes', () => {
    expect(() => generateBrainPhantom({ seed: 1, dims: [8, 8, 8] })).toThrow(/dims must be integers 16/);
    expect(() => generateBrainPhantom({ seed: 1, ...SMALL, spacing: [0, 1, 1] })).toThrow(/spacing/);
  });
});

describe('raunet phantom --kind brain', () => {
  it('writes subjects in the BraTS layout that readBratsSubject reads back', async () => {
    const out = join(root, 'set');
    const { code } = await runCli([
      'phantom',
      '--kind',
      'brain',
      '--out',
      out,
      '--count',
      '2',
      '--seed',
      '5',
      '--dims',
      SMALL.dims.join('x'),
      '--spacing',
      SMALL.spacing.join(','),
    ]);
    expect(code).toBe(0);
    const manifest = JSON.parse(await readFile(join(out, 'brain-phantoms.json'), 'utf8'));
    expect(manifest.subjects.map((s: { id: string }) => s.id)).toEqual([
      'BrainPhantom_000',
      'BrainPhantom_001',
    ]);
    const s = await readBratsSubject(join(out, 'BrainPhantom_001'));
    expect(s.grid.dims).toEqual(SMALL.dims);
    expect(s.grid.spacing).toEqual(SMALL.spacing);
    expect(s.labelConvention).toBe('brats-4');
    const direct = generateBrainPhantom({ seed: manifest.subjects[1].seed, ...SMALL });
    expect(firstDifference(s.labels!, direct.labels)).toBe(-1);
    // Stored as int16: each voxel is the rendered intensity rounded.
    for (const m of BRATS_MODALITIES) {
      expect(
        firstDifference(
          s.channels[m],
          direct.channels[m].map((v) => Math.round(v)),
        ),
      ).toBe(-1);
    }
  });

  it('refuses liver-only options with --kind brain, and an unknown kind (exit 2)', async () => {
    const base = ['phantom', '--out', join(root, 'never')];
    const liverOption = await runCli([...base, '--kind', 'brain', '--tumors', '2']);
    expect(liverOption.code).toBe(2);
    expect(liverOption.err).toContain('--tumors does not apply to --kind brain');
    expect((await runCli([...base, '--kind', 'knee'])).code).toBe(2);
    expect((await runCli([...base, '--size', 'small'])).code).toBe(2);
  });
});
