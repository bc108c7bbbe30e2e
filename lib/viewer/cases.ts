/**
 * What `raunet view` shows: the cases of a segmentation output folder (or one `<name>_seg.nii.gz`), each
 * with its label map, the CT it was computed from and its report.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { InputError } from '../errors.ts';

export interface ViewerCase {
  name: string;
  /** `<name>_seg.nii.gz` (uint8 labels on the CT grid). */
  seg: string;
  /** The CT: a NIfTI file, or a DICOM folder (served converted to NIfTI). */
  ct: { path: string; kind: 'nifti' | 'dicom' };
  /** `<name>_report.json`, when present. */
  report: string | null;
}

const SEG = /_seg\.nii(\.gz)?$/i;
const NIFTI = /\.nii(\.gz)?$/i;
/** Label maps `raunet segment --format nrrd|mha|dicom-seg` writes, which the viewer does not show. */
const OTHER_SEG = /_seg\.(nrrd|mha|dcm)$/i;

/** Why a label map in another format is not shown, and what to do instead (one line). */
function otherFormatAdvice(file: string): string {
  return /\.dcm$/i.test(file)
    ? 'the viewer shows NIfTI label maps; open a DICOM SEG with its series in 3D Slicer or OHIF, or segment with --format both'
    : `the viewer shows NIfTI label maps; convert it first: npx raunet convert ${file} ${file.replace(/\.(nrrd|mha)$/i, '.nii.gz')}`;
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function ctKind(path: string): Promise<'nifti' | 'dicom'> {
  return (await isDir(path)) ? 'dicom' : 'nifti';
}

/**
 * The CT of a case: `--ct` when given, else `<name>_ct.nii[.gz]` beside the label map (what `raunet demo`
 * writes), else the input path the report records (what `raunet segment` writes).
 */
async function findCt(dir: string, name: string, report: string | null, ct?: string): Promise<string> {
  if (ct !== undefined) {
    if (!existsSync(ct)) throw new InputError('no such file or folder (--ct)', 'NOT_FOUND', ct);
    return ct;
  }
  for (const ext of ['.nii.gz', '.nii']) {
    const p = join(dir, `${name}_ct${ext}`);
    if (existsSync(p)) return p;
  }
  if (report) {
    let recorded: unknown;
    try {
      recorded = (JSON.parse(await readFile(report, 'utf8')) as { input?: { path?: unknown } }).input?.path;
    } catch {
      recorded = undefined;
    }
    if (typeof recorded === 'string') {
      // Relative paths in a report are relative to where segment ran; try that and the output folder.
      for (const p of [resolve(recorded), resolve(dir, recorded)]) if (existsSync(p)) return p;
    }
  }
  throw new InputError(
    `no CT found for case '${name}' (no ${name}_ct.nii.gz beside it and no readable input path in its report); pass --ct <scan>`,
    'NOT_FOUND',
    join(dir, `${name}_seg.nii.gz`),
  );
}

/** Resolve `raunet view <target>` into cases, sorted by name. */
export async function resolveViewerCases(target: string, ct?: string): Promise<ViewerCase[]> {
  if (!existsSync(target)) throw new InputError('no such file or folder', 'NOT_FOUND', target);
  let segs: string[];
  if (await isDir(target)) {
    const names = (await readdir(target)).filter((n) => SEG.test(n) && !n.startsWith('.')).sort();
    const other = (await readdir(target)).filter((n) => OTHER_SEG.test(n) && !n.startsWith('.')).sort();
    if (names.length === 0 && other.length > 0) {
      throw new InputError(
        `holds label maps in another format (${other[0]}${other.length > 1 ? `, ${other.length - 1} more` : ''}): ${otherFormatAdvice(join(target, other[0]))}`,
        'BAD_ARGUMENT',
        target,
      );
    }
    if (names.length === 0) {
      throw new InputError(
        'no <name>_seg.nii.gz label maps in this folder (view a `raunet segment` or `raunet demo` output)',
        'NOT_FOUND',
        target,
      );
    }
    segs = names.map((n) => join(target, n));
  } else {
    if (OTHER_SEG.test(target)) throw new InputError(otherFormatAdvice(target), 'BAD_ARGUMENT', target);
    if (!NIFTI.test(target))
      throw new InputError('expected a label map (.nii or .nii.gz)', 'BAD_ARGUMENT', target);
    segs = [target];
  }
  if (ct !== undefined && segs.length > 1) {
    throw new InputError(
      `--ct names one scan, but the folder holds ${segs.length} label maps; pass one <name>_seg.nii.gz`,
      'BAD_ARGUMENT',
      target,
    );
  }
  const cases: ViewerCase[] = [];
  for (const seg of segs) {
    const dir = dirname(seg);
    const name = basename(seg).replace(SEG, '').replace(NIFTI, '');
    const reportPath = join(dir, `${name}_report.json`);
    const report = existsSync(reportPath) ? reportPath : null;
    const ctPath = await findCt(dir, name, report, ct);
    cases.push({ name, seg, ct: { path: ctPath, kind: await ctKind(ctPath) }, report });
  }
  return cases;
}
