/**
 * The label values of our label maps, with the names and display colours every output uses (preview PNG,
 * report, viewer legend). One place: the preview, the report and the viewer read them from here.
 */
export interface LabelDefinition {
  value: number;
  name: string;
  /** sRGB, 0-255. */
  rgb: [number, number, number];
}

export const LABELS: readonly LabelDefinition[] = [
  { value: 1, name: 'liver', rgb: [0, 230, 64] },
  { value: 2, name: 'tumor', rgb: [255, 40, 40] },
];

/** `#rrggbb` of a label colour (for HTML legends). */
export function labelHex(rgb: readonly number[]): string {
  return `#${rgb.map((c) => c.toString(16).padStart(2, '0')).join('')}`;
}
