/**
 * The viewer page of a finished segmentation job: the same self-contained folder `raunet view --static`
 * writes (lib/viewer/static-layout.ts), stored under `results/<jobId>/viewer/` in the (private) results
 * bucket. A user downloads the job's results and opens the folder with `raunet view <folder>` or any
 * static web server; the bucket needs no CORS rule, public access or pre-signed page.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { S3Client } from '@aws-sdk/client-s3';
import { oneCaseViewerFiles, VIEWER_PAGE } from '../viewer/static-layout.ts';
import { putObjectBytes } from './object-store.ts';

/** The folder under a job's results prefix. */
export const JOB_VIEWER_DIR = 'viewer/';

/**
 * The page's script (niivue and the client, bundled). In a Lambda bundle it lies beside `index.mjs`
 * (copied there at bundling, see PipelineFunction's `viewerScript`); run from the sources (local cloud,
 * tests) it is bundled as `raunet view` does. The bundler's module is imported through a variable so
 * esbuild does not pull esbuild itself into the Lambda bundle.
 */
export async function jobViewerScript(): Promise<Uint8Array> {
  const beside = fileURLToPath(new URL('./viewer.js', import.meta.url));
  if (existsSync(beside)) return new Uint8Array(await readFile(beside));
  const bundler = '../viewer/bundle.ts';
  const { viewerBundle } = (await import(bundler)) as typeof import('../viewer/bundle.ts');
  return new Uint8Array(await readFile(await viewerBundle()));
}

/** `viewer/data/<this>/` holds the job's CT, label map and report. */
export const JOB_VIEWER_CASE_FOLDER = 'case';

/**
 * Write the viewer folder of one job under `prefixUri` (`s3://bucket/results/<jobId>/`); the page last,
 * so a folder whose `index.html` exists is complete. Returns the page's URI.
 */
export async function writeJobViewer(
  s3: S3Client,
  prefixUri: string,
  script: Uint8Array,
  job: { name: string; ctNiftiGz: Uint8Array; segNiftiGz: Uint8Array; report: unknown },
): Promise<string> {
  // The data folder has a fixed name: the case name comes from the dropped key, which may identify a
  // patient, and object keys end up in S3 access logs (layout.ts). The page still shows the name.
  const files = oneCaseViewerFiles(script, { ...job, folder: JOB_VIEWER_CASE_FOLDER });
  const dir = `${prefixUri}${JOB_VIEWER_DIR}`;
  // Keys are the file names `--static` writes on disk (URL paths decoded: `data/case 7/...`), so a
  // downloaded copy is that folder.
  const keyOf = (rel: string) => `${dir}${rel.split('/').map(decodeURIComponent).join('/')}`;
  for (const [rel, f] of files) {
    if (rel !== VIEWER_PAGE) await putObjectBytes(s3, keyOf(rel), f.bytes, f.type);
  }
  const page = files.get(VIEWER_PAGE);
  if (page) await putObjectBytes(s3, `${dir}${VIEWER_PAGE}`, page.bytes, page.type);
  return `${dir}${VIEWER_PAGE}`;
}
