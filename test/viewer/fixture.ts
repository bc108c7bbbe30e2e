/** A small segmentation output for viewer tests: a phantom CT, its true labels as the label map, a report. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generatePhantom } from '../../lib/phantom/phantom.ts';
import { buildReport, type SegmentationReport } from '../../lib/pipeline/report.ts';
import { writeNifti } from '../../lib/volume/nifti.ts';
import type { Volume } from '../../lib/volume/volume.ts';

export interface ViewerFixture {
  ct: Volume;
  seg: Volume<Uint8Array>;
  report: SegmentationReport;
}

export async function writeViewerFixture(
  dir: string,
  name = 'case',
  extra: Partial<SegmentationReport> = {},
): Promise<ViewerFixture> {
  const { ct, seg } = generatePhantom({ seed: 5, dims: [96, 96, 40], spacing: [4, 4, 6], tumors: 2 });
  const built = buildReport(ct, seg, {
    name,
    localization: null,
    timings: { preprocessMs: 0, localizeMs: 0, liverMs: 0, tumorMs: 0, totalMs: 0 },
    engine: { kind: 'none', backend: 'none' },
    models: { localize: [], liver: [], tumor: [] },
    options: {},
  });
  const report = { ...built, ...extra };
  await writeNifti(join(dir, `${name}_ct.nii.gz`), ct);
  await writeNifti(join(dir, `${name}_seg.nii.gz`), seg);
  await writeFile(join(dir, `${name}_report.json`), `${JSON.stringify(report, null, 2)}\n`);
  return { ct, seg, report };
}
