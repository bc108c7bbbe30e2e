/**
 * The brain-tumour network trains with the project's one trainer (`trainStage`, stage `brats`) on brain
 * phantoms: four-channel batches from the subject folders, the fold layout (manifest, ONNX, metrics.jsonl,
 * curves), the loss falling, and resume. Tiny phantoms (32^3 voxels of 6 mm) and a 1/16-width network.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normaliseBratsSubject } from '../../lib/brats/normalise.ts';
import { readBratsSubject } from '../../lib/brats/subject.ts';
import { bratsStageSamples, trainBrats } from '../../lib/brats/train.ts';
import { BRATS_MODALITIES } from '../../lib/brats/types.ts';
import { initBackend } from '../../lib/model/backend.ts';
import { brainPhantomId, writeBrainPhantomSet } from '../../lib/phantom/brain-set.ts';
import type { MetricsLine, StageSampling } from '../../lib/training/train-stage.ts';
import type { Batch } from '../../lib/training/trainer.ts';

let dir: string;
let data: string;

beforeAll(async () => {
  await initBackend();
  dir = await mkdtemp(join(tmpdir(), 'raunet-brats-train-'));
  data = join(dir, 'data');
  await writeBrainPhantomSet(data, 4, 11, { dims: [32, 32, 32], spacing: [6, 6, 6], skullStripped: true });
}, 60_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const sampling = (perCase: number): StageSampling => ({
  stage: 'tumor',
  patch: [32, 32, 32],
  batchSize: 2,
  perCase,
  tumorFraction: 1,
  jitter: 0,
});

async function collect(it: AsyncIterable<Batch>, max = 100): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of it) {
    out.push(b);
    if (out.length >= max) break;
  }
  return out;
}

describe('bratsStageSamples', () => {
  it('hands out four-channel batches of the normalised sequences and whole-tumour targets', async () => {
    const source = await bratsStageSamples()(data, { train: sampling(3), validation: sampling(2) }, 2);
    expect(source.ids).toEqual([0, 1, 2, 3].map(brainPhantomId));
    expect(await source.count(source.ids[0]!, 'train')).toBe(3);
    expect(await source.count(source.ids[0]!, 'validation')).toBe(2);
    // one pass over 4 subjects x 3 patches in batches of 2
    const pass = await collect(source.training(source.ids, { seed: 5, passes: 1 }));
    expect(pass.length).toBe(6);
    for (const b of pass) {
      expect(b.shape).toEqual([2, 32, 32, 32, 4]);
      expect(b.y.every((v) => v === 0 || v === 1)).toBe(true);
      // tumour-centred patches (fraction 1, no jitter): every patch holds tumour
      const per = 32 ** 3;
      for (let i = 0; i < 2; i++)
        expect(b.y.subarray(i * per, (i + 1) * per).some((v) => v === 1)).toBe(true);
    }
    // the validation samples of one subject, twice: the same batches
    const v1 = await collect(source.validation([source.ids[1]!], 9));
    const v2 = await collect(source.validation([source.ids[1]!], 9));
    expect(v1.length).toBe(1);
    expect(v1[0]!.x).toEqual(v2[0]!.x);
    // a patch covering the whole 32^3 subject (no jitter, the patch = the grid) is the subject itself:
    // channel c of voxel v is sequence BRATS_MODALITIES[c] normalised, the target its labels > 0
    const subject = await readBratsSubject(join(data, source.ids[1]!));
    const norm = normaliseBratsSubject(subject);
    const x = v1[0]!.x;
    for (const v of [0, 5000, 16_400, 32_767])
      for (let c = 0; c < 4; c++)
        expect(x[v * 4 + c]).toBeCloseTo(norm.channels[BRATS_MODALITIES[c]!][v]!, 6);
    const labels = subject.labels!;
    for (let v = 0; v < labels.length; v++) expect(v1[0]!.y[v]).toBe(labels[v]! > 0 ? 1 : 0);
  }, 60_000);
});

describe('trainBrats', () => {
  it('learns on brain phantoms (the training loss falls), writes the fold layout, then resumes', async () => {
    const out = join(dir, 'models');
    const opts = {
      data,
      out,
      recipe: 'fast' as const,
      folds: 1,
      epochs: 3,
      stepsPerEpoch: 6,
      batchSize: 2,
      width: 1 / 16,
      patch: [32, 32, 32],
      perCase: 4,
      bnBatches: 2,
      seed: 3,
    };
    const [r] = await trainBrats(opts);
    const fold = join(out, 'brats', 'fold-0');
    expect(r!.dir).toBe(fold);
    const lines = readFileSync(join(fold, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as MetricsLine);
    expect(lines.map((l) => l.epoch)).toEqual([1, 2, 3]);
    expect(lines.every((l) => l.stage === 'brats' && Number.isFinite(l.valDice))).toBe(true);
    // the Dice loss of the last epoch's steps is below the first epoch's
    expect(lines[2]!.loss).toBeLessThan(lines[0]!.loss);
    const manifest = JSON.parse(readFileSync(join(fold, 'manifest.json'), 'utf8'));
    expect(manifest).toMatchObject({ arch: 'raunet2-brain', stage: 'brats', inputShape: [32, 32, 32, 4] });
    expect(manifest.orientation).toBeUndefined();
    // segmenting repeats the training normalisation: the manifest records it (the default, minmax)
    expect(manifest.trainedOn.normalisation).toBe('minmax');
    for (const f of ['model.onnx', 'weights.bin', 'curves.png', 'train-state.json'])
      expect(existsSync(join(fold, f)), f).toBe(true);
    // a resume must prepare its input as the run did
    await expect(trainBrats({ ...opts, epochs: 4, resume: true, normalisation: 'zscore' })).rejects.toThrow(
      /cannot resume: .*normalisation minmax/,
    );
    const [again] = await trainBrats({ ...opts, epochs: 4, resume: true });
    expect(again!.epochsDone).toBe(4);
    expect(readFileSync(join(fold, 'metrics.jsonl'), 'utf8').trim().split('\n').length).toBe(4);
  }, 600_000);
});
