/**
 * The files of a viewer page (`index.html`, `viewer.js`, `manifest.json`, `data/<case>/...`), served by
 * `raunet view` or written to a folder by `raunet view --static`. NIfTI inputs are served as they are;
 * a DICOM CT is converted to NIfTI (once, on first request).
 */
import { createReadStream, existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { InputError } from '../errors.ts';
import { checkOutputFolderTarget, writeWholeFolder } from '../output/whole-folder.ts';
import { encodeNifti } from '../volume/nifti.ts';
import { readVolume } from '../volume/read.ts';
import { viewerBundle } from './bundle.ts';
import type { ViewerCase } from './cases.ts';
import type { ViewerManifest } from './manifest.ts';
import {
  CONTENT_TYPES,
  caseEntry,
  type ManifestCase,
  pageFiles,
  VIEWER_MANIFEST,
  VIEWER_PAGE,
  VIEWER_SCRIPT,
} from './static-layout.ts';

/** One file of the page: from disk, or produced in memory. */
export type SiteFile = { type: string } & ({ file: string } | { bytes: () => Promise<Uint8Array> });

const NIFTI_EXT = /\.nii(\.gz)?$/i;

function niftiExt(path: string): string {
  return path.toLowerCase().endsWith('.gz') ? '.nii.gz' : '.nii';
}

function once<T>(f: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => {
    p ??= f();
    return p;
  };
}

/** The page's files by relative URL path. */
export async function viewerSite(cases: ViewerCase[]): Promise<Map<string, SiteFile>> {
  const files = new Map<string, SiteFile>();
  const entries: ManifestCase[] = [];
  for (const c of cases) {
    // A DICOM folder, a zip of DICOM or a single DICOM file is served converted to NIfTI.
    const convert = c.ct.kind === 'dicom' || !NIFTI_EXT.test(c.ct.path);
    const entry = caseEntry(c.name, {
      ctExt: convert ? '.nii.gz' : niftiExt(c.ct.path),
      segExt: niftiExt(c.seg),
      report: c.report !== null,
    });
    const ctPath = c.ct.path;
    files.set(
      entry.ct,
      convert
        ? {
            type: CONTENT_TYPES.nifti,
            bytes: once(async () => encodeNifti(await readVolume(ctPath), { gzip: true, level: 1 })),
          }
        : { type: CONTENT_TYPES.nifti, file: ctPath },
    );
    files.set(entry.seg, { type: CONTENT_TYPES.nifti, file: c.seg });
    if (entry.report && c.report) files.set(entry.report, { type: CONTENT_TYPES.json, file: c.report });
    entries.push(entry);
  }
  for (const [rel, f] of pageFiles(entries)) files.set(rel, { type: f.type, bytes: async () => f.bytes });
  files.set(VIEWER_SCRIPT, { type: CONTENT_TYPES.script, file: await viewerBundle() });
  return files;
}

/** The decoded segments of a relative URL path, or null when one could leave the folder or is malformed. */
function safeParts(rel: string): string[] | null {
  try {
    const parts = rel.split('/').map(decodeURIComponent);
    const bad = (p: string) => p === '' || p === '.' || p === '..' || p.includes('/') || p.includes('\\');
    return parts.some(bad) ? null : parts;
  } catch {
    return null; // a malformed %-escape
  }
}

/**
 * The files of a folder written by `raunet view --static` or downloaded from an AWS job's `viewer/`
 * prefix: the page, its script, its manifest and exactly the files the manifest lists (nothing else in
 * the folder is served). Throws `InputError` when the folder is not such a page.
 */
export async function staticFolderSite(dir: string): Promise<Map<string, SiteFile>> {
  const manifestPath = join(dir, VIEWER_MANIFEST);
  let manifest: ViewerManifest;
  try {
    manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as ViewerManifest;
  } catch (e) {
    throw new InputError(`not a viewer manifest (${(e as Error).message})`, 'BAD_HEADER', manifestPath);
  }
  if (!Array.isArray(manifest.cases)) {
    throw new InputError('not a viewer manifest (no cases)', 'BAD_HEADER', manifestPath);
  }
  const files = new Map<string, SiteFile>([
    [VIEWER_PAGE, { type: CONTENT_TYPES.html, file: join(dir, VIEWER_PAGE) }],
    [VIEWER_SCRIPT, { type: CONTENT_TYPES.script, file: join(dir, VIEWER_SCRIPT) }],
    [VIEWER_MANIFEST, { type: CONTENT_TYPES.json, file: manifestPath }],
  ]);
  for (const c of manifest.cases) {
    for (const [rel, type] of [
      [c.ct, CONTENT_TYPES.nifti],
      [c.seg, CONTENT_TYPES.nifti],
      [c.report, CONTENT_TYPES.json],
    ] as const) {
      if (rel === null) continue;
      // Only paths inside the folder: a manifest cannot make the server read elsewhere.
      const parts = safeParts(String(rel));
      if (parts?.[0] !== 'data') {
        throw new InputError(`lists a file outside data/: ${rel}`, 'BAD_HEADER', manifestPath);
      }
      files.set(String(rel), { type, file: join(dir, ...parts) });
    }
  }
  for (const [rel, f] of files) {
    if ('file' in f && !existsSync(f.file)) {
      throw new InputError(`missing ${rel} (the folder is incomplete)`, 'NOT_FOUND', dir);
    }
  }
  return files;
}

/** The files a static page of `cases` is made from (no target folder may hold them). */
export function viewerInputs(cases: ViewerCase[]): string[] {
  return cases.flatMap((c) => [c.ct.path, c.seg, ...(c.report ? [c.report] : [])]);
}

/**
 * Write the page as a self-contained folder (HTML + JS + data), whole or not at all: a folder that holds
 * anything is refused unless `overwrite`, one that holds an input even then, and the new folder replaces
 * an earlier one only once complete (lib/output/whole-folder.ts). Resolves to the paths written.
 */
export async function writeStaticViewer(
  cases: ViewerCase[],
  out: string,
  opts: { overwrite?: boolean } = {},
): Promise<string[]> {
  await checkOutputFolderTarget(out, { overwrite: opts.overwrite, inputs: viewerInputs(cases) });
  const files = await viewerSite(cases);
  const relPaths = await writeWholeFolder(
    out,
    async (staging) => {
      const written: string[] = [];
      for (const [rel, f] of files) {
        const parts = rel.split('/').map(decodeURIComponent);
        const path = join(staging, ...parts);
        await mkdir(dirname(path), { recursive: true });
        if ('file' in f) await copyFile(f.file, path);
        else await writeFile(path, await f.bytes());
        written.push(join(...parts));
      }
      return written;
    },
    opts,
  );
  return relPaths.map((rel) => join(out, rel));
}

export interface ViewerServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** Serve the page over HTTP on `host` (loopback by default) and `port` (0: any free one). */
export async function serveViewer(
  cases: ViewerCase[],
  opts: { host?: string; port?: number } = {},
): Promise<ViewerServer> {
  return serveSite(await viewerSite(cases), opts);
}

/** Serve a page's files (`viewerSite`, `staticFolderSite`) over HTTP; nothing else is served. */
export async function serveSite(
  files: Map<string, SiteFile>,
  opts: { host?: string; port?: number } = {},
): Promise<ViewerServer> {
  const server = createServer((req, res) => {
    const send = (status: number, body: string) => {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed');
    const path = new URL(req.url ?? '/', 'http://x').pathname.replace(/^\/+/, '') || 'index.html';
    const f = files.get(path);
    if (!f) return send(404, `not found: /${path}`);
    const headers = { 'content-type': f.type, 'cache-control': 'no-store' };
    if ('file' in f) {
      const stream = createReadStream(f.file);
      stream.once('error', (e) => send(500, `cannot read ${path}: ${e.message}`));
      stream.once('open', () => {
        res.writeHead(200, headers);
        if (req.method === 'HEAD') {
          stream.destroy();
          res.end();
        } else stream.pipe(res);
      });
      return;
    }
    f.bytes().then(
      (b) => {
        res.writeHead(200, { ...headers, 'content-length': b.byteLength });
        res.end(req.method === 'HEAD' ? undefined : b);
      },
      (e: unknown) => send(500, `cannot produce ${path}: ${e instanceof Error ? e.message : String(e)}`),
    );
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const shown = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${shown}:${addr.port}/`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
