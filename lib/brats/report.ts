/**
 * The report of one segmented brain (`<id>_report.json`): the whole tumour's volume in mL and component
 * count, the mean of each sequence inside it (raw intensities as read, so a reader sees how the tumour
 * looks on each), the brain's volume, and what made the segmentation (models, threshold, options).
 */

import { DEMO_MODELS_FLAG, isDemoModel, type ReportFlag, voxelVolumeMm3 } from '../pipeline/report.ts';
import { labelComponents } from '../postprocess/components.ts';
import type { Affine, Vec3 } from '../volume/volume.ts';
import type { BratsModel } from './segment.ts';

export const BRATS_REPORT_VERSION = 1;

export interface BratsReport {
  schemaVersion: number;
  task: 'brats';
  subject: string;
  /** Where the subject was read from. */
  input: string;
  dims: Vec3;
  spacing: Vec3;
  tumour: {
    voxels: number;
    /** Millilitres (voxels x |det(affine)| / 1000). */
    volumeMl: number;
    /** 26-connected components (a multifocal tumour has several). */
    components: number;
    /** Mean raw intensity of each sequence inside the tumour; null when no tumour was found. */
    meanIntensity: Record<string, number | null>;
  };
  /** The brain mask's voxels (`bratsBrainMask`: > 0 in all four sequences) and their volume. */
  brain: { voxels: number; volumeMl: number };
  threshold: number;
  tta: boolean;
  largestComponent: boolean;
  models: Array<{ id: string; arch: string; width: number; valDice?: number }>;
  /** True when the demo models (trained on phantoms) made it. */
  demoModels: boolean;
  flags: ReportFlag[];
  seconds: number;
  createdAt: string;
}

export interface BratsReportInput {
  subject: string;
  input: string;
  dims: Vec3;
  spacing: Vec3;
  affine: Affine;
  /** The sequences as read, by name, on the grid of `mask`. */
  raw: Record<string, ArrayLike<number>>;
  /** The whole tumour (0/1). */
  mask: Uint8Array;
  /** The brain mask (0/1). */
  brain: Uint8Array;
  threshold: number;
  tta: boolean;
  largestComponent: boolean;
  models: readonly BratsModel[];
  seconds: number;
}

export function buildBratsReport(r: BratsReportInput): BratsReport {
  const mm3 = voxelVolumeMm3(r.affine);
  const names = Object.keys(r.raw);
  const sums = new Float64Array(names.length);
  const channels = names.map((n) => r.raw[n]!);
  let tumour = 0;
  let brain = 0;
  for (let i = 0; i < r.mask.length; i++) {
    brain += r.brain[i]! > 0 ? 1 : 0;
    if (r.mask[i] === 0) continue;
    tumour++;
    for (let c = 0; c < channels.length; c++) sums[c]! += channels[c]![i]!;
  }
  const meanIntensity: Record<string, number | null> = {};
  names.forEach((n, c) => {
    meanIntensity[n] = tumour > 0 ? sums[c]! / tumour : null;
  });
  const demo = r.models.some((m) => isDemoModel(m.manifest));
  return {
    schemaVersion: BRATS_REPORT_VERSION,
    task: 'brats',
    subject: r.subject,
    input: r.input,
    dims: [...r.dims],
    spacing: [...r.spacing],
    tumour: {
      voxels: tumour,
      volumeMl: (tumour * mm3) / 1000,
      components: tumour > 0 ? labelComponents(r.mask, r.dims).count : 0,
      meanIntensity,
    },
    brain: { voxels: brain, volumeMl: (brain * mm3) / 1000 },
    threshold: r.threshold,
    tta: r.tta,
    largestComponent: r.largestComponent,
    models: r.models.map((m) => ({
      id: m.id,
      arch: m.manifest.arch,
      width: m.manifest.width,
      ...(m.manifest.metrics?.valDice === undefined ? {} : { valDice: m.manifest.metrics.valDice }),
    })),
    demoModels: demo,
    flags: demo ? [DEMO_MODELS_FLAG] : [],
    seconds: r.seconds,
    createdAt: new Date().toISOString(),
  };
}
