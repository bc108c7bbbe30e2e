/**
 * Pairing prediction files with reference files by case key (rules in docs/metrics.md):
 * strip `.nii.gz` / `.nii`, then a leading `segmentation-` or `volume-` (LiTS layout), then a trailing
 * `_seg`, `-seg`, `_pred`, `-pred`, `_label`, `_labels`, `_mask`, `-mask` or `.seg`.
 */
import { readdir, realpath, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { InputError } from '../errors.ts';

const NIFTI = /\.nii(\.gz)?$/i;

/** Case key of a label-map file name: `segmentation-12.nii.gz`, `12_seg.nii` and `12.nii.gz` give `12`. */
export function caseKey(fileName: string): string {
  let k = basename(fileName).replace(NIFTI, '');
  k = k.replace(/^(segmentation|volume)-/i, '');
  k = k.replace(/([_-](seg|pred|label|labels|mask)|\.seg)$/i, '');
  return k;
}

export interface FilePair {
  id: string;
  pred: string;
  ref: string;
}

export interface Pairing {
  pairs: FilePair[];
  unpairedPred: string[];
  unpairedRef: string[];
}

const byKey = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true });

function keyed(files: string[], side: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const f of files) {
    const k = caseKey(f);
    const other = m.get(k);
    if (other !== undefined) {
      throw new InputError(
        `ambiguous pairing: ${side} files ${basename(other)} and ${basename(f)} both have case key '${k}'; keep one of them in the folder (naming rules: docs/metrics.md)`,
        'BAD_ARGUMENT',
        f,
      );
    }
    m.set(k, f);
  }
  return m;
}

/** Pair two lists of files by case key; pairs are sorted by key (numbers in numeric order). */
export function pairByName(predFiles: string[], refFiles: string[]): Pairing {
  const preds = keyed(predFiles, 'prediction');
  const refs = keyed(refFiles, 'reference');
  const pairs: FilePair[] = [];
  const unpairedRef: string[] = [];
  for (const [k, ref] of refs) {
    const pred = preds.get(k);
    if (pred === undefined) unpairedRef.push(ref);
    else pairs.push({ id: k, pred, ref });
  }
  const unpairedPred = [...preds].filter(([k]) => !refs.has(k)).map(([, f]) => f);
  pairs.sort((a, b) => byKey(a.id, b.id));
  return { pairs, unpairedPred: unpairedPred.sort(byKey), unpairedRef: unpairedRef.sort(byKey) };
}

/** The NIfTI files named by `path`: the file itself, or the `.nii`/`.nii.gz` files directly in the folder. */
export async function listNiftiFiles(
  path: string,
  what: string,
): Promise<{ files: string[]; isDir: boolean }> {
  let st: Awaited<ReturnType<typeof stat>>;
  try {
    st = await stat(path);
  } catch {
    throw new InputError(`${what}: no such file or folder`, 'NOT_FOUND', path);
  }
  if (!st.isDirectory()) return { files: [path], isDir: false };
  const names = (await readdir(path)).filter((n) => NIFTI.test(n) && !n.startsWith('.')).sort(byKey);
  if (names.length === 0)
    throw new InputError(`${what}: folder holds no .nii or .nii.gz files`, 'NOT_FOUND', path);
  return { files: names.map((n) => join(path, n)), isDir: true };
}

/**
 * Pair the files named by `--pred` and `--ref`: two single files are compared directly (id = the
 * reference's case key); otherwise files are paired by case key.
 */
export async function pairPaths(predPath: string, refPath: string): Promise<Pairing> {
  const pred = await listNiftiFiles(predPath, 'prediction');
  const ref = await listNiftiFiles(refPath, 'reference');
  const pairing =
    !pred.isDir && !ref.isDir
      ? {
          pairs: [{ id: caseKey(ref.files[0]), pred: pred.files[0], ref: ref.files[0] }],
          unpairedPred: [],
          unpairedRef: [],
        }
      : pairByName(pred.files, ref.files);
  for (const p of pairing.pairs) {
    if ((await realpath(p.pred)) === (await realpath(p.ref))) {
      throw new InputError(
        `prediction and reference are the same file (${p.ref}): nothing to compare`,
        'BAD_ARGUMENT',
        p.pred,
      );
    }
  }
  return pairing;
}
