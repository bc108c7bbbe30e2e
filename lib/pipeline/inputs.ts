/**
 * Expanding the paths given to `raunet segment` into cases: a NIfTI file is one case, a folder of DICOM
 * files is one case, and a folder holding NIfTI files and/or DICOM series folders is one case per item;
 * label maps beside the CTs (LiTS `segmentation-N`) are skipped.
 */
import { open, readdir, stat } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { hasDicmPreamble } from '../volume/dicom.ts';

export interface CaseInput {
  /** Output stem: the file name without `.nii`/`.nii.gz`, or the DICOM folder's name. */
  name: string;
  path: string;
  kind: 'nifti' | 'dicom';
}

export interface InputProblem {
  path: string;
  reason: string;
}

const NIFTI = /\.nii(\.gz)?$/i;

export function caseName(path: string): string {
  return basename(path.replace(/[/\\]+$/, '')).replace(NIFTI, '');
}

/**
 * Label maps by their name: LiTS and phantom `segmentation-N`, and `*_seg`, `*-label(s)`, `*_mask`,
 * `*_truth` as written by `raunet segment`, `raunet demo` and common tools. They are not CT: skipped.
 */
const LABEL_NAME =
  /^(segmentation|seg|labels?|mask)[-_.]|[-_](seg|segmentation|labels?|mask|truth)\.nii(\.gz)?$/i;

export function isLabelMapName(name: string): boolean {
  return LABEL_NAME.test(basename(name));
}

/** How deep below a given folder DICOM series and NIfTI files are searched. */
export const MAX_DEPTH = 4;
/** Files of a folder read (their first 132 bytes) to recognise a DICOM series. */
const DICOM_PROBE = 16;

export interface ExpandOptions {
  /** Segment every DICOM series found in nested study/series folders instead of refusing to choose. */
  allSeries?: boolean;
}

async function hasDicomFile(dir: string, files: string[]): Promise<boolean> {
  for (const name of files.slice(0, DICOM_PROBE)) {
    let fh: Awaited<ReturnType<typeof open>> | undefined;
    try {
      fh = await open(join(dir, name), 'r');
      const head = new Uint8Array(132);
      const { bytesRead } = await fh.read(head, 0, 132, 0);
      if (hasDicmPreamble(head.subarray(0, bytesRead))) return true;
    } catch {
      // unreadable: not counted
    } finally {
      await fh?.close();
    }
  }
  return false;
}

interface Found {
  niftis: string[];
  labels: string[];
  /** DICOM series folders, with their depth below the searched folder (0 = the folder itself). */
  series: Array<{ path: string; depth: number }>;
}

async function search(dir: string, depth: number, found: Found): Promise<void> {
  const entries = (await readdir(dir, { withFileTypes: true })).filter((e) => !e.name.startsWith('.'));
  entries.sort((a, b) => a.name.localeCompare(b.name));
  const files = entries.filter((e) => e.isFile()).map((e) => e.name);
  const niftis = files.filter((n) => NIFTI.test(n));
  const dirs = entries.filter((e) => e.isDirectory()).map((e) => e.name);
  for (const n of niftis) (isLabelMapName(n) ? found.labels : found.niftis).push(join(dir, n));
  const others = files.filter((n) => !NIFTI.test(n));
  // A series: DICOM files among the others (a stray NIfTI beside them does not hide it); or, as before,
  // a folder of nothing but non-NIfTI files (reading it says what is wrong when they are not DICOM).
  const fallback = niftis.length === 0 && dirs.length === 0 && others.length > 0;
  if (others.length > 0 && (fallback || (await hasDicomFile(dir, others))))
    found.series.push({ path: dir, depth });
  if (depth < MAX_DEPTH) for (const d of dirs) await search(join(dir, d), depth + 1, found);
}

/**
 * Expand the given paths into cases. A file is one case. A folder is searched (up to `MAX_DEPTH` levels)
 * for NIfTI files and DICOM series: the folder itself or its direct sub-folders being series gives one case
 * each (named after the folder); series deeper down (study/series layouts) are one case each when there
 * is only one, or with `allSeries`; otherwise the folder is a problem listing them. Label maps (by name,
 * `isLabelMapName`) are skipped and listed. Paths that do not exist or hold nothing usable are problems.
 */
export async function expandInputs(
  paths: string[],
  opts: ExpandOptions = {},
): Promise<{ cases: CaseInput[]; problems: InputProblem[]; skipped: InputProblem[] }> {
  const cases: CaseInput[] = [];
  const problems: InputProblem[] = [];
  const skipped: InputProblem[] = [];
  for (const p of paths) {
    let st: Awaited<ReturnType<typeof stat>>;
    try {
      st = await stat(p);
    } catch {
      problems.push({ path: p, reason: 'no such file or folder' });
      continue;
    }
    if (st.isFile()) {
      cases.push({ name: caseName(p), path: p, kind: 'nifti' });
      continue;
    }
    const found: Found = { niftis: [], labels: [], series: [] };
    await search(p, 0, found);
    for (const l of found.labels) skipped.push({ path: l, reason: 'a label map by its name, not a CT' });
    const deep = found.series.filter((s) => s.depth >= 2);
    if (deep.length > 1 && !opts.allSeries) {
      const list = deep.map((s) => relative(p, s.path)).join(', ');
      problems.push({
        path: p,
        reason:
          `holds ${deep.length} DICOM series in nested folders (${list}): give the series folder(s) to ` +
          'segment, or --all-series to segment each',
      });
      continue;
    }
    for (const f of found.niftis) cases.push({ name: caseName(f), path: f, kind: 'nifti' });
    for (const s of found.series) {
      const name =
        s.depth === 0
          ? caseName(p)
          : s.depth === 1
            ? basename(s.path)
            : relative(p, s.path).split(/[/\\]/).join('_');
      cases.push({ name, path: s.path, kind: 'dicom' });
    }
    if (found.series.length === 0 && found.niftis.length === 0) {
      problems.push({
        path: p,
        reason: found.labels.length ? 'holds only label maps (no CT to segment)' : 'empty folder',
      });
    }
  }
  return { cases, problems, skipped };
}
