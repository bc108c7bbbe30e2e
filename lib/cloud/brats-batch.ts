/**
 * The brain-tumour Batch job's library side (`BratsRunner` of `batch-stages.ts`): the same functions as
 * `raunet segment --task brats` (`lib/brats/segment-files.ts`), with the results renamed to every job's
 * names (`RESULT_FILES`: labels.nii.gz, report.json, preview.png).
 */
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { bratsOutputPaths, loadBratsModels, segmentBratsSubjectFolder } from '../brats/segment-files.ts';
import type { BratsRunner } from './batch-stages.ts';
import { RESULT_FILES } from './layout.ts';

export const runBratsJob: BratsRunner = async (subjectDir, modelsRoot, outDir) => {
  const models = await loadBratsModels(modelsRoot);
  try {
    await mkdir(outDir, { recursive: true });
    const scratch = await mkdtemp(join(dirname(outDir), 'brats-out-'));
    try {
      const { id } = await segmentBratsSubjectFolder(subjectDir, models, {
        models: modelsRoot,
        out: scratch,
      });
      const made = bratsOutputPaths(scratch, id);
      await rename(made.seg, join(outDir, RESULT_FILES.labels));
      await rename(made.report, join(outDir, RESULT_FILES.report));
      await rename(made.preview, join(outDir, RESULT_FILES.preview));
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
    return { backend: models[0]!.engine.backend };
  } finally {
    for (const m of models) await m.engine.dispose();
  }
};
