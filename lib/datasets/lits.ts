/**
 * The LiTS layout (and the project's phantom folders): `volume-N.nii[.gz]` (CT in HU) beside
 * `segmentation-N.nii[.gz]` (0 background, 1 liver, 2 tumor), in the data folder or in its sub-folders
 * (LiTS ships as "Training Batch 1" and "Training Batch 2"). A case is identified by N; when the same N
 * occurs in two folders the id is `<folder>/N`.
 */
import { readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { InputError } from '../errors.ts';
import { readNifti } from '../volume/nifti.ts';
import type { CaseFiles, Dataset } from './types.ts';

const CASE_FILE = /^(volume|segmentation)-(\d+)\.nii(\.gz)?$/i;
const MAX_DEPTH = 3;

async function listCaseFiles(root: string, dir: string, depth: number, out: Map<string, string>[]) {
  const entries = await readdir(dir, { withFileTypes: true });
  for (const e of entries) {
    const full = join(dir, e.name);
    if (e.isDirectory()) {
      if (depth < MAX_DEPTH && !e.name.startsWith('.')) await listCaseFiles(root, full, depth + 1, out);
      continue;
    }
    const m = CASE_FILE.exec(e.name);
    if (!m) continue;
    const [, kind, n] = m;
    const key = `${relative(root, dir)}\u0000${Number(n)}`;
    const slot = kind.toLowerCase() === 'volume' ? out[0] : out[1];
    const previous = slot.get(key);
    if (previous) {
      throw new InputError(`two files for the same case: ${previous} and ${full}`, 'BAD_ARGUMENT', dir);
    }
    slot.set(key, full);
  }
}

/**
 * Find the cases under `dir`. Throws an InputError naming the files when a volume has no segmentation
 * (or the reverse), or when no case is found at all. Cases come in natural order of folder then N.
 */
export async function discoverCases(dir: string): Promise<CaseFiles[]> {
  const info = await stat(dir).catch(() => null);
  if (!info?.isDirectory()) throw new InputError('data folder not found', 'NOT_FOUND', dir);
  const volumes = new Map<string, string>();
  const segs = new Map<string, string>();
  await listCaseFiles(dir, dir, 0, [volumes, segs]);
  const unpaired = [
    ...[...volumes].filter(([k]) => !segs.has(k)).map(([, f]) => `${f} (no segmentation-N beside it)`),
    ...[...segs].filter(([k]) => !volumes.has(k)).map(([, f]) => `${f} (no volume-N beside it)`),
  ];
  if (unpaired.length > 0) {
    throw new InputError(`unpaired case files: ${unpaired.join(', ')}`, 'NOT_FOUND', dir);
  }
  if (volumes.size === 0) {
    throw new InputError('no volume-N.nii[.gz] + segmentation-N.nii[.gz] pairs found', 'NOT_FOUND', dir);
  }
  const keys = [...volumes.keys()].map((k) => {
    const [folder, n] = k.split('\u0000');
    return { key: k, folder, n };
  });
  const ambiguous = new Set<string>();
  const seen = new Set<string>();
  for (const { n } of keys) (seen.has(n) ? ambiguous : seen).add(n);
  const collator = new Intl.Collator('en', { numeric: true });
  return keys
    .map(({ key, folder, n }) => ({
      id: ambiguous.has(n) ? `${folder.split('\\').join('/')}/${n}` : n,
      volume: volumes.get(key)!,
      segmentation: segs.get(key)!,
      order: `${folder}\u0000${n}`,
    }))
    .sort((a, b) => collator.compare(a.order, b.order))
    .map(({ id, volume, segmentation }) => ({ id, volume, segmentation }));
}

/** The LiTS layout behind the dataset interface. */
export async function openLits(dir: string): Promise<Dataset> {
  const cases = await discoverCases(dir);
  return {
    layout: 'lits',
    root: dir,
    cases,
    problems: [],
    readCase: async (c) => {
      const [ct, labels] = await Promise.all([readNifti(c.volume), readNifti(c.segmentation)]);
      return { ct, labels };
    },
    readLabels: (c) => readNifti(c.segmentation),
  };
}
