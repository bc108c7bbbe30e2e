/**
 * A training case in memory: the CT windowed and normalised as the network sees it, and its labels.
 */
import { InputError } from '../errors.ts';
import { type Box3, boundingBox } from '../preprocess/crop.ts';
import { windowAndNormalize } from '../preprocess/window.ts';
import { toCanonical, toCanonicalData } from '../volume/orientation.ts';
import { sameGrid, type Vec3, type Volume } from '../volume/volume.ts';

/** Paths of one case on disk. */
export interface CaseFiles {
  id: string;
  volume: string;
  segmentation: string;
}

/**
 * A case ready for the samplers: the normalised CT and its labels on the same x-fastest grid, the case's
 * canonical RAS+ reorientation (`volume/orientation.ts`), which inference uses too.
 */
export interface PreparedCase {
  id: string;
  dims: Vec3;
  spacing: Vec3;
  /** CT after HU windowing and normalisation, values in [0, 1]. */
  image: Float32Array;
  /** 0 background, 1 liver, 2 tumor. */
  labels: Uint8Array;
  /** Bounding box of liver + tumor (labels >= 1), no margin; null when the case has no liver. */
  liverBox: Box3 | null;
}

/**
 * Check that a CT and its segmentation correspond voxel to voxel and hold labels 0..2, then window and
 * normalise the CT. Errors are InputErrors naming the files.
 */
export function prepareCase(id: string, ct: Volume, seg: Volume, files?: Partial<CaseFiles>): PreparedCase {
  const segName = files?.segmentation ?? `segmentation of case ${id}`;
  if (!sameGrid(ct, seg, 1e-3)) {
    throw new InputError(
      `grid ${seg.dims.join('x')} does not match the CT ${files?.volume ?? id} (${ct.dims.join('x')}, ` +
        'same dims and affine needed)',
      'SIZE_MISMATCH',
      segName,
    );
  }
  const labels = new Uint8Array(seg.data.length);
  for (let i = 0; i < labels.length; i++) {
    const v = Math.round(seg.data[i]);
    if (!(v >= 0 && v <= 2)) {
      throw new InputError(
        `label ${seg.data[i]} found; expected 0 (background), 1 (liver), 2 (tumor)`,
        'BAD_HEADER',
        segName,
      );
    }
    labels[i] = v;
  }
  const { volume: canonical, reorientation } = toCanonical(ct);
  const canonicalLabels = toCanonicalData(labels, reorientation);
  return {
    id,
    dims: [...canonical.dims],
    spacing: [...canonical.spacing],
    image: windowAndNormalize(canonical).data,
    labels: canonicalLabels,
    liverBox: boundingBox(canonicalLabels, canonical.dims, 0, (v) => v >= 1),
  };
}
