/**
 * Checks that a volume handed to `evaluate` is a label map in the LiTS convention (0 background,
 * 1 liver, 2 tumor), and mapping of other label conventions onto it (`--ref-label liver=5,tumor=...`).
 * Pure: no file access.
 */
import { InputError } from '../errors.ts';
import type { Volume } from '../volume/volume.ts';

/** Label values that become liver (1) and tumor (2); every other value becomes background. */
export interface LabelMapping {
  liver: number[];
  tumor: number[];
}

/** More distinct values than this and the volume is taken for an intensity image. */
const MAX_LABELS = 64;
/** The same for multi-organ maps read through a mapping (TotalSegmentator has 117 classes). */
const MULTI_LABELS = 1024;

/** `liver=5` or `liver=5+6,tumor=7`: integer labels per structure. */
export function parseLabelMapping(spec: string): LabelMapping {
  const out: LabelMapping = { liver: [], tumor: [] };
  for (const part of spec.split(',')) {
    const [key, values, extra] = part.split('=').map((s) => s.trim());
    if ((key !== 'liver' && key !== 'tumor') || values === undefined || extra !== undefined) {
      throw new InputError(
        `--ref-label: expected liver=<labels>[,tumor=<labels>] (labels joined by +), got "${spec}"`,
      );
    }
    for (const v of values.split('+')) {
      const n = Number(v);
      if (v === '' || !Number.isInteger(n) || n < 0) {
        throw new InputError(`--ref-label: '${v}' is not a non-negative integer label (in "${spec}")`);
      }
      out[key].push(n);
    }
  }
  if (out.liver.length === 0) throw new InputError(`--ref-label: no liver label in "${spec}"`);
  const both = out.liver.filter((v) => out.tumor.includes(v));
  if (both.length) throw new InputError(`--ref-label: label ${both[0]} is given for liver and tumor`);
  return out;
}

/** The distinct values of a volume, up to `limit + 1` of them; `integral` false at the first fraction. */
export function labelValues(
  data: ArrayLike<number>,
  limit = MAX_LABELS,
): { values: number[]; integral: boolean; finite: boolean } {
  const seen = new Set<number>();
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (seen.has(v)) continue;
    if (!Number.isFinite(v)) return { values: [...seen], integral: false, finite: false };
    if (!Number.isInteger(v)) return { values: [...seen, v], integral: false, finite: true };
    seen.add(v);
    if (seen.size > limit) break;
  }
  return { values: [...seen].sort((a, b) => a - b), integral: true, finite: true };
}

/**
 * Throw an InputError naming `file` unless `vol` is a label map with values in {0, 1, 2} (any
 * non-negative integer labels with `anyLabels`): an intensity image (fractions, negative values, many
 * distinct values) or other labels (with `hint` appended). Returns the distinct values, ascending.
 */
export function checkLabelMap(
  vol: Volume,
  file: string,
  role: 'prediction' | 'reference',
  hint = '',
  opts: { anyLabels?: boolean } = {},
): number[] {
  const limit = opts.anyLabels ? MULTI_LABELS : MAX_LABELS;
  const { values, integral, finite } = labelValues(vol.data, limit);
  if (!finite) throw new InputError(`${role} holds NaN or infinite values, not labels`, 'BAD_HEADER', file);
  const intensity = !integral || values.length > limit || (values.length > 0 && (values[0] ?? 0) < 0);
  if (intensity) {
    const shown =
      values.length > limit
        ? `more than ${limit} distinct values`
        : `values like ${values.slice(0, 4).join(', ')}`;
    throw new InputError(
      `${role} looks like an intensity image, not a label map (${shown}); expected labels 0 background, 1 liver, 2 tumor`,
      'BAD_ARGUMENT',
      file,
    );
  }
  const other = values.filter((v) => v !== 0 && v !== 1 && v !== 2);
  if (other.length && !opts.anyLabels) {
    throw new InputError(
      `${role} has labels ${values.join(', ')}, expected only 0 background, 1 liver, 2 tumor${hint}`,
      'BAD_ARGUMENT',
      file,
    );
  }
  return values;
}

/** A new uint8 label map: `m.liver` values -> 1, `m.tumor` values -> 2, everything else -> 0. */
export function mapLabels(vol: Volume, m: LabelMapping): Volume<Uint8Array> {
  const lut = new Uint8Array(Math.max(...m.liver, ...m.tumor) + 1);
  for (const v of m.liver) lut[v] = 1;
  for (const v of m.tumor) lut[v] = 2;
  const out = new Uint8Array(vol.data.length);
  const d = vol.data;
  for (let i = 0; i < out.length; i++) out[i] = lut[d[i]] ?? 0; // out of range or fractional: undefined -> 0
  return { ...vol, data: out, dtype: 'uint8' };
}
