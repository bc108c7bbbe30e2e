/**
 * The contrast model of the brain phantoms: a mean intensity per tissue and MRI sequence, in arbitrary
 * scanner units (BraTS files are unnormalised, roughly 0..1000 for brain tissue). Only the order and rough
 * ratios matter, chosen to follow the textbook appearance of each sequence:
 * - T1: fat (scalp) brightest, white matter > grey matter > CSF; oedema and necrosis hypointense;
 *   the tumour rim about grey-matter level.
 * - T1ce (T1 after gadolinium): as T1, except the enhancing rim, which is the brightest brain tissue.
 * - T2: fluid brightest (CSF > necrosis > oedema), then grey matter > white matter.
 * - FLAIR: as T2 with free fluid suppressed: CSF dark, oedema brightest, grey > white matter.
 * Bone is dark in every sequence; air is exactly 0 (masked, as BraTS' preprocessing leaves it).
 */
import type { BratsModality } from '../brats/types.ts';

/** Tissue codes of the phantom's tissue map. */
export const TISSUE = {
  air: 0,
  scalp: 1,
  skull: 2,
  csf: 3,
  grey: 4,
  white: 5,
  edema: 6,
  enhancing: 7,
  necrosis: 8,
} as const;

export type TissueCode = (typeof TISSUE)[keyof typeof TISSUE];
export const TISSUE_COUNT = 9;

/** Mean intensity of each tissue (indexed by `TISSUE` code) per sequence. */
export const BRAIN_CONTRAST: Record<BratsModality, readonly number[]> = {
  //     air scalp skull csf grey white edema enh necr
  t1: [0, 900, 80, 200, 480, 700, 380, 470, 220],
  t1ce: [0, 900, 80, 210, 490, 710, 390, 1050, 230],
  t2: [0, 550, 60, 1000, 620, 420, 860, 650, 940],
  flair: [0, 520, 60, 110, 600, 440, 960, 720, 380],
};

/** Raw BraTS label of each tissue: necrosis 1, oedema 2, enhancing tumour 4, everything else 0. */
export const TISSUE_LABEL: readonly number[] = [0, 0, 0, 0, 0, 0, 2, 4, 1];
