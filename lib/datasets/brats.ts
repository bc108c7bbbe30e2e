/**
 * Brain-tumour datasets, read into `BratsSubject`s (lib/brats/types.ts):
 * - the BraTS training layout: one folder per subject, `<id>/<id>_{t1,t1ce,t2,flair}[_seg].nii[.gz]` (or
 *   the BraTS 2023+ names `<id>-{t1n,t1c,t2w,t2f}[-seg].nii.gz`), in the data folder or below it (BraTS
 *   2018 ships `HGG/` and `LGG/`), or the data folder being one subject;
 * - the Medical Segmentation Decathlon's Task01_BrainTumour: `dataset.json` + `imagesTr/BRATS_NNN.nii.gz`
 *   (4D, the four sequences as frames in the order `dataset.json`'s `modality` gives: FLAIR, T1w, t1gd,
 *   T2w) + `labelsTr/BRATS_NNN.nii.gz` with MSD's own label numbers (1 oedema, 2 non-enhancing tumour,
 *   3 enhancing tumour), mapped to the BraTS meanings: 1 -> 2 (ED), 2 -> 1 (NCR/NET), 3 -> 4 (ET).
 * Subjects that cannot be used (a missing sequence, ...) are listed as problems with their reason.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { z } from 'zod';
import {
  bratsFileKind,
  bratsLabelConvention,
  findBratsSubjectFiles,
  readBratsSubjectFiles,
} from '../brats/subject.ts';
import { BRATS_MODALITIES, type BratsModality, type BratsSubject } from '../brats/types.ts';
import { InputError, isInputError } from '../errors.ts';
import { readNifti, readNiftiFrames } from '../volume/nifti.ts';
import { sameGrid } from '../volume/volume.ts';

export type BratsLayout = 'brats' | 'msd-brats';

export interface BratsSubjectEntry {
  id: string;
  /** The subject folder (BraTS) or the 4D image (MSD). */
  path: string;
  /** The label file, when there is one. */
  labels?: string;
}

export interface BratsDataset {
  layout: BratsLayout;
  root: string;
  subjects: BratsSubjectEntry[];
  problems: Array<{ id: string; reason: string }>;
  readSubject(s: BratsSubjectEntry): Promise<BratsSubject>;
}

const NIFTI = /\.nii(\.gz)?$/i;
const MAX_DEPTH = 3;

// --- BraTS folders ---------------------------------------------------------------------------------------

async function names(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).filter((n) => !n.startsWith('.')).sort();
}

/** True when `dir` directly holds BraTS sequence files (it is a subject folder). */
async function isSubjectFolder(dir: string): Promise<boolean> {
  return (await names(dir)).some((n) => {
    const kind = bratsFileKind(n)?.kind;
    return kind !== undefined && kind !== 'seg';
  });
}

async function subjectFolders(dir: string, depth: number, out: string[]): Promise<void> {
  if (await isSubjectFolder(dir)) {
    out.push(dir);
    return;
  }
  if (depth >= MAX_DEPTH) return;
  for (const n of await names(dir)) {
    const full = join(dir, n);
    if ((await stat(full).catch(() => null))?.isDirectory()) await subjectFolders(full, depth + 1, out);
  }
}

/** True when `dir` is a BraTS subject folder or holds some (up to three levels down). */
export async function isBratsFolder(dir: string): Promise<boolean> {
  const found: string[] = [];
  await subjectFolders(dir, 0, found);
  return found.length > 0;
}

export async function openBratsFolder(dir: string): Promise<BratsDataset> {
  const info = await stat(dir).catch(() => null);
  if (!info?.isDirectory()) throw new InputError('data folder not found', 'NOT_FOUND', dir);
  const folders: string[] = [];
  await subjectFolders(dir, 0, folders);
  if (folders.length === 0) {
    throw new InputError(
      'no BraTS subject folders (<id>/<id>_t1, _t1ce, _t2, _flair[, _seg].nii[.gz]) found',
      'NOT_FOUND',
      dir,
    );
  }
  const subjects: BratsSubjectEntry[] = [];
  const problems: BratsDataset['problems'] = [];
  const seen = new Map<string, string>();
  for (const folder of folders) {
    const fallbackId = relative(dir, folder).split('\\').join('/') || basename(folder);
    try {
      const files = await findBratsSubjectFiles(folder);
      const previous = seen.get(files.id);
      if (previous) {
        problems.push({ id: fallbackId, reason: `subject id ${files.id} also in ${previous}` });
        continue;
      }
      seen.set(files.id, folder);
      subjects.push({ id: files.id, path: folder, ...(files.seg ? { labels: files.seg } : {}) });
    } catch (e) {
      if (!isInputError(e)) throw e;
      problems.push({ id: fallbackId, reason: e.message });
    }
  }
  const collator = new Intl.Collator('en', { numeric: true });
  subjects.sort((a, b) => collator.compare(a.id, b.id));
  return {
    layout: 'brats',
    root: dir,
    subjects,
    problems,
    readSubject: async (s) => readBratsSubjectFiles(await findBratsSubjectFiles(s.path)),
  };
}

// --- MSD Task01_BrainTumour ------------------------------------------------------------------------------

const MsdBrainJson = z
  .object({
    modality: z.record(z.string(), z.string()),
    labels: z.record(z.string(), z.string()).optional(),
    training: z.array(z.object({ image: z.string(), label: z.string() })).optional(),
  })
  .passthrough();

/** The BraTS sequence an MSD modality name stands for ("FLAIR", "T1w", "t1gd", "T2w", ...). */
export function msdModality(name: string): BratsModality | undefined {
  const n = name.toLowerCase().replace(/[^a-z0-9]/g, '');
  if (n === 'flair' || n === 't2flair') return 'flair';
  if (n === 't1gd' || n === 't1ce' || n === 't1c' || n === 't1gad' || n === 't1post') return 't1ce';
  if (n === 't1' || n === 't1w') return 't1';
  if (n === 't2' || n === 't2w') return 't2';
  return undefined;
}

/** The BraTS label an MSD label name stands for (1 NCR/NET, 2 ED, 4 ET, 0 background). */
export function msdLabelMeaning(name: string): 0 | 1 | 2 | 4 | undefined {
  const n = name.toLowerCase();
  if (/background/.test(n)) return 0;
  if (/o?edema/.test(n)) return 2;
  if (/non[- ]?enhancing|necro/.test(n)) return 1;
  if (/enhancing/.test(n)) return 4;
  return undefined;
}

/** Task01_BrainTumour's labels when dataset.json does not name them. */
const MSD_BRAIN_LABELS: Record<string, string> = {
  '0': 'background',
  '1': 'edema',
  '2': 'non-enhancing tumor',
  '3': 'enhancing tumour',
};

interface MsdBrainSetup {
  /** Frame index of each sequence in the 4D image. */
  frameOf: Record<BratsModality, number>;
  frames: number;
  /** MSD label value -> BraTS label value. */
  labelMap: Uint8Array;
}

async function readMsdBrainJson(dir: string): Promise<z.infer<typeof MsdBrainJson> | undefined> {
  const path = join(dir, 'dataset.json');
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch {
    return undefined;
  }
  const parsed = MsdBrainJson.safeParse(raw);
  return parsed.success ? parsed.data : undefined;
}

/** True when `dir` is an MSD task whose `modality` names the four BraTS sequences. */
export async function isMsdBrats(dir: string): Promise<boolean> {
  const here = await names(dir);
  if (!here.includes('dataset.json') || !here.includes('imagesTr')) return false;
  const json = await readMsdBrainJson(dir);
  if (!json) return false;
  const found = new Set(Object.values(json.modality).map(msdModality));
  return BRATS_MODALITIES.every((m) => found.has(m));
}

function msdSetup(json: z.infer<typeof MsdBrainJson>, jsonPath: string): MsdBrainSetup {
  const frameOf = {} as Record<BratsModality, number>;
  const entries = Object.entries(json.modality);
  for (const [index, name] of entries) {
    const m = msdModality(name);
    const frame = Number(index);
    if (!m || !Number.isInteger(frame) || frame < 0) {
      throw new InputError(
        `modality "${index}": "${name}" is not one of FLAIR, T1w, t1gd, T2w`,
        'BAD_HEADER',
        jsonPath,
      );
    }
    if (frameOf[m] !== undefined) {
      throw new InputError(
        `modality ${m} given twice (frames ${frameOf[m]} and ${frame})`,
        'BAD_HEADER',
        jsonPath,
      );
    }
    frameOf[m] = frame;
  }
  const labelMap = new Uint8Array(256).fill(255);
  for (const [value, name] of Object.entries(json.labels ?? MSD_BRAIN_LABELS)) {
    const meaning = msdLabelMeaning(name);
    const v = Number(value);
    if (meaning === undefined || !Number.isInteger(v) || v < 0 || v > 255) {
      throw new InputError(`label "${value}": "${name}" has no BraTS meaning`, 'BAD_HEADER', jsonPath);
    }
    labelMap[v] = meaning;
  }
  return { frameOf, frames: entries.length, labelMap };
}

/** MSD labels to raw BraTS labels (convention brats-4); a value dataset.json does not name is refused. */
export function mapMsdLabels(data: ArrayLike<number>, labelMap: Uint8Array, file: string): Uint8Array {
  const out = new Uint8Array(data.length);
  for (let v = 0; v < data.length; v++) {
    const x = data[v];
    const mapped = Number.isInteger(x) && x >= 0 && x < 256 ? labelMap[x] : 255;
    if (mapped === 255) {
      throw new InputError(
        `label value ${x} at voxel ${v} is not named in dataset.json's labels`,
        'BAD_VALUES',
        file,
      );
    }
    out[v] = mapped;
  }
  return out;
}

async function readMsdSubject(entry: BratsSubjectEntry, setup: MsdBrainSetup): Promise<BratsSubject> {
  const frames = await readNiftiFrames(entry.path);
  if (frames.length !== setup.frames) {
    throw new InputError(
      `${frames.length} frame(s) in the image, dataset.json's modality lists ${setup.frames}`,
      'SIZE_MISMATCH',
      entry.path,
    );
  }
  const ref = frames[0];
  const channels = {} as Record<BratsModality, Float32Array>;
  for (const m of BRATS_MODALITIES) {
    const d = frames[setup.frameOf[m]].data;
    channels[m] = d instanceof Float32Array ? d : Float32Array.from(d);
  }
  const subject: BratsSubject = {
    id: entry.id,
    dir: entry.path,
    grid: { dims: [...ref.dims], spacing: [...ref.spacing], affine: [...ref.affine] },
    channels,
  };
  if (entry.labels) {
    const seg = await readNifti(entry.labels);
    if (!sameGrid(ref, seg, 1e-3)) {
      throw new InputError(
        `labels (${seg.dims.join('x')}) are not on the image's grid (${ref.dims.join('x')}, same affine)`,
        'SIZE_MISMATCH',
        entry.labels,
      );
    }
    subject.labels = mapMsdLabels(seg.data, setup.labelMap, entry.labels);
    subject.labelConvention = bratsLabelConvention(subject.labels, entry.labels);
  }
  return subject;
}

export async function openMsdBrats(dir: string): Promise<BratsDataset> {
  const jsonPath = join(dir, 'dataset.json');
  const json = await readMsdBrainJson(dir);
  if (!json) throw new InputError('unreadable dataset.json (needs a modality map)', 'BAD_HEADER', jsonPath);
  const setup = msdSetup(json, jsonPath);
  const images = (await names(join(dir, 'imagesTr'))).filter((n) => NIFTI.test(n));
  const labels = new Set((await names(join(dir, 'labelsTr'))).filter((n) => NIFTI.test(n)));
  const listed = json.training?.length
    ? json.training.map((t) => ({ image: basename(t.image), label: basename(t.label) }))
    : images.map((n) => ({ image: n, label: n }));
  const subjects: BratsSubjectEntry[] = [];
  const problems: BratsDataset['problems'] = [];
  const present = new Set(images);
  for (const t of listed) {
    const id = t.image.replace(NIFTI, '');
    if (!present.has(t.image)) problems.push({ id, reason: `imagesTr/${t.image} is missing` });
    else if (!labels.has(t.label)) problems.push({ id, reason: `labelsTr/${t.label} is missing` });
    else subjects.push({ id, path: join(dir, 'imagesTr', t.image), labels: join(dir, 'labelsTr', t.label) });
  }
  if (subjects.length === 0) {
    throw new InputError(
      'dataset.json + imagesTr hold no subject with a label in labelsTr',
      'NOT_FOUND',
      dir,
    );
  }
  return { layout: 'msd-brats', root: dir, subjects, problems, readSubject: (s) => readMsdSubject(s, setup) };
}

/** Open a brain-tumour dataset folder in either layout (MSD when `dataset.json` names the four sequences). */
export async function openBratsDataset(dir: string): Promise<BratsDataset> {
  if (await isMsdBrats(dir)) return openMsdBrats(dir);
  return openBratsFolder(dir);
}
