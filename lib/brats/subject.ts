/**
 * Read one BraTS subject folder: `<id>/<id>_{t1,t1ce,t2,flair}.nii[.gz]` and, for training,
 * `<id>_seg.nii[.gz]` (BraTS 2012-2021), or the BraTS 2023+ naming `<id>-{t1n,t1c,t2w,t2f}.nii.gz` and
 * `<id>-seg.nii.gz`. The four sequences (and the labels) must lie on one grid (same dims and affine);
 * a subject whose files miss or disagree is refused with an `InputError` naming the file.
 */
import { readdir } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { InputError } from '../errors.ts';
import { readNifti } from '../volume/nifti.ts';
import { sameGrid, type Volume, type VoxelArray } from '../volume/volume.ts';
import {
  BRATS_MODALITIES,
  type BratsGrid,
  type BratsLabelConvention,
  type BratsModality,
  type BratsSubject,
} from './types.ts';

/** Affines may differ by float noise between files written by different tools; 1e-3 mm is far below a voxel. */
const AFFINE_TOLERANCE_MM = 1e-3;

const SUBJECT_FILE = /^(.+)[_-](t1|t1ce|t2|flair|t1n|t1c|t2w|t2f|seg)\.nii(\.gz)?$/i;

/** BraTS 2023+ sequence names: native T1, contrast-enhanced T1, T2-weighted, T2-FLAIR. */
const BRATS_2023_NAMES: Record<string, BratsModality> = { t1n: 't1', t1c: 't1ce', t2w: 't2', t2f: 'flair' };

/**
 * The subject prefix and file kind (a sequence or `seg`) of a BraTS file name, in either naming; undefined
 * for other files.
 */
export function bratsFileKind(name: string): { prefix: string; kind: BratsModality | 'seg' } | undefined {
  const m = SUBJECT_FILE.exec(name);
  if (!m) return undefined;
  const kind = m[2].toLowerCase();
  return { prefix: m[1], kind: BRATS_2023_NAMES[kind] ?? (kind as BratsModality | 'seg') };
}

/** The files of one subject: a path per sequence and the label file when present. */
export interface BratsSubjectFiles {
  id: string;
  dir: string;
  channels: Record<BratsModality, string>;
  seg?: string;
}

/**
 * Find a subject's files in `dir`. The prefix is the folder name when files carry it (the BraTS naming),
 * else the one prefix the files share; several prefixes, or a modality given twice (`.nii` and `.nii.gz`),
 * are refused as ambiguous.
 */
export async function findBratsSubjectFiles(dir: string): Promise<BratsSubjectFiles> {
  const names = await readdir(dir).catch((e: NodeJS.ErrnoException) => {
    throw new InputError(
      e.code === 'ENOTDIR' ? 'not a folder (a BraTS subject is a folder)' : 'subject folder not found',
      'NOT_FOUND',
      dir,
    );
  });
  const byPrefix = new Map<string, Map<string, string>>();
  for (const n of names.sort()) {
    const found = bratsFileKind(n);
    if (!found) continue;
    const { prefix, kind: key } = found;
    const files = byPrefix.get(prefix) ?? new Map<string, string>();
    const previous = files.get(key);
    if (previous) {
      throw new InputError(`two files for ${key}: ${previous} and ${n}`, 'BAD_ARGUMENT', dir);
    }
    files.set(key, n);
    byPrefix.set(prefix, files);
  }
  const folderName = basename(resolve(dir));
  let id: string;
  if (byPrefix.has(folderName)) id = folderName;
  else if (byPrefix.size === 1) id = [...byPrefix.keys()][0];
  else if (byPrefix.size === 0) {
    throw new InputError(
      `no BraTS files (<id>_t1, _t1ce, _t2, _flair[, _seg].nii[.gz]) in the subject folder`,
      'NOT_FOUND',
      dir,
    );
  } else {
    throw new InputError(
      `files of several subjects (${[...byPrefix.keys()].join(', ')}) and none named after the folder`,
      'BAD_ARGUMENT',
      dir,
    );
  }
  const files = byPrefix.get(id)!;
  const channels = {} as Record<BratsModality, string>;
  for (const m of BRATS_MODALITIES) {
    const name = files.get(m);
    if (!name) {
      const newer = Object.keys(BRATS_2023_NAMES).find((k) => BRATS_2023_NAMES[k] === m);
      throw new InputError(
        `missing modality ${m}: no ${id}_${m}.nii[.gz] (or ${id}-${newer}.nii.gz)`,
        'NOT_FOUND',
        dir,
      );
    }
    channels[m] = join(dir, name);
  }
  const seg = files.get('seg');
  return { id, dir, channels, ...(seg ? { seg: join(dir, seg) } : {}) };
}

/**
 * The label convention of a raw BraTS label map: 0/1/2/4 -> 'brats-4', 0/1/2/3 -> 'brats-3' (neither 3 nor 4:
 * 'brats-4', the two read the same). Other values, non-integers, or both 3 and 4 are refused naming `file`.
 */
export function bratsLabelConvention(labels: ArrayLike<number>, file: string): BratsLabelConvention {
  const counts = new Map<number, number>();
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i];
    counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  const bad = [...counts.keys()].filter((v) => ![0, 1, 2, 3, 4].includes(v));
  if (bad.length > 0) {
    const shown = bad
      .sort((a, b) => a - b)
      .slice(0, 5)
      .map((v) => `${+v.toPrecision(6)} (${counts.get(v)} voxels)`);
    throw new InputError(
      `label values other than BraTS 0/1/2/4 (or 0/1/2/3): ${shown.join(', ')}${bad.length > 5 ? ', ...' : ''}`,
      'BAD_VALUES',
      file,
    );
  }
  if (counts.has(3) && counts.has(4)) {
    throw new InputError(
      `labels hold both 3 (${counts.get(3)} voxels) and 4 (${counts.get(4)} voxels): enhancing tumour is 4 (BraTS <= 2020) or 3 (BraTS 2021+), not both`,
      'BAD_VALUES',
      file,
    );
  }
  return counts.has(3) ? 'brats-3' : 'brats-4';
}

function toFloat32(data: VoxelArray): Float32Array {
  return data instanceof Float32Array ? data : Float32Array.from(data);
}

function toLabels(data: VoxelArray): Uint8Array {
  if (data instanceof Uint8Array) return data;
  // Values were checked to be 0..4 integers, so the conversion is exact.
  return Uint8Array.from(data);
}

function checkSameGrid(ref: Volume, refFile: string, vol: Volume, file: string): void {
  if (vol.dims.some((d, a) => d !== ref.dims[a])) {
    throw new InputError(
      `dims ${vol.dims.join('x')} differ from ${basename(refFile)}'s ${ref.dims.join('x')}: the four modalities and the labels must share one grid`,
      'SIZE_MISMATCH',
      file,
    );
  }
  if (!sameGrid(ref, vol, AFFINE_TOLERANCE_MM)) {
    const worst = Math.max(...vol.affine.map((v, i) => Math.abs(v - ref.affine[i])));
    throw new InputError(
      `affine differs from ${basename(refFile)}'s (by up to ${+worst.toPrecision(4)} mm): the four modalities and the labels must be co-registered on one grid`,
      'SIZE_MISMATCH',
      file,
    );
  }
}

/** Read a subject from the files `findBratsSubjectFiles` found. */
export async function readBratsSubjectFiles(files: BratsSubjectFiles): Promise<BratsSubject> {
  const first = files.channels[BRATS_MODALITIES[0]];
  const channels = {} as Record<BratsModality, Float32Array>;
  let ref: Volume | undefined;
  // One at a time: a 240x240x155 float32 sequence is 36 MB, and a mismatch should stop before reading more.
  for (const m of BRATS_MODALITIES) {
    const vol = await readNifti(files.channels[m]);
    if (ref) checkSameGrid(ref, first, vol, files.channels[m]);
    else ref = vol;
    channels[m] = toFloat32(vol.data);
  }
  const grid: BratsGrid = { dims: [...ref!.dims], spacing: [...ref!.spacing], affine: [...ref!.affine] };
  const subject: BratsSubject = { id: files.id, dir: files.dir, grid, channels };
  if (files.seg) {
    const seg = await readNifti(files.seg);
    checkSameGrid(ref!, first, seg, files.seg);
    subject.labelConvention = bratsLabelConvention(seg.data, files.seg);
    subject.labels = toLabels(seg.data);
  }
  return subject;
}

/** Read the BraTS subject in folder `dir` (see the module comment). */
export async function readBratsSubject(dir: string): Promise<BratsSubject> {
  return readBratsSubjectFiles(await findBratsSubjectFiles(dir));
}
