/**
 * Synthetic abdominal CT phantoms with liver and liver-tumor ground truth (labels 0 background,
 * 1 liver, 2 tumor), deterministic for a seed. See docs/phantoms.md.
 */

import { InputError } from '../errors.ts';
import { keepLargestComponent } from '../postprocess/components.ts';
import { boundingBox, boxSize, cropArray, pasteInto } from '../preprocess/crop.ts';
import { createVolume, type Vec3, type Volume } from '../volume/volume.ts';
import { type Patient, samplePatient } from './anatomy.ts';
import { backMusclesPainter, trunkPainter } from './body.ts';
import { chooseGeometry } from './geometry.ts';
import { centredGrid, gridAffine } from './grid.ts';
import { buildLiver, placeTumors, type TumorInfo } from './liver.ts';
import { LatticeNoise, WhiteNoise } from './noise.ts';
import { buildOrgans } from './organs.ts';
import { deriveSeed, Rng } from './random.ts';
import { renderVolume } from './render.ts';
import type { Box } from './shapes.ts';
import { ribsPainter, spinePainter } from './skeleton.ts';
import { LABEL } from './slice.ts';

export const MAX_TUMORS = 4;

export interface PhantomOptions {
  seed: number;
  /** Grid size (x, y, z); drawn like clinical CT when omitted (512 x 512 in-plane). */
  dims?: Vec3;
  /** Voxel size in mm; drawn when omitted (see docs/phantoms.md). */
  spacing?: Vec3;
  /** Number of tumors; 0..4 at random when omitted. */
  tumors?: number;
  /** Tumor radii (mm) drawn uniformly in [min, max] instead of the default mix of small to large. */
  tumorRadius?: [number, number];
  /** Also return the map of every organ (`ORGAN` codes) in `info.organs`. */
  organMap?: boolean;
}

export interface Phantom {
  ct: Volume<Int16Array>;
  seg: Volume<Uint8Array>;
  /** What was drawn: the patient's parameters and each tumor placed. */
  info: {
    seed: number;
    patient: Patient;
    tumors: TumorInfo[];
    /** Liver voxels outside the main liver body, relabelled background (rare; a few voxels). */
    islandVoxels: number;
    organs?: Volume<Uint8Array>;
  };
}

/**
 * The liver is one 26-connected piece: voxels of liver or tumor outside the largest component (tiny
 * fragments the shape clipping can leave) become background in the labels. Returns how many there were.
 */
function dropLiverIslands(codes: Uint8Array, dims: Vec3): number {
  const { liver: LIVER, tumor: TUMOR, background: BACKGROUND } = LABEL;
  const isLiver = (c: number) => c === LIVER || c === TUMOR;
  const box = boundingBox(codes, dims, 0, isLiver);
  if (!box) return 0;
  const local = cropArray(codes, dims, box);
  const size = boxSize(box);
  const liver = new Uint8Array(local.length);
  for (let i = 0; i < local.length; i++) liver[i] = isLiver(local[i]) ? 1 : 0;
  const kept = keepLargestComponent(liver, size, 26);
  let dropped = 0;
  for (let i = 0; i < local.length; i++) {
    if (liver[i] && !kept[i]) {
      local[i] = BACKGROUND;
      dropped++;
    }
  }
  if (dropped > 0) pasteInto(codes, dims, local, box);
  return dropped;
}

export function generatePhantom(opts: PhantomOptions): Phantom {
  const { seed } = opts;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new InputError(`phantom seed must be an integer in 0..4294967295, got ${seed}`);
  }
  if (opts.tumors !== undefined && (!Number.isInteger(opts.tumors) || opts.tumors < 0 || opts.tumors > 20)) {
    throw new InputError(`phantom tumor count must be an integer in 0..20, got ${opts.tumors}`);
  }
  const tr = opts.tumorRadius;
  if (tr && (tr.length !== 2 || !(tr[0] > 0) || !(tr[1] >= tr[0]) || tr[1] > 100)) {
    throw new InputError(`phantom tumor radius range must be 0 < min <= max <= 100 mm, got ${tr.join(',')}`);
  }
  const rng = new Rng(deriveSeed(seed, 'phantom'));
  const geometry = chooseGeometry(rng.fork('geometry'), opts.dims, opts.spacing);
  const grid = centredGrid(geometry.dims, geometry.spacing);
  const fov: [number, number] = [grid.dims[0] * grid.spacing[0], grid.dims[1] * grid.spacing[1]];
  const zHalf = ((grid.dims[2] - 1) * grid.spacing[2]) / 2;
  const patient = samplePatient(rng.fork('patient'), fov, -zHalf, zHalf);

  const organs = buildOrgans(rng.fork('organs'), grid, patient);
  const { liver, painters: liverPainters } = buildLiver(
    rng.fork('liver'),
    grid,
    patient,
    organs.liverExclusions,
  );
  const tumorCount = opts.tumors ?? rng.fork('tumor-count').int(0, MAX_TUMORS);
  const isLiver = (x: number, y: number, z: number) => liver.fieldAt(x, y, z) < 0 && !organs.covers(x, y, z);
  const placed = placeTumors(rng.fork('tumors'), grid, patient, liver, isLiver, tumorCount, tr);

  const painters = [
    trunkPainter(rng.fork('trunk'), grid, patient),
    backMusclesPainter(rng.fork('back'), patient),
    ...organs.before,
    ...liverPainters,
    ...placed.painters,
    ...organs.after,
    spinePainter(rng.fork('spine'), patient),
    ribsPainter(rng.fork('ribs'), patient),
  ];
  const white = new WhiteNoise(rng.fork('noise'));
  const grain = new LatticeNoise(rng.fork('grain'), grid, 5);
  const { body } = patient;
  const grainBox: Box = {
    min: [-body.a * 1.1, -body.bPost * 1.1, 0],
    max: [body.a * 1.1, body.bAnt * 1.1, 0],
  };
  const { ct, organs: organCodes } = renderVolume(
    grid,
    painters,
    white,
    grain,
    grainBox,
    patient.tissues.noiseSigma,
  );
  const islandVoxels = dropLiverIslands(organCodes, grid.dims);
  const seg = opts.organMap ? new Uint8Array(organCodes.length) : organCodes;
  const { tumor: TUMOR, background: BACKGROUND } = LABEL;
  for (let i = 0; i < seg.length; i++) {
    const code = organCodes[i];
    seg[i] = code <= TUMOR ? code : BACKGROUND;
  }
  const affine = gridAffine(grid);
  const info: Phantom['info'] = { seed, patient, tumors: placed.tumors, islandVoxels };
  if (opts.organMap) info.organs = createVolume(organCodes, grid.dims, grid.spacing, affine, 'uint8');
  return {
    ct: createVolume(ct, grid.dims, grid.spacing, affine, 'int16'),
    seg: createVolume(seg, grid.dims, grid.spacing, affine, 'uint8'),
    info,
  };
}
