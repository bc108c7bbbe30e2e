/**
 * Expanding the paths given to `raunet segment` into cases: a NIfTI file is one case, a folder of DICOM
 * files is one case, and a folder holding NIfTI files and/or DICOM sub-folders is one case per item.
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';

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

/** Expand the given paths into cases; paths that do not exist or hold nothing usable become problems. */
export async function expandInputs(
  paths: string[],
): Promise<{ cases: CaseInput[]; problems: InputProblem[] }> {
  const cases: CaseInput[] = [];
  const problems: InputProblem[] = [];
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
    const entries = (await readdir(p, { withFileTypes: true })).filter((e) => !e.name.startsWith('.'));
    entries.sort((a, b) => a.name.localeCompare(b.name));
    const niftis = entries.filter((e) => e.isFile() && NIFTI.test(e.name));
    const files = entries.filter((e) => e.isFile());
    const dirs = entries.filter((e) => e.isDirectory());
    if (niftis.length === 0 && files.length > 0) {
      cases.push({ name: caseName(p), path: p, kind: 'dicom' });
      continue;
    }
    for (const e of niftis) cases.push({ name: caseName(e.name), path: join(p, e.name), kind: 'nifti' });
    for (const e of dirs) cases.push({ name: e.name, path: join(p, e.name), kind: 'dicom' });
    if (niftis.length === 0 && dirs.length === 0) problems.push({ path: p, reason: 'empty folder' });
  }
  return { cases, problems };
}
