/**
 * The Medical Segmentation Decathlon layout (Task03_Liver: `dataset.json`, `imagesTr/liver_N.nii.gz`,
 * `labelsTr/liver_N.nii.gz`, labels 0/1/2) and the nnU-Net raw layout (`imagesTr/<case>_0000.nii.gz`,
 * one file per channel, `labelsTr/<case>.nii.gz`). Cases come from `dataset.json`'s `training` list when
 * it has one (MSD), else from the files in `imagesTr` (nnU-Net v2 lists none).
 */
import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { InputError } from '../errors.ts';
import { readNifti } from '../volume/nifti.ts';
import type { CaseFiles, Dataset } from './types.ts';

const DatasetJson = z
  .object({
    name: z.string().optional(),
    file_ending: z.string().optional(),
    training: z.array(z.object({ image: z.string(), label: z.string() })).optional(),
  })
  .passthrough();

const NIFTI = /\.nii(\.gz)?$/i;
const CHANNEL = /_(\d{4})$/;

async function names(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).filter((n) => !n.startsWith('.')).sort();
}

/** True when `dir` holds `dataset.json` and `imagesTr/`. */
export async function isMsdLike(dir: string): Promise<boolean> {
  const here = await names(dir);
  return here.includes('dataset.json') && here.includes('imagesTr');
}

export async function openMsd(dir: string): Promise<Dataset> {
  const jsonPath = join(dir, 'dataset.json');
  let parsed: z.infer<typeof DatasetJson>;
  try {
    parsed = DatasetJson.parse(JSON.parse(await readFile(jsonPath, 'utf8')));
  } catch (e) {
    throw new InputError(
      `unreadable dataset.json (${e instanceof z.ZodError ? e.issues[0]?.message : (e as Error).message})`,
      'BAD_HEADER',
      jsonPath,
    );
  }
  const images = (await names(join(dir, 'imagesTr'))).filter((n) => NIFTI.test(n));
  const labels = new Set((await names(join(dir, 'labelsTr'))).filter((n) => NIFTI.test(n)));
  const nnunet = images.some((n) => CHANNEL.test(n.replace(NIFTI, '')));
  const cases: CaseFiles[] = [];
  const problems: Dataset['problems'] = [];
  if (!nnunet && parsed.training?.length) {
    for (const t of parsed.training) {
      const id = basename(t.image).replace(NIFTI, '');
      const label = basename(t.label);
      if (!labels.has(label)) problems.push({ id, reason: `labelsTr/${label} is missing` });
      else cases.push({ id, volume: join(dir, t.image), segmentation: join(dir, t.label) });
    }
  } else {
    const seen = new Set<string>();
    for (const n of images) {
      const stem = n.replace(NIFTI, '');
      const ending = n.slice(stem.length);
      const id = nnunet ? stem.replace(CHANNEL, '') : stem;
      if (seen.has(id)) {
        problems.push({ id, reason: `several channels (${n}); only single-channel CT is used` });
        continue;
      }
      seen.add(id);
      const label = `${id}${parsed.file_ending ?? ending}`;
      if (!labels.has(label)) problems.push({ id, reason: `labelsTr/${label} is missing` });
      else cases.push({ id, volume: join(dir, 'imagesTr', n), segmentation: join(dir, 'labelsTr', label) });
    }
  }
  if (cases.length === 0) {
    throw new InputError('dataset.json + imagesTr hold no case with a label in labelsTr', 'NOT_FOUND', dir);
  }
  return {
    layout: nnunet ? 'nnunet' : 'msd',
    root: dir,
    cases,
    problems,
    readCase: async (c) => {
      const [ct, labels] = await Promise.all([readNifti(c.volume), readNifti(c.segmentation)]);
      return { ct, labels };
    },
    readLabels: (c) => readNifti(c.segmentation),
  };
}
