/**
 * A folder of brain phantoms in the BraTS layout: `<id>/<id>_{t1,t1ce,t2,flair}.nii.gz` (int16, arbitrary
 * MRI units) and `<id>/<id>_seg.nii.gz` (uint8 labels 0/1/2/4), id `BrainPhantom_KKK`, plus
 * `brain-phantoms.json` describing how each subject was drawn. Subject K is generated from seed
 * `caseSeed(seed, K)`, so a subject does not depend on the count. A subject's five files appear together.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { BRATS_MODALITIES } from '../brats/types.ts';
import { InputError } from '../errors.ts';
import {
  checkOutputTargets,
  OutputBatch,
  prepareOutputFolder,
  releaseOutputFolder,
} from '../output/safe-output.ts';
import { encodeNifti } from '../volume/nifti.ts';
import { createVolume, type Vec3 } from '../volume/volume.ts';
import { generateBrainPhantom } from './brain.ts';
import { caseSeed } from './set.ts';

export interface BrainPhantomSetOptions {
  dims?: Vec3;
  spacing?: Vec3;
  skullStripped?: boolean;
  /** First subject number (default 0). */
  start?: number;
  /** Replace files of the same names in a folder that already holds a set. */
  overwrite?: boolean;
  /** Called after each subject is written, with its folder. */
  onSubject?: (k: number, dir: string) => void;
}

export const BRAIN_MANIFEST = 'brain-phantoms.json';

export function brainPhantomId(k: number): string {
  return `BrainPhantom_${String(k).padStart(3, '0')}`;
}

/** The five files of subject `id` in `dir`, sequences first (channel order) then the labels. */
export function bratsSubjectPaths(dir: string, id: string): string[] {
  return [...BRATS_MODALITIES, 'seg'].map((m) => join(dir, id, `${id}_${m}.nii.gz`));
}

function toInt16(data: Float32Array): Int16Array {
  const out = new Int16Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = Math.max(-32768, Math.min(32767, Math.round(data[i])));
  return out;
}

export async function writeBrainPhantomSet(
  outDir: string,
  count: number,
  seed: number,
  opts: BrainPhantomSetOptions = {},
): Promise<string[]> {
  if (!Number.isInteger(count) || count < 1 || count > 10000) {
    throw new InputError(`brain phantom count must be an integer 1..10000, got ${count}`);
  }
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new InputError(`phantom seed must be an integer in 0..4294967295, got ${seed}`);
  }
  const start = opts.start ?? 0;
  const targets = [join(outDir, BRAIN_MANIFEST)];
  for (let k = start; k < start + count; k++) targets.push(...bratsSubjectPaths(outDir, brainPhantomId(k)));
  await checkOutputTargets(targets, { overwrite: opts.overwrite });
  if (!opts.overwrite) {
    const names = await readdir(outDir).catch(() => [] as string[]);
    if (names.includes(BRAIN_MANIFEST) || names.some((n) => /^BrainPhantom_\d+$/.test(n))) {
      throw new InputError(
        'folder already holds a brain phantom set; use another --out or --overwrite',
        'BAD_ARGUMENT',
        outDir,
      );
    }
  }
  const folder = await prepareOutputFolder(outDir);
  try {
    const written: string[] = [];
    const subjects: unknown[] = [];
    for (let k = start; k < start + count; k++) {
      const s = caseSeed(seed, k);
      const id = brainPhantomId(k);
      const p = generateBrainPhantom({
        seed: s,
        dims: opts.dims,
        spacing: opts.spacing,
        skullStripped: opts.skullStripped,
      });
      const { dims, spacing, affine } = p.grid;
      const paths = bratsSubjectPaths(outDir, id);
      const subjectFolder = await prepareOutputFolder(join(outDir, id));
      try {
        const batch = new OutputBatch({ overwrite: opts.overwrite });
        for (const [c, m] of BRATS_MODALITIES.entries()) {
          const vol = createVolume(toInt16(p.channels[m]), dims, spacing, affine);
          await batch.write(
            paths[c],
            encodeNifti(vol, { gzip: true, description: `raunet brain ${m} seed ${s}` }),
          );
        }
        const seg = createVolume(p.labels, dims, spacing, affine);
        await batch.write(
          paths[4],
          encodeNifti(seg, { gzip: true, description: `raunet brain labels seed ${s}` }),
        );
        await batch.commit();
      } finally {
        await releaseOutputFolder(subjectFolder);
      }
      written.push(...paths);
      const t = p.info.tumour;
      const round = (v: number) => Math.round(v * 100) / 100;
      subjects.push({
        subject: k,
        id,
        seed: s,
        tumour: {
          centre: t.centre.map(round),
          radiiMm: t.radii.map(round),
          coreFraction: round(t.coreFraction),
          edemaScale: round(t.edemaScale),
        },
      });
      opts.onSubject?.(k, join(outDir, id));
    }
    const manifest = {
      generator: 'raunet phantom --kind brain',
      seed,
      start,
      count,
      dims: opts.dims,
      spacing: opts.spacing,
      skullStripped: Boolean(opts.skullStripped),
      subjects,
    };
    const batch = new OutputBatch({ overwrite: opts.overwrite });
    await batch.write(join(outDir, BRAIN_MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    await batch.commit();
    return written;
  } finally {
    await releaseOutputFolder(folder);
  }
}
