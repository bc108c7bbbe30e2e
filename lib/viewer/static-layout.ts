/**
 * The layout of a static viewer folder, shared by `raunet view --static` (files on disk) and the AWS
 * segmentation job (objects under `results/<jobId>/viewer/`): `index.html`, `viewer.js`, `manifest.json`
 * and `data/<case>/{ct,seg}.nii[.gz]` + `report.json`. No Node imports: the cloud writes these bytes to S3.
 */
import { LABELS } from '../pipeline/labels.ts';
import type { ViewerManifest } from './manifest.ts';
import { VIEWER_TITLE, viewerHtml } from './page.ts';

export const VIEWER_PAGE = 'index.html';
export const VIEWER_SCRIPT = 'viewer.js';
export const VIEWER_MANIFEST = 'manifest.json';

export const CONTENT_TYPES = {
  html: 'text/html; charset=utf-8',
  script: 'text/javascript; charset=utf-8',
  json: 'application/json',
  nifti: 'application/octet-stream',
} as const;

export type ManifestCase = ViewerManifest['cases'][number];

/**
 * Where a case's files go in the folder (URL paths relative to the page); `ext` is `.nii` or `.nii.gz`.
 * `folder` defaults to the case name; the cloud job passes a fixed one (object keys never carry names).
 */
export function caseEntry(
  name: string,
  files: { ctExt: string; segExt: string; report: boolean },
  folder = name,
): ManifestCase {
  const base = `data/${encodeURIComponent(folder)}`;
  return {
    name,
    ct: `${base}/ct${files.ctExt}`,
    seg: `${base}/seg${files.segExt}`,
    report: files.report ? `${base}/report.json` : null,
  };
}

export function viewerManifest(cases: ManifestCase[]): ViewerManifest {
  return { title: VIEWER_TITLE, labels: LABELS.map((l) => ({ ...l, rgb: [...l.rgb] })), cases };
}

/** The page (HTML) and its manifest as bytes, by relative path; the script (`viewer.js`) is added by the caller. */
export function pageFiles(cases: ManifestCase[]): Map<string, { type: string; bytes: Uint8Array }> {
  const enc = new TextEncoder();
  const manifest = `${JSON.stringify(viewerManifest(cases), null, 2)}\n`;
  return new Map([
    [VIEWER_PAGE, { type: CONTENT_TYPES.html, bytes: enc.encode(viewerHtml()) }],
    [VIEWER_MANIFEST, { type: CONTENT_TYPES.json, bytes: enc.encode(manifest) }],
  ]);
}

/**
 * Every file of a one-case folder whose data are in memory (the cloud job: CT and label map as gzip
 * NIfTI, the report as JSON).
 */
export function oneCaseViewerFiles(
  script: Uint8Array,
  c: { name: string; folder?: string; ctNiftiGz: Uint8Array; segNiftiGz: Uint8Array; report: unknown },
): Map<string, { type: string; bytes: Uint8Array }> {
  const entry = caseEntry(c.name, { ctExt: '.nii.gz', segExt: '.nii.gz', report: true }, c.folder);
  const files = pageFiles([entry]);
  files.set(VIEWER_SCRIPT, { type: CONTENT_TYPES.script, bytes: script });
  files.set(entry.ct, { type: CONTENT_TYPES.nifti, bytes: c.ctNiftiGz });
  files.set(entry.seg, { type: CONTENT_TYPES.nifti, bytes: c.segNiftiGz });
  const report = new TextEncoder().encode(`${JSON.stringify(c.report, null, 2)}\n`);
  if (entry.report) files.set(entry.report, { type: CONTENT_TYPES.json, bytes: report });
  return files;
}
