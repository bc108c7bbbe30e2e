import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../lib/errors.ts';
import { initBackend } from '../../lib/model/backend.ts';
import { loadModel } from '../../lib/model/storage.ts';
import { type MetricsLine, type TrainState, trainStage } from '../../lib/training/train-stage.ts';
import { writeNifti } from '../../lib/volume/nifti.ts';
import { createVolume, type Vec3 } from '../../lib/volume/volume.ts';
import { runCli } from '../cli.ts';

/**
 * Tiny cases written as NIfTI: 32x32x12 voxels, a 12x10x6 "liver" block at 60 HU in a -50 HU body, one
 * 3x3x2 darker "tumor" (label 2) inside it; the block moves with the case number.
 */
async function writeTinyCases(dir: string, count: number): Promise<void> {
  const dims: Vec3 = [32, 32, 12];
  for (let n = 0; n < count; n++) {
    const ct = new Int16Array(32 * 32 * 12).fill(-50);
    const seg = new Uint8Array(ct.length);
    const x0 = 6 + n * 2;
    for (let k = 3; k < 9; k++)
      for (let j = 8; j < 18; j++)
        for (let i = x0; i < x0 + 12; i++) {
          const p = i + 32 * (j + 32 * k);
          const tumor = k >= 5 && k < 7 && j >= 11 && j < 14 && i >= x0 + 4 && i < x0 + 7;
          ct[p] = tumor ? 10 : 60;
          seg[p] = tumor ? 2 : 1;
        }
    await writeNifti(join(dir, `volume-${n}.nii.gz`), createVolume(ct, dims, [2, 2, 3]));
    await writeNifti(join(dir, `segmentation-${n}.nii.gz`), createVolume(seg, dims, [2, 2, 3]));
  }
}

let root: string;
let data: string;
beforeAll(async () => {
  await initBackend('cpu');
  root = await mkdtemp(join(tmpdir(), 'raunet-train-'));
  data = join(root, 'data');
  await mkdir(data);
  await writeTinyCases(data, 3);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const readLines = (path: string) =>
  readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as MetricsLine);

describe('trainStage (tiny end-to-end run)', () => {
  const base = {
    stage: 'localize' as const,
    stepsPerEpoch: 1,
    batchSize: 2,
    width: 0.02,
    patch: [32, 32],
    perCase: 2,
    seed: 3,
  };

  it('writes the fold layout with manifest, ONNX and a metrics log, then resumes the epoch count', async () => {
    const out = join(root, 'models');
    const lines: string[] = [];
    const steps: string[] = [];
    const first = await trainStage({
      ...base,
      data,
      out,
      epochs: 1,
      log: (l) => lines.push(l),
      onStep: (fold, epoch, step, total) => steps.push(`${fold}:${epoch}:${step}/${total}`),
    });
    expect(steps).toEqual(['0:1:1/1']);
    const dir = join(out, 'localize', 'fold-0');
    expect(first).toEqual([
      expect.objectContaining({ fold: 0, dir, epochsDone: 1, bestEpoch: 1, aborted: false }),
    ]);
    for (const f of [
      'model.json',
      'weights.bin',
      'manifest.json',
      'model.onnx',
      'metrics.jsonl',
      'curves.png',
      'train-state.json',
    ]) {
      expect(existsSync(join(dir, f)), f).toBe(true);
    }
    // The run's curves beside the fold folders (lib/training/curves.ts draws them).
    expect(existsSync(join(out, 'localize', 'curves.png'))).toBe(true);
    const { manifest, model } = await loadModel(dir);
    model.dispose();
    expect(manifest).toMatchObject({
      arch: 'raunet1',
      stage: 'localize',
      fold: 0,
      folds: 1,
      inputShape: [32, 32, 1],
      trainedOn: { mirror: false, seed: 3 },
    });
    expect(manifest.width).toBeCloseTo(0.02);
    const log1 = readLines(join(dir, 'metrics.jsonl'));
    expect(log1).toHaveLength(1);
    expect(log1[0]).toMatchObject({ stage: 'localize', fold: 0, epoch: 1, steps: 1 });
    expect(log1[0].valDice).toBeGreaterThanOrEqual(0);
    expect(log1[0].valDice).toBeLessThanOrEqual(1);
    expect(lines.some((l) => /epoch 1\/1/.test(l))).toBe(true);

    // Without --resume an existing model is never overwritten.
    await expect(trainStage({ ...base, data, out, epochs: 2 })).rejects.toThrow(
      /already holds a trained model/,
    );
    // A resume with another configuration is refused.
    await expect(trainStage({ ...base, data, out, epochs: 2, resume: true, seed: 4 })).rejects.toThrow(
      InputError,
    );
    await expect(trainStage({ ...base, data, out, epochs: 2, resume: true, mirror: true })).rejects.toThrow(
      /without --mirror/,
    );

    const second = await trainStage({
      ...base,
      data,
      out,
      epochs: 2,
      resume: true,
      onStep: (fold, epoch, step, total) => steps.push(`${fold}:${epoch}:${step}/${total}`),
    });
    expect(steps).toEqual(['0:1:1/1', '0:2:1/1']);
    expect(second[0].epochsDone).toBe(2);
    const log2 = readLines(join(dir, 'metrics.jsonl'));
    expect(log2.map((l) => l.epoch)).toEqual([1, 2]);
    const state = JSON.parse(readFileSync(join(dir, 'train-state.json'), 'utf8')) as TrainState;
    expect(state.epochsDone).toBe(2);
    expect(state.train.length + state.validation.length).toBe(3);
    expect(state.train.filter((id) => state.validation.includes(id))).toEqual([]);
  });

  it('stops cleanly when aborted, keeping what was saved', async () => {
    const out = join(root, 'aborted');
    const controller = new AbortController();
    controller.abort();
    const res = await trainStage({ ...base, data, out, epochs: 3, signal: controller.signal });
    expect(res[0]).toMatchObject({ aborted: true, epochsDone: 0 });
    expect(existsSync(join(out, 'localize', 'fold-0', 'train-state.json'))).toBe(true);
    expect(existsSync(join(out, 'localize', 'fold-0', 'manifest.json'))).toBe(false);
  });

  it('is reproducible: the same seed trains the same weights, another seed other weights', async () => {
    const weights = async (name: string, seed: number) => {
      const out = join(root, name);
      await trainStage({ ...base, data, out, epochs: 1, seed });
      return readFileSync(join(out, 'localize', 'fold-0', 'weights.bin'));
    };
    const [a, b, c] = [await weights('seed-a', 8), await weights('seed-b', 8), await weights('seed-c', 9)];
    expect(a.length).toBeGreaterThan(1000);
    expect(a.equals(b)).toBe(true);
    expect(a.equals(c)).toBe(false);
  });

  it('rejects bad options with InputErrors', async () => {
    const out = join(root, 'bad');
    await expect(trainStage({ ...base, data, out, epochs: 1, patch: [32, 32, 32] })).rejects.toThrow(
      /--patch/,
    );
    await expect(trainStage({ ...base, data, out, epochs: 1, folds: 5 })).rejects.toThrow(/at least 5 cases/);
    await expect(trainStage({ ...base, data, out, epochs: 1, folds: 3, fold: 3 })).rejects.toThrow(/--fold/);
  });
});

/** `raunet train` on the tiny cases: localize, tiny width, 32x32 slices. */
const tinyLocalize = () => [
  'train',
  '--data',
  data,
  '--stage',
  'localize',
  '--width',
  '0.02',
  '--patch',
  '32x32',
];

describe('trainStage with the paper recipe', () => {
  it('makes an epoch one pass over the samples, records the recipe and refuses to resume with another', async () => {
    // Each tiny case has 6 slices with liver (z 3..8) and 6 without: 6 + round(6 / 3) = 8 stage-1
    // samples. 3 cases, one held out for validation -> 16 training samples; batches of 3 -> 5 steps
    // (one sample left over).
    const out = join(root, 'paper');
    const lines: string[] = [];
    const steps: string[] = [];
    const opts = {
      data,
      out,
      stage: 'localize' as const,
      recipe: 'paper' as const,
      batchSize: 3,
      microBatch: 2,
      width: 0.02,
      patch: [32, 32],
      seed: 3,
      epochs: 1,
      bnBatches: 1,
      outputPrior: false,
      log: (l: string) => lines.push(l),
      onStep: (_f: number, _e: number, step: number, total: number) => steps.push(`${step}/${total}`),
    };
    await trainStage(opts);
    expect(steps).toEqual(['1/5', '2/5', '3/5', '4/5', '5/5']);
    expect(lines).toContain(
      'localize fold 0: recipe paper: 16 training samples per epoch = 5 steps of 3 (micro-batches of 2) x 1 epochs = 5 steps',
    );
    expect(
      lines.some((l) => /estimate [\d.]+ s per step \(steps 2-4 measured\) x 5 steps x 1 epochs/.test(l)),
    ).toBe(true);
    const dir = join(out, 'localize', 'fold-0');
    expect(readLines(join(dir, 'metrics.jsonl'))[0]).toMatchObject({ steps: 5 });
    const { manifest, model } = await loadModel(dir);
    model.dispose();
    expect(manifest.trainedOn?.recipe).toBe('paper');
    expect(manifest.threshold).toBe(0.5); // the authors' stage-1 threshold
    const state = JSON.parse(readFileSync(join(dir, 'train-state.json'), 'utf8')) as TrainState;
    expect(state.recipe).toBe('paper');
    await expect(trainStage({ ...opts, epochs: 2, resume: true, recipe: 'fast' })).rejects.toThrow(
      /recipe paper/,
    );
    // the CLI's --recipe reaches trainStage (were it dropped, the paper default would resume and find
    // the fold done: exit code 0)
    const cli = await runCli(
      [...tinyLocalize(), '--out', out].concat([
        '--seed',
        '3',
        '--epochs',
        '1',
        '--resume',
        '--quiet',
        '--recipe',
        'fast',
      ]),
    );
    expect(cli.err).toMatch(/cannot resume: .*recipe paper/);
    expect(cli.code).toBe(2);
    // about 15 s of CPU; the default 120 s limit is too close on a loaded machine
  }, 300_000);
});

describe('raunet train --recipe', () => {
  it('reaches the trainer: the paper recipe’s batch of 90 slices is more than the tiny set holds', async () => {
    const args = [...tinyLocalize(), '--quiet'];
    const paper = await runCli([...args, '--out', join(root, 'cli-paper')]);
    expect(paper.code).toBe(2);
    expect(paper.err).toMatch(/fold 0 has 16 training samples, fewer than one batch of 90/);
    const bad = await runCli([...args, '--out', join(root, 'cli-bad'), '--recipe', 'slow']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--recipe must be one of paper, fast, got "slow"/);
    const micro = await runCli([...args, '--out', join(root, 'cli-micro'), '--micro-batch', '0']);
    expect(micro.code).toBe(2);
    expect(micro.err).toMatch(/--micro-batch must be an integer >= 1/);
  });
});
