/**
 * A folder of phantoms in the LiTS layout: `volume-K.nii.gz` (CT, int16 HU) and `segmentation-K.nii.gz`
 * (uint8 labels 0/1/2) for K = start..start+count-1, plus `phantoms.json` describing how each case was
 * drawn. Case K is generated from seed `deriveSeed(seed, K)`, so a case does not depend on the count.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../errors.ts';
import {
  checkOutputTargets,
  OutputBatch,
  prepareOutputFolder,
  releaseOutputFolder,
} from '../output/safe-output.ts';
import { encodeNifti } from '../volume/nifti.ts';
import type { Vec3 } from '../volume/volume.ts';
import { generatePhantom } from './phantom.ts';
import { deriveSeed } from './random.ts';

export interface PhantomSetOptions {
  dims?: Vec3;
  spacing?: Vec3;
  tumors?: number;
  /** Tumor radius range (mm); default: the mix of small to large tumors. */
  tumorRadius?: [number, number];
  /** First case number (default 0). */
  start?: number;
  /** Called after each case is written. */
  onCase?: (k: number, files: [string, string]) => void;
  /**
   * Write into a folder that already holds a set (or LiTS-named files), replacing files of the same
   * names. Without it such a folder is refused before anything is generated.
   */
  overwrite?: boolean;
}

const LITS_FILE = /^(volume|segmentation)-\d+\.nii(\.gz)?$/i;

/** Refuse (unless `overwrite`) a folder holding another set: phantoms.json or LiTS-named files. */
async function checkSetFolder(outDir: string, targets: string[], overwrite: boolean): Promise<void> {
  await checkOutputTargets(targets, { overwrite });
  if (overwrite) return;
  const names = await readdir(outDir).catch(() => [] as string[]);
  const other = names.find((n) => LITS_FILE.test(n));
  if (other) {
    throw new InputError(
      `folder already holds a set (${other}); use another --out or --overwrite`,
      'BAD_ARGUMENT',
      outDir,
    );
  }
}

/** Seed of case K of a set seeded with `seed`. */
export function caseSeed(seed: number, k: number): number {
  return deriveSeed(seed, 'case', k);
}

export async function writePhantomSet(
  outDir: string,
  count: number,
  seed: number,
  opts: PhantomSetOptions = {},
): Promise<string[]> {
  if (!Number.isInteger(count) || count < 1 || count > 100000) {
    throw new InputError(`phantom count must be a positive integer, got ${count}`);
  }
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new InputError(`phantom seed must be an integer in 0..4294967295, got ${seed}`);
  }
  const start = opts.start ?? 0;
  const caseFiles = (k: number): [string, string] => [
    join(outDir, `volume-${k}.nii.gz`),
    join(outDir, `segmentation-${k}.nii.gz`),
  ];
  const targets = [join(outDir, 'phantoms.json')];
  for (let k = start; k < start + count; k++) targets.push(...caseFiles(k));
  await checkSetFolder(outDir, targets, Boolean(opts.overwrite));
  const folder = await prepareOutputFolder(outDir);
  try {
    return await writeCases(outDir, count, seed, start, caseFiles, opts);
  } finally {
    await releaseOutputFolder(folder);
  }
}

async function writeCases(
  outDir: string,
  count: number,
  seed: number,
  start: number,
  caseFiles: (k: number) => [string, string],
  opts: PhantomSetOptions,
): Promise<string[]> {
  const written: string[] = [];
  const cases: unknown[] = [];
  for (let k = start; k < start + count; k++) {
    const s = caseSeed(seed, k);
    const { ct, seg, info } = generatePhantom({
      seed: s,
      dims: opts.dims,
      spacing: opts.spacing,
      tumors: opts.tumors,
      tumorRadius: opts.tumorRadius,
    });
    const files = caseFiles(k);
    // The CT and its labels appear together or not at all.
    const ctBytes = encodeNifti(ct, { gzip: true, description: `raunet phantom seed ${s}` });
    const segBytes = encodeNifti(seg, { gzip: true, description: `raunet phantom labels seed ${s}` });
    const batch = new OutputBatch({ overwrite: opts.overwrite });
    await batch.write(files[0], ctBytes);
    await batch.write(files[1], segBytes);
    await batch.commit();
    written.push(...files);
    cases.push({
      case: k,
      seed: s,
      dims: ct.dims,
      spacing: ct.spacing,
      tumors: info.tumors.map((t) => ({ centre: t.centre, radiusMm: t.radius, hu: Math.round(t.hu) })),
    });
    opts.onCase?.(k, files);
  }
  const manifest = {
    generator: 'raunet phantom',
    seed,
    start,
    count,
    dims: opts.dims,
    spacing: opts.spacing,
    tumors: opts.tumors,
    tumorRadius: opts.tumorRadius,
    cases,
  };
  const batch = new OutputBatch({ overwrite: opts.overwrite });
  await batch.write(join(outDir, 'phantoms.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  await batch.commit();
  return written;
}
