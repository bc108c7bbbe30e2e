/**
 * Is the result plausible? Flags of a finished label map, for the report (and the preview): an empty
 * liver, a liver cut off by the scan's border (its volume is then a lower bound), a liver volume outside
 * the adult range, and a liver reaching the edge of stage 1's box (the box may have cut it off).
 */
import type { Box3 } from '../preprocess/crop.ts';
import { orientationCode } from '../volume/affine.ts';
import type { Affine, Vec3 } from '../volume/volume.ts';
import type { ReportFlag } from './report.ts';

/**
 * Plausible whole-liver volume of an adult, mL. Urata et al. (Hepatology 1995;21:1317-1321) give the
 * standard liver volume as 706.2 x body surface area (m²) + 2.4 mL: about 1,000-1,700 mL for a body surface
 * of 1.4-2.4 m². The range is widened on both sides for small adults, cirrhotic (shrunken) and enlarged or
 * tumour-laden livers; outside it a result is flagged, not changed.
 */
export const LIVER_VOLUME_ML = { min: 600, max: 4000 } as const;

const WORD: Record<string, string> = {
  R: 'right',
  L: 'left',
  A: 'anterior',
  P: 'posterior',
  S: 'superior',
  I: 'inferior',
};
const OPPOSITE: Record<string, string> = { R: 'L', L: 'R', A: 'P', P: 'A', S: 'I', I: 'S' };

/** The world side (right, posterior, ...) of the low (`end` false) or high face of voxel axis `axis`. */
function side(code: string, axis: number, high: boolean): string {
  const letter = code[axis];
  return WORD[high ? letter : OPPOSITE[letter]] ?? `axis ${axis} ${high ? 'end' : 'start'}`;
}

/** Faces of `inner` that lie on faces of `outer`, as world sides; `skip` leaves out faces shared with it. */
function sharedFaces(inner: Box3, outer: Box3, code: string, skip?: Box3): string[] {
  const out: string[] = [];
  for (let a = 0; a < 3; a++) {
    if (inner.start[a] === outer.start[a] && !(skip && skip.start[a] === outer.start[a]))
      out.push(side(code, a, false));
    if (inner.end[a] === outer.end[a] && !(skip && skip.end[a] === outer.end[a]))
      out.push(side(code, a, true));
  }
  return out;
}

export interface PlausibilityInput {
  dims: Vec3;
  affine: Affine;
  liverVolumeMl: number;
  /** Bounding box of the liver (labels >= 1), null when empty. */
  liverBox: Box3 | null;
  /** Stage 1's box (with its margin), null when stage 1 found nothing. */
  localization: Box3 | null;
}

export function plausibilityFlags(p: PlausibilityInput): ReportFlag[] {
  const flags: ReportFlag[] = [];
  const warn = (code: string, message: string) => flags.push({ code, severity: 'warning', message });
  if (!p.liverBox) {
    warn(
      'liver-empty',
      p.localization
        ? 'no liver in the label map (stage 1 found a box, stages 2 and 3 nothing in it)'
        : 'no liver found (stage 1 found nothing)',
    );
    return flags;
  }
  const code = orientationCode(p.affine);
  const whole: Box3 = { start: [0, 0, 0], end: [...p.dims] };
  const border = sharedFaces(p.liverBox, whole, code);
  const ml = p.liverVolumeMl.toFixed(0);
  if (border.length) {
    warn(
      'liver-touches-border',
      `the liver touches the scan's ${border.join(', ')} border: it is cut off, its volume (${ml} mL) is a lower bound`,
    );
  }
  if (p.liverVolumeMl < LIVER_VOLUME_ML.min || p.liverVolumeMl > LIVER_VOLUME_ML.max) {
    warn(
      'liver-volume-implausible',
      `liver volume ${ml} mL is outside the plausible adult range ${LIVER_VOLUME_ML.min}-${LIVER_VOLUME_ML.max} mL ` +
        '(standard liver volume 706.2 x BSA + 2.4 mL, Urata et al. 1995, widened for disease)',
    );
  }
  if (p.localization) {
    const clipped = sharedFaces(p.liverBox, p.localization, code, whole);
    if (clipped.length) {
      warn(
        'box-clips-mask',
        `the liver reaches the ${clipped.join(', ')} edge of stage 1's box: the box may have cut part of it off`,
      );
    }
  }
  return flags;
}
