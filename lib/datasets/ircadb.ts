/**
 * 3D-IRCADb-01: one folder per patient, `3Dircadb1.N/`, holding the CT as `PATIENT_DICOM/` (a DICOM
 * series; the distribution zips it as `PATIENT_DICOM.zip`) and `MASKS_DICOM/` (or `MASKS_DICOM.zip`) with
 * one binary DICOM mask series per structure in `MASKS_DICOM/<structure>/`.
 *
 * Labels: `liver` -> 1; every tumour mask (`livertumor01`, `livertumor02`, ..., and the variants
 * `livertumors`, `liver tumor`, `liverTumor`) -> 2, over the liver; other structures (vessels, organs)
 * are ignored. A mask series whose grid differs from the CT's is refused, naming its folder.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../errors.ts';
import { isZip, unzipCapped } from '../volume/decompress.ts';
import { decodeDicomSeries } from '../volume/dicom.ts';
import { readInputFile } from '../volume/files.ts';
import { readVolume } from '../volume/read.ts';
import { sameGrid, type Volume } from '../volume/volume.ts';
import type { CaseFiles, Dataset } from './types.ts';

const CASE_DIR = /^3Dircadb1\.(\d+)$/i;

async function entries(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).filter((n) => !n.startsWith('.'));
}

/** `PATIENT_DICOM` folder, else `PATIENT_DICOM.zip` (same for masks); undefined when neither. */
function pick(names: string[], base: string): string | undefined {
  return names.find((n) => n === base) ?? names.find((n) => n.toLowerCase() === `${base.toLowerCase()}.zip`);
}

/** A structure's role from its folder name. */
export function structureLabel(name: string): 1 | 2 | undefined {
  const key = name.toLowerCase().replace(/[\s_-]+/g, '');
  if (key === 'liver') return 1;
  if (/^livertumou?rs?\d*$/.test(key)) return 2;
  return undefined;
}

async function caseOf(dir: string, id: string): Promise<CaseFiles | { id: string; reason: string }> {
  const names = await entries(dir);
  const patient = pick(names, 'PATIENT_DICOM');
  const masks = pick(names, 'MASKS_DICOM');
  if (!patient) return { id, reason: `${dir}: no PATIENT_DICOM folder or PATIENT_DICOM.zip` };
  if (!masks) return { id, reason: `${dir}: no MASKS_DICOM folder or MASKS_DICOM.zip` };
  return { id, volume: join(dir, patient), segmentation: join(dir, masks) };
}

/** True when `dir` is a `3Dircadb1.N` case or holds some. */
export async function isIrcadb(dir: string): Promise<boolean> {
  const names = await entries(dir);
  if (pick(names, 'PATIENT_DICOM') && pick(names, 'MASKS_DICOM')) return true;
  return names.some((n) => CASE_DIR.test(n));
}

/** Mask series by structure folder: files of `MASKS_DICOM/<structure>/` (folder or zip). */
async function maskSeries(path: string): Promise<Map<string, Array<{ name: string; bytes: Uint8Array }>>> {
  const out = new Map<string, Array<{ name: string; bytes: Uint8Array }>>();
  const add = (structure: string, name: string, bytes: Uint8Array) => {
    out.set(structure, [...(out.get(structure) ?? []), { name, bytes }]);
  };
  if ((await stat(path)).isDirectory()) {
    for (const s of await entries(path)) {
      const sdir = join(path, s);
      if (!(await stat(sdir)).isDirectory()) continue;
      for (const f of await entries(sdir)) {
        const p = join(sdir, f);
        if ((await stat(p)).isFile()) add(s, f, await readInputFile(p));
      }
    }
    return out;
  }
  const bytes = await readInputFile(path);
  if (!isZip(bytes)) throw new InputError('is neither a folder nor a zip', 'BAD_HEADER', path);
  for (const e of unzipCapped(bytes, path)) {
    // MASKS_DICOM/<structure>/<file> (the top folder may be absent)
    const parts = e.name.split('/').filter((p) => p !== '');
    if (parts.length < 2 || parts.some((p) => p.startsWith('.') || p === '__MACOSX')) continue;
    const structure = parts.length >= 3 ? parts[parts.length - 2] : parts[0];
    add(structure, parts[parts.length - 1], e.bytes);
  }
  return out;
}

/** Merge the masks of `c` into one label map on the CT's grid. */
async function readLabelsOn(c: CaseFiles, ct: Volume): Promise<Volume> {
  const series = await maskSeries(c.segmentation);
  const wanted = [...series.keys()].filter((s) => structureLabel(s) !== undefined).sort();
  if (!wanted.some((s) => structureLabel(s) === 1)) {
    throw new InputError(
      `no liver mask (found: ${[...series.keys()].sort().join(', ') || 'nothing'})`,
      'NOT_FOUND',
      c.segmentation,
    );
  }
  const data = new Uint8Array(ct.data.length);
  // liver first, tumours over it
  for (const s of wanted.sort((a, b) => (structureLabel(a) ?? 0) - (structureLabel(b) ?? 0))) {
    const where = join(c.segmentation, s);
    const mask = await decodeDicomSeries(series.get(s) ?? [], where);
    if (!sameGrid(mask, ct, 1e-3)) {
      throw new InputError(
        `mask grid ${mask.dims.join('x')} does not match the CT ${c.volume} (${ct.dims.join('x')}, same dims and positions needed)`,
        'SIZE_MISMATCH',
        where,
      );
    }
    const value = structureLabel(s) as number;
    for (let i = 0; i < data.length; i++) if (mask.data[i] !== 0 && value > data[i]) data[i] = value;
  }
  return { data, dims: [...ct.dims], spacing: [...ct.spacing], affine: [...ct.affine], dtype: 'uint8' };
}

export async function openIrcadb(dir: string): Promise<Dataset> {
  const names = await entries(dir);
  const found: Array<CaseFiles | { id: string; reason: string }> = [];
  if (pick(names, 'PATIENT_DICOM')) {
    const m = CASE_DIR.exec(
      dir
        .replace(/[/\\]+$/, '')
        .split(/[/\\]/)
        .pop() ?? '',
    );
    found.push(await caseOf(dir, m ? `3Dircadb1.${m[1]}` : 'case'));
  } else {
    const collator = new Intl.Collator('en', { numeric: true });
    for (const n of names.filter((x) => CASE_DIR.test(x)).sort(collator.compare)) {
      found.push(await caseOf(join(dir, n), n));
    }
  }
  const cases = found.filter((f): f is CaseFiles => 'volume' in f);
  const problems = found.filter((f): f is { id: string; reason: string } => 'reason' in f);
  if (cases.length === 0) {
    throw new InputError(
      `no usable 3D-IRCADb case (${problems.map((p) => p.reason).join('; ') || 'no 3Dircadb1.N folder'})`,
      'NOT_FOUND',
      dir,
    );
  }
  return {
    layout: 'ircadb',
    root: dir,
    cases,
    problems,
    readCase: async (c) => {
      const ct = await readVolume(c.volume);
      return { ct, labels: await readLabelsOn(c, ct) };
    },
    // the CT's grid is needed to check the masks against (its pixels are decoded too)
    readLabels: async (c) => readLabelsOn(c, await readVolume(c.volume)),
  };
}
