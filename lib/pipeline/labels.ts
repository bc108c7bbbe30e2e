/**
 * The labels as our own pictures show them (preview PNG, report, viewer legend): values and names come
 * from the one label definition (`lib/volume/labels.ts`, which DICOM SEG and the colour tables use); the
 * overlay colours here are saturated green and red, chosen to stand out as outlines on grey CT, where the
 * anatomical colours recommended to DICOM viewers (a flesh tone for the liver) do not.
 */
import { type LabelDefinition as CodedLabel, LABELS as LABEL_DEFINITIONS } from '../volume/labels.ts';

export interface LabelDefinition {
  value: number;
  name: CodedLabel['key'];
  /** sRGB, 0-255. */
  rgb: [number, number, number];
}

const OVERLAY_RGB: Record<CodedLabel['key'], [number, number, number]> = {
  liver: [0, 230, 64],
  tumor: [255, 40, 40],
};

export const LABELS: readonly LabelDefinition[] = LABEL_DEFINITIONS.map((l) => ({
  value: l.value,
  name: l.key,
  rgb: OVERLAY_RGB[l.key],
}));

/** `#rrggbb` of a label colour (for HTML legends). */
export function labelHex(rgb: readonly number[]): string {
  return `#${rgb.map((c) => c.toString(16).padStart(2, '0')).join('')}`;
}
