/**
 * A subject as the brain network sees it: the four sequences normalised (`normaliseBratsSubject`, the
 * training samples' rule) as planar channels in `BRATS_MODALITIES` order, and the brain mask. The grid is
 * the subject's own (no reorientation): training samples are cut from the grid as stored too
 * (`lib/brats/sampling.ts`), and BraTS distributes every subject in one orientation.
 */
import { InputError } from '../errors.ts';
import type { ModelManifest } from '../model/storage.ts';
import type { Vec3 } from '../volume/volume.ts';
import { type BratsNormalisation, normaliseBratsSubject } from './normalise.ts';
import { BRATS_MODALITIES, type BratsSubject } from './types.ts';

export type { BratsNormalisation };

export interface BratsNetworkInput {
  /** Normalised sequences, channel c = `BRATS_MODALITIES[c]`. */
  channels: Float32Array[];
  /** 1 where the voxel is brain. */
  brain: Uint8Array;
  dims: Vec3;
  spacing: Vec3;
}

export function prepareBratsInput(subject: BratsSubject, mode?: BratsNormalisation): BratsNetworkInput {
  const norm = normaliseBratsSubject(subject, mode ? { mode } : {});
  return {
    channels: BRATS_MODALITIES.map((m) => norm.channels[m]),
    brain: norm.brain,
    dims: [...subject.grid.dims],
    spacing: [...subject.grid.spacing],
  };
}

/** `--normalisation minmax|zscore`. */
export function parseBratsNormalisation(text: string): BratsNormalisation {
  if (text === 'minmax' || text === 'zscore') return text;
  throw new InputError(`--normalisation must be minmax or zscore, got "${text}"`, 'BAD_ARGUMENT');
}

/** The normalisation a brain model was trained with; manifests from before it was recorded: `minmax`. */
export function manifestNormalisation(manifest: Pick<ModelManifest, 'trainedOn'>): BratsNormalisation {
  return manifest.trainedOn?.normalisation ?? 'minmax';
}

/**
 * The normalisation to segment with: the one the ensemble's manifests record (folds that disagree are
 * refused), and an explicit `--normalisation` only when it is the same (a model fed inputs normalised
 * differently from its training segments garbage without any error).
 */
export function resolveBratsNormalisation(
  models: ReadonlyArray<{ id: string; manifest: Pick<ModelManifest, 'trainedOn'> }>,
  requested?: BratsNormalisation,
): BratsNormalisation {
  const first = models[0];
  if (!first) throw new RangeError('no brain models to read the normalisation of');
  const trained = manifestNormalisation(first.manifest);
  const other = models.find((m) => manifestNormalisation(m.manifest) !== trained);
  if (other) {
    throw new InputError(
      `${first.id} was trained with ${trained} normalisation, ${other.id} with ${manifestNormalisation(other.manifest)}: one ensemble needs one`,
      'BAD_ARGUMENT',
    );
  }
  if (requested !== undefined && requested !== trained) {
    throw new InputError(
      `--normalisation ${requested} disagrees with the models, trained with ${trained} (their manifest's trainedOn.normalisation)`,
      'BAD_ARGUMENT',
    );
  }
  return trained;
}
