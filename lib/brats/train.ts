/**
 * Training the brain-tumour network (`raunet train --task brats`): the project's one trainer
 * (`trainStage` with stage `brats`) fed from a brain-tumour dataset (BraTS subject folders or MSD
 * Task01_BrainTumour, `openBratsDataset`). This module is the `StageSamples` source of that stage: the
 * labelled subjects, read lazily and kept in a small least-recently-used cache, patches drawn by
 * `sampleBratsPatches` (the paper's tumour-centred 64^3 patches, `lib/brats/sampling.ts`) and stacked into
 * batches of four-channel inputs [n, z, y, x, 4] with binary whole-tumour targets [n, z, y, x, 1].
 *
 * Batches pool the patches of a few subjects and draw from the pool at random, as the liver samplers do
 * (`trainingBatches` of `lib/training/samplers.ts`, which is written for the CT cases' samplers).
 */
import { type BratsSubjectEntry, openBratsDataset } from '../datasets/brats.ts';
import { InputError } from '../errors.ts';
import { createRng, deriveSeed, type Rng, shuffleInPlace } from '../training/random.ts';
import { type Draw, mirrorSample, randomMirrorAxes, type Sample, stackBatch } from '../training/samplers.ts';
import {
  type FoldResult,
  type StageSamples,
  type StageSamplesFactory,
  type StageSampling,
  type TrainStageOptions,
  trainStage,
} from '../training/train-stage.ts';
import type { Vec3 } from '../volume/volume.ts';
import type { BratsNormalisation } from './normalise.ts';
import { BRATS_CHANNELS, type BratsSamplingOptions, sampleBratsPatches } from './sampling.ts';
import type { BratsSubject } from './types.ts';

/**
 * The labelled subjects of a brain-tumour dataset folder; a subject without labels, or one the dataset
 * lists as a problem, is refused naming it (training on part of a dataset by accident is worse).
 */
export async function openBratsTrainingSet(dir: string) {
  const ds = await openBratsDataset(dir);
  const problem = ds.problems[0];
  if (problem) throw new InputError(`subject ${problem.id}: ${problem.reason}`, 'BAD_ARGUMENT', dir);
  const unlabelled = ds.subjects.find((s) => !s.labels);
  if (unlabelled) {
    throw new InputError('no label file (<id>_seg.nii.gz) to train on', 'NOT_FOUND', unlabelled.path);
  }
  return ds;
}

/** Subjects read on first use and kept in a least-recently-used cache. */
class SubjectCache {
  private readonly cache = new Map<string, Promise<BratsSubject>>();
  constructor(
    private readonly byId: ReadonlyMap<string, BratsSubjectEntry>,
    private readonly read: (s: BratsSubjectEntry) => Promise<BratsSubject>,
    private readonly size: number,
  ) {}

  get(id: string): Promise<BratsSubject> {
    const hit = this.cache.get(id);
    if (hit) {
      this.cache.delete(id);
      this.cache.set(id, hit);
      return hit;
    }
    const files = this.byId.get(id);
    if (!files) throw new RangeError(`unknown subject ${id}`);
    const loading = this.read(files);
    this.cache.set(id, loading);
    loading.catch(() => this.cache.delete(id));
    while (this.cache.size > Math.max(1, this.size))
      this.cache.delete(this.cache.keys().next().value as string);
    return loading;
  }
}

const cutDraw = (d: Draw): Sample => ({ ...d.cut(), origin: d.origin, kind: d.kind });

function samplingOptions(s: StageSampling, normalisation?: BratsNormalisation): BratsSamplingOptions {
  return {
    patch: s.patch as Vec3,
    ...(s.tumorFraction === undefined ? {} : { tumourFraction: s.tumorFraction }),
    ...(s.jitter === undefined ? {} : { jitter: s.jitter }),
    ...(normalisation ? { normalisation: { mode: normalisation } } : {}),
  };
}

export interface BratsSamplesOptions {
  /** Per-sequence normalisation (default `minmax`, the paper's [0, 1]; `zscore` over the brain). */
  normalisation?: BratsNormalisation;
  /** Subjects whose patches are pooled before batches are drawn (default 3). */
  poolSubjects?: number;
}

/** The `StageSamples` of the `brats` stage: BraTS subject folders of the dataset folder. */
export function bratsStageSamples(o: BratsSamplesOptions = {}): StageSamplesFactory {
  return async (data, sampling, cacheSize) => {
    const ds = await openBratsTrainingSet(data);
    const subjects = ds.subjects;
    const cache = new SubjectCache(new Map(subjects.map((s) => [s.id, s])), ds.readSubject, cacheSize);
    const perCase = (s: StageSampling) => s.perCase ?? 400;
    const draw = async (id: string, s: StageSampling, rng: Rng): Promise<Draw[]> =>
      sampleBratsPatches(await cache.get(id), perCase(s), rng, samplingOptions(s, o.normalisation));
    const patch = sampling.train.patch as Vec3;
    const samples: StageSamples = {
      ids: subjects.map((s) => s.id),
      count: async (id, use) =>
        (await draw(id, use === 'train' ? sampling.train : sampling.validation, createRng(0))).length,
      async *training(ids, { seed, passes }) {
        const rng = createRng(deriveSeed(seed, 'train'));
        const batchSize = sampling.train.batchSize;
        const pool: Array<{ draw: Draw; axes: number[] }> = [];
        const pooled = o.poolSubjects ?? 3;
        let emptyRounds = 0;
        for (let round = 0; passes === undefined || round < passes; round++) {
          let drawn = 0;
          const order = shuffleInPlace([...ids], rng);
          for (let i = 0; i < order.length; i++) {
            for (const d of await draw(order[i]!, sampling.train, rng)) {
              pool.push({ draw: d, axes: sampling.train.mirror ? randomMirrorAxes(3, rng) : [] });
              drawn++;
            }
            if ((i + 1) % pooled !== 0 && i !== order.length - 1) continue;
            shuffleInPlace(pool, rng);
            while (pool.length >= batchSize) {
              const items = pool.splice(0, batchSize);
              yield stackBatch(
                items.map(({ draw: d, axes }) => mirrorSample(cutDraw(d), patch, axes, BRATS_CHANNELS)),
                patch,
                BRATS_CHANNELS,
              );
            }
          }
          if (drawn === 0 && (++emptyRounds > 1 || passes !== undefined)) {
            throw new RangeError('no brats samples: the training subjects have no tumour and no brain');
          }
        }
      },
      async *validation(ids, seed) {
        const pending: Draw[] = [];
        const size = sampling.validation.batchSize;
        for (const id of ids) {
          pending.push(...(await draw(id, sampling.validation, createRng(deriveSeed(seed, `val:${id}`)))));
          while (pending.length >= size)
            yield stackBatch(pending.splice(0, size).map(cutDraw), patch, BRATS_CHANNELS);
        }
        if (pending.length > 0) yield stackBatch(pending.map(cutDraw), patch, BRATS_CHANNELS);
      },
    };
    return samples;
  };
}

/** `trainStage` for the brain-tumour task (stage `brats`, BraTS subject folders in `data`). */
export function trainBrats(
  opts: Omit<TrainStageOptions, 'stage' | 'samples'> & BratsSamplesOptions,
): Promise<FoldResult[]> {
  const { normalisation = 'minmax', poolSubjects, ...rest } = opts;
  // The manifests record the normalisation: segmenting must prepare its input the same way.
  return trainStage({
    ...rest,
    stage: 'brats',
    normalisation,
    samples: bratsStageSamples({ normalisation, poolSubjects }),
  });
}
