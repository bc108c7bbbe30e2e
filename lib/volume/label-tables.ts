/**
 * Colour tables that viewers read next to a NIfTI label map, from the one `LABELS` definition:
 * - 3D Slicer colour table (`.ctbl`): `# comment` lines, then one `value name R G B A` line per label
 *   (0..255; names without spaces, as Slicer splits on white space);
 * - ITK-SNAP label description (`.labels.txt`): `value R G B alpha visible mesh-visible "name"` per label,
 *   alpha 0..1.
 * Both include 0 (background, transparent). Pure text builders; callers write the files.
 */
import { LABELS, type LabelDefinition } from './labels.ts';

const BACKGROUND = { value: 0, name: 'Background', color: [0, 0, 0] as const };

function rows(labels: readonly LabelDefinition[]) {
  return [BACKGROUND, ...labels.map((l) => ({ value: l.value, name: l.name, color: l.color }))];
}

/** 3D Slicer colour table (`<name>_seg.ctbl`). */
export function slicerColorTable(labels: readonly LabelDefinition[] = LABELS): string {
  const lines = [
    '# raunet label map colours (3D Slicer colour table)',
    `# Number of colors: ${labels.length + 1}`,
  ];
  for (const r of rows(labels)) {
    const alpha = r.value === 0 ? 0 : 255;
    lines.push(`${r.value} ${r.name.replace(/\s+/g, '_')} ${r.color.join(' ')} ${alpha}`);
  }
  return `${lines.join('\n')}\n`;
}

/** ITK-SNAP label description file (`<name>_seg.labels.txt`). */
export function itkSnapLabelDescription(labels: readonly LabelDefinition[] = LABELS): string {
  const lines = [
    '# ITK-SNAP label description file written by raunet',
    '# columns: value, red, green, blue (0..255), alpha (0..1), visible, mesh visible, "name"',
  ];
  for (const r of rows(labels)) {
    const on = r.value === 0 ? 0 : 1;
    lines.push(`${r.value} ${r.color.join(' ')} ${on} ${on} ${on} "${r.name.replace(/"/g, "'")}"`);
  }
  return `${lines.join('\n')}\n`;
}
