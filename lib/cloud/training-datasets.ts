/**
 * The training workflow's datasets as S3 keys under `datasets/<name>/`, read into the run manifest's case
 * list, and the fold job's download of them.
 *
 * - Liver stages: LiTS pairs `volume-K` / `segmentation-K` (`pairCases`), downloaded flat.
 * - The brain task (`brats`): the two layouts `openBratsDataset` (lib/datasets/brats.ts) reads, told apart
 *   as it does: `dataset.json` + `imagesTr/` whose `modality` names the four sequences is MSD
 *   Task01_BrainTumour (subjects `imagesTr/<id>.nii.gz` with `labelsTr/<id>.nii.gz`), anything else BraTS
 *   subject folders (`<id>/<id>_{t1,t1ce,t2,flair,seg}.nii.gz`, at any depth, e.g. `HGG/`, `LGG/`). Each
 *   subject's files keep their path below the dataset root, so the fold job rebuilds the folder that
 *   `raunet train --task brats` reads. A subject missing a sequence or its labels is refused here, naming
 *   it, as `openBratsTrainingSet` would refuse it in every fold job later.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { bratsFileKind } from '../brats/subject.ts';
import { BRATS_MODALITIES } from '../brats/types.ts';
import { msdModality } from '../datasets/brats.ts';
import { InputError } from '../errors.ts';
import { parseS3Uri, s3Uri } from './layout.ts';
import { getJson, getUriBytes } from './object-store.ts';

/** One LiTS case of a liver-stage run. */
export interface LiverCase {
  id: string;
  volume: string;
  segmentation: string;
}

/** One brain-tumour subject: its files as s3:// URIs under the dataset root. */
export interface BratsCase {
  id: string;
  files: string[];
}

/** What the fold job needs of the run manifest to fetch its data. */
export interface TrainingDataManifest {
  /** `brats` for the brain task; absent (older manifests) or `liver` for the LiTS pairs. */
  task?: 'liver' | 'brats';
  /** s3:// prefix of the dataset (the brain task's files keep their path below it). */
  root?: string;
  layout?: 'brats' | 'msd-brats';
  /** Files every subject needs (MSD's `dataset.json`). */
  shared?: string[];
  cases?: Array<Partial<LiverCase> & Partial<BratsCase>>;
}

const NIFTI = /\.nii(\.gz)?$/i;
const collator = new Intl.Collator('en', { numeric: true });
const hidden = (rel: string) => rel.split('/').some((p) => p.startsWith('.'));

/** Pair LiTS-style `volume-K.nii[.gz]` and `segmentation-K.nii[.gz]` keys into cases (sorted by K). */
export function pairCases(bucket: string, keys: readonly string[]): LiverCase[] {
  const volumes = new Map<string, string>();
  const segs = new Map<string, string>();
  for (const key of keys) {
    const m = /(?:^|\/)(volume|segmentation)-([A-Za-z0-9_]+)\.nii(?:\.gz)?$/.exec(key);
    if (!m) continue;
    (m[1] === 'volume' ? volumes : segs).set(m[2], key);
  }
  const ids = [...volumes.keys()].filter((id) => segs.has(id));
  ids.sort(collator.compare);
  return ids.map((id) => ({
    id,
    volume: s3Uri(bucket, volumes.get(id)!),
    segmentation: s3Uri(bucket, segs.get(id)!),
  }));
}

/**
 * BraTS subject folders among `rels` (paths below the dataset root): every folder directly holding a
 * sequence file is one subject, with the id its files' shared prefix (the folder name when they carry it).
 */
export function bratsFolderSubjects(rels: readonly string[]): BratsCase[] {
  const byDir = new Map<string, Array<{ rel: string; prefix: string; kind: string }>>();
  for (const rel of rels) {
    if (hidden(rel)) continue;
    const found = bratsFileKind(path.posix.basename(rel));
    if (!found) continue;
    const dir = path.posix.dirname(rel);
    const list = byDir.get(dir) ?? [];
    list.push({ rel, prefix: found.prefix, kind: found.kind });
    byDir.set(dir, list);
  }
  const subjects: BratsCase[] = [];
  for (const [dir, files] of byDir) {
    if (!files.some((f) => f.kind !== 'seg')) continue; // labels alone are no subject
    const where = dir === '.' ? 'the dataset folder' : `${dir}/`;
    const prefixes = [...new Set(files.map((f) => f.prefix))];
    const folderName = path.posix.basename(dir);
    const id = prefixes.includes(folderName) ? folderName : prefixes.length === 1 ? prefixes[0] : undefined;
    if (id === undefined) {
      throw new InputError(`${where} mixes subjects ${prefixes.join(', ')}`, 'BAD_ARGUMENT');
    }
    const own = files.filter((f) => f.prefix === id);
    const kinds = new Map<string, string>();
    for (const f of own) {
      if (kinds.has(f.kind)) throw new InputError(`${where} has ${f.kind} twice`, 'BAD_ARGUMENT');
      kinds.set(f.kind, f.rel);
    }
    const missing = [...BRATS_MODALITIES, 'seg'].filter((k) => !kinds.has(k));
    if (missing.length > 0) {
      throw new InputError(`subject ${id} (${where}) has no ${missing.join(', ')} file`, 'NOT_FOUND');
    }
    subjects.push({ id, files: [...kinds.values()].sort() });
  }
  const ids = new Map<string, number>();
  for (const s of subjects) ids.set(s.id, (ids.get(s.id) ?? 0) + 1);
  const twice = [...ids].find(([, n]) => n > 1);
  if (twice) throw new InputError(`subject id ${twice[0]} is in two folders`, 'BAD_ARGUMENT');
  return subjects.sort((a, b) => collator.compare(a.id, b.id));
}

/**
 * MSD Task01 subjects: those `dataset.json`'s `training` lists (its basenames, as the reader takes them),
 * else every `imagesTr/<id>.nii[.gz]`; each needs its image and the label of the same entry (`labelsTr/`).
 */
export function msdBratsSubjects(
  rels: readonly string[],
  training?: ReadonlyArray<{ image: string; label: string }>,
): BratsCase[] {
  const present = new Set(rels);
  const listed = training?.length
    ? training.map((t) => ({ image: path.posix.basename(t.image), label: path.posix.basename(t.label) }))
    : rels
        .filter((r) => /^imagesTr\/[^/]+$/.test(r) && NIFTI.test(r) && !hidden(r))
        .map((r) => ({ image: path.posix.basename(r), label: path.posix.basename(r) }));
  const subjects: BratsCase[] = [];
  for (const t of listed) {
    const image = `imagesTr/${t.image}`;
    const label = `labelsTr/${t.label}`;
    if (!present.has(image))
      throw new InputError(`${image} (listed in dataset.json) is missing`, 'NOT_FOUND');
    if (!present.has(label)) throw new InputError(`${image} has no ${label}`, 'NOT_FOUND');
    subjects.push({ id: t.image.replace(NIFTI, ''), files: [image, label] });
  }
  return subjects.sort((a, b) => collator.compare(a.id, b.id));
}

/** `dataset.json`'s `training` entries when they are well-formed (else none: every image of imagesTr/). */
function trainingList(json: unknown): Array<{ image: string; label: string }> | undefined {
  const training = (json as { training?: unknown }).training;
  if (!Array.isArray(training)) return undefined;
  const ok = training.every(
    (t) => t && typeof t === 'object' && typeof t.image === 'string' && typeof t.label === 'string',
  );
  return ok ? (training as Array<{ image: string; label: string }>) : undefined;
}

/** True when an MSD `dataset.json` names the four BraTS sequences in its `modality` map. */
export function namesBratsSequences(json: unknown): boolean {
  const modality = (json as { modality?: unknown } | null)?.modality;
  if (!modality || typeof modality !== 'object') return false;
  const found = new Set(
    Object.values(modality).map((n) => (typeof n === 'string' ? msdModality(n) : undefined)),
  );
  return BRATS_MODALITIES.every((m) => found.has(m));
}

/**
 * The brain-tumour subjects of a dataset given as the keys under `prefix` (`datasets/<name>/`): the
 * manifest fields `task`, `root`, `layout`, `shared` and `cases` (files as s3:// URIs).
 */
export async function bratsTrainingData(
  s3: S3Client,
  bucket: string,
  prefix: string,
  keys: readonly string[],
): Promise<Required<Omit<TrainingDataManifest, 'cases'>> & { cases: BratsCase[] }> {
  const rels = keys.filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length));
  const uri = (rel: string) => s3Uri(bucket, `${prefix}${rel}`);
  const json =
    rels.includes('dataset.json') && rels.some((r) => r.startsWith('imagesTr/'))
      ? await getJson(s3, uri('dataset.json'))
      : undefined;
  const msd = json !== undefined && namesBratsSequences(json);
  const subjects = msd ? msdBratsSubjects(rels, trainingList(json)) : bratsFolderSubjects(rels);
  return {
    task: 'brats',
    root: uri(''),
    layout: msd ? 'msd-brats' : 'brats',
    shared: msd ? [uri('dataset.json')] : [],
    cases: subjects.map((s) => ({ id: s.id, files: s.files.map(uri) })),
  };
}

/**
 * Download a run's dataset into `dataDir` for a fold job: the brain task's subjects (those of `ids`,
 * default all) with their folder structure below the dataset root, plus the shared files; the LiTS pairs
 * flat (their names pair them again). Resolves to the number of files written.
 */
export async function downloadTrainingData(
  s3: S3Client,
  manifest: TrainingDataManifest,
  dataDir: string,
  ids?: ReadonlySet<string>,
): Promise<number> {
  await mkdir(dataDir, { recursive: true });
  const cases = (manifest.cases ?? []).filter((c) => !ids || (c.id !== undefined && ids.has(c.id)));
  const targets: Array<{ uri: string; rel: string }> = [];
  if (manifest.task === 'brats') {
    if (!manifest.root) throw new InputError('the brain-task manifest has no dataset root', 'BAD_ARGUMENT');
    const root = parseS3Uri(manifest.root);
    for (const uri of [...(manifest.shared ?? []), ...cases.flatMap((c) => c.files ?? [])]) {
      const { bucket, key } = parseS3Uri(uri);
      const rel = key.slice(root.key.length);
      if (bucket !== root.bucket || !key.startsWith(root.key) || !rel || rel.split('/').includes('..')) {
        throw new InputError(`${uri} is not below the dataset root ${manifest.root}`, 'BAD_ARGUMENT');
      }
      targets.push({ uri, rel });
    }
  } else {
    for (const c of cases) {
      for (const uri of [c.volume, c.segmentation]) {
        if (uri) targets.push({ uri, rel: path.posix.basename(parseS3Uri(uri).key) });
      }
    }
  }
  for (const t of targets) {
    const dest = path.join(dataDir, ...t.rel.split('/'));
    await mkdir(path.dirname(dest), { recursive: true });
    await writeFile(dest, await getUriBytes(s3, t.uri));
  }
  return targets.length;
}
