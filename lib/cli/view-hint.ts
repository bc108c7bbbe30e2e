import type { OutputFormat } from './interop-outputs.ts';

const quote = (s: string) => (/^[\w./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** The line `raunet segment` and `raunet demo` print to say how to look at their output. */
export function viewHint(out: string): string {
  return `look at the results in the browser: npx raunet view ${quote(out)}`;
}

/**
 * The line `raunet segment` prints after writing label maps in `format`: the viewer reads NIfTI label
 * maps only, so for the other formats it says how to get one rather than pointing at a viewer that
 * would refuse the folder.
 */
export function segmentViewHint(out: string, format: OutputFormat = 'nifti'): string {
  if (format === 'nifti' || format === 'both') return viewHint(out);
  if (format === 'dicom-seg') {
    return 'raunet view reads NIfTI label maps: open the DICOM SEG with its series in 3D Slicer or OHIF (docs/interop.md), or segment with --format both';
  }
  const seg = `${quote(out.replace(/\/+$/, '') || '/')}/<name>_seg`;
  return `raunet view reads NIfTI label maps: to look at one in the browser, convert it first (npx raunet convert ${seg}.${format} ${seg}.nii.gz)`;
}
