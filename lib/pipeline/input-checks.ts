/**
 * Is this volume something the RA-UNet pipeline can be applied to? Checks of the input before stage 1:
 * geometry (voxel spacing, slice count), intensities (Hounsfield-like or not: MRI, inverted or rescaled
 * images, label maps), the DICOM Modality, and whether any liver-like tissue is present. Each problem either
 * refuses the input (the models cannot apply: the caller stops with one line) or becomes a warning flag in
 * the report. Thresholds are documented in docs/segmentation.md ("Input checks and orientation").
 */
import { reorientationToCanonical } from '../volume/orientation.ts';
import type { Volume } from '../volume/volume.ts';
import type { ReportFlag } from './report.ts';

/** Fewer slices (or in-plane voxels) than this: refused. */
export const MIN_SLICES = 8;
export const MIN_IN_PLANE = 32;
/** Spacing outside (0.05, 50] mm on any axis is not a scan's (a 1e9 mm pixdim): refused. */
export const ABSURD_SPACING_MM = { min: 0.05, max: 50 } as const;
/** Spacing outside [0.2, 10] mm (in-plane or between slices) is doubtful for an abdominal CT: warned. */
export const DOUBTFUL_SPACING_MM = { min: 0.2, max: 10 } as const;
/** HU limits of the intensity checks. */
export const HU = { air: -500, bright: 500, liverLow: 40, liverHigh: 200, realAir: -900 } as const;
/** Fractions of the intensity checks. */
export const FRACTION = {
  /** Less than this share of voxels below -500 HU: no air or lung, not HU: refused. */
  minAir: 0.005,
  /** More than this share above +500 HU: inverted or not HU: refused. */
  maxBright: 0.15,
  /** Less than this share of the body (> -500 HU) within [40, 200] HU: no liver-like tissue: warned. */
  minLiverLike: 0.01,
} as const;
/** At most this many distinct non-negative integers: a label map. */
export const MAX_LABELS = 16;
/** Voxels sampled for the intensity statistics (every n-th voxel beyond this). */
const SAMPLE = 2_000_000;

export interface InputRefusal {
  code: string;
  message: string;
}

export interface InputCheck {
  /** Set when the models cannot apply: the input is refused with this message. */
  refusal: InputRefusal | null;
  /** Doubts to report (stderr line and report flag each). */
  flags: ReportFlag[];
}

export interface InputCheckOptions {
  /** DICOM Modality (0008,0060) when the input is a DICOM series. */
  modality?: string;
  /** Slices of the liver network's patch (default 32, the paper's): fewer slices are padded. */
  patchSlices?: number;
}

/** Intensity statistics over a regular sample of the voxels. */
export interface IntensityStats {
  min: number;
  max: number;
  sampled: number;
  air: number;
  bright: number;
  body: number;
  liverLike: number;
  /** The distinct values when all are non-negative integers and at most MAX_LABELS of them, else null. */
  labels: number[] | null;
}

export function intensityStats(data: ArrayLike<number>): IntensityStats {
  const step = Math.max(1, Math.ceil(data.length / SAMPLE));
  const s = { min: Infinity, max: -Infinity, sampled: 0, air: 0, bright: 0, body: 0, liverLike: 0 };
  let labels: Set<number> | null = new Set();
  for (let i = 0; i < data.length; i += step) {
    const v = data[i];
    if (!Number.isFinite(v)) continue;
    s.sampled++;
    if (v < s.min) s.min = v;
    if (v > s.max) s.max = v;
    if (v < HU.air) s.air++;
    else {
      s.body++;
      if (v >= HU.liverLow && v <= HU.liverHigh) s.liverLike++;
    }
    if (v > HU.bright) s.bright++;
    if (labels) {
      if (v < 0 || !Number.isInteger(v)) labels = null;
      else if (!labels.has(v)) {
        if (labels.size >= MAX_LABELS) labels = null;
        else labels.add(v);
      }
    }
  }
  return { ...s, labels: labels ? [...labels].sort((a, b) => a - b) : null };
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const mm = (x: number) => `${Number(x.toPrecision(4))} mm`;

/** Checks of `vol` before stage 1 (see the module comment). Pure: no I/O. */
export function checkInput(vol: Volume, opts: InputCheckOptions = {}): InputCheck {
  const flags: ReportFlag[] = [];
  const refuse = (code: string, message: string): InputCheck => ({ refusal: { code, message }, flags });
  const warn = (code: string, message: string) => flags.push({ code, severity: 'warning', message });

  const modality = opts.modality?.trim().toUpperCase();
  if (modality && modality !== 'CT') {
    return refuse('modality-not-ct', `DICOM Modality is ${modality}, not CT: the models are for CT`);
  }

  if (vol.spacing.some((s) => !(s > ABSURD_SPACING_MM.min && s <= ABSURD_SPACING_MM.max))) {
    return refuse(
      'spacing-absurd',
      `voxel spacing ${vol.spacing.map(mm).join(' x ')} is not a CT's (each axis must be within ` +
        `${ABSURD_SPACING_MM.min}..${ABSURD_SPACING_MM.max} mm)`,
    );
  }
  // In-plane and slice axes as the pipeline sees them (RAS+: x, y in-plane, z across slices).
  const r = reorientationToCanonical(vol.affine, vol.dims);
  const [sx, sy, sz] = r.perm.map((a) => vol.spacing[a]);
  const [nx, ny, nz] = r.perm.map((a) => vol.dims[a]);
  if (nz < MIN_SLICES || nx < MIN_IN_PLANE || ny < MIN_IN_PLANE) {
    return refuse(
      'too-few-slices',
      `${nx}x${ny} voxels in-plane and ${nz} axial slices: at least ${MIN_IN_PLANE}x${MIN_IN_PLANE} and ` +
        `${MIN_SLICES} slices are needed`,
    );
  }
  const doubtful = (s: number) => s < DOUBTFUL_SPACING_MM.min || s > DOUBTFUL_SPACING_MM.max;
  if (doubtful(sx) || doubtful(sy) || doubtful(sz)) {
    warn(
      'spacing-doubtful',
      `voxel spacing ${mm(sx)} x ${mm(sy)} in-plane, ${mm(sz)} between slices is outside the usual ` +
        `${DOUBTFUL_SPACING_MM.min}..${DOUBTFUL_SPACING_MM.max} mm of abdominal CT`,
    );
  }
  const patchSlices = opts.patchSlices ?? 32;
  if (nz < patchSlices) {
    warn(
      'few-slices',
      `${nz} axial slices, fewer than the ${patchSlices} of the 3D networks' patch: the rest is padding`,
    );
  }

  const st = intensityStats(vol.data);
  if (st.sampled === 0) return refuse('intensity-not-ct', 'no finite voxel value');
  const range = `values ${st.min}..${st.max}`;
  if (st.labels) {
    return refuse(
      'label-map',
      `looks like a label map, not a CT (${range}, only ${st.labels.length} distinct integer values)`,
    );
  }
  const inverted = st.bright / st.sampled > FRACTION.maxBright;
  if (st.air / st.sampled < FRACTION.minAir) {
    // Bright "air" with negative values elsewhere is an inverted image; all-positive values MRI-like.
    const hint =
      inverted && st.min < -HU.liverHigh
        ? 'an inverted image?'
        : 'MRI, a rescaled image, or a CT without its rescale intercept?';
    return refuse(
      'intensity-not-ct',
      `${range} are not CT Hounsfield units: only ${pct(st.air / st.sampled)} of the voxels are below ` +
        `${HU.air} HU (air) (${hint})`,
    );
  }
  if (inverted) {
    return refuse(
      'intensity-not-ct',
      `${range} are not CT Hounsfield units: ${pct(st.bright / st.sampled)} of the voxels are above ` +
        `${HU.bright} HU (an inverted image?)`,
    );
  }
  if (st.min > HU.realAir) {
    warn(
      'intensity-not-ct',
      `the darkest voxel is ${st.min} HU; air in CT is about -1000 HU (rescaled or windowed data?)`,
    );
  }
  if (st.body === 0 || st.liverLike / st.body < FRACTION.minLiverLike) {
    warn(
      'no-liver-like-tissue',
      `only ${pct(st.body ? st.liverLike / st.body : 0)} of the body is in the ${HU.liverLow}..${HU.liverHigh} ` +
        'HU of liver tissue: this does not look like an abdominal CT',
    );
  }
  return { refusal: null, flags };
}
