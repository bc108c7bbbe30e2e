/**
 * The files of a viewer page (`index.html`, `viewer.js`, `manifest.json`, `data/<case>/...`), served by
 * `raunet view` or written to a folder by `raunet view --static`. NIfTI inputs are served as they are;
 * a DICOM CT is converted to NIfTI (once, on first request).
 */
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { LABELS } from '../pipeline/labels.ts';
import { encodeNifti } from '../volume/nifti.ts';
import { readVolume } from '../volume/read.ts';
import { viewerBundle } from './bundle.ts';
import type { ViewerCase } from './cases.ts';
import type { ViewerManifest } from './manifest.ts';
import { VIEWER_TITLE, viewerHtml } from './page.ts';

/** One file of the page: from disk, or produced in memory. */
type SiteFile = { type: string } & ({ file: string } | { bytes: () => Promise<Uint8Array> });

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
  const html = viewerHtml();
  files.set('index.html', { type: 'text/html; charset=utf-8', bytes: async () => Buffer.from(html) });
  files.set('viewer.js', { type: 'text/javascript; charset=utf-8', file: await viewerBundle() });
  const manifest: ViewerManifest = { title: VIEWER_TITLE, labels: LABELS.map((l) => ({ ...l })), cases: [] };
  for (const c of cases) {
    const base = `data/${encodeURIComponent(c.name)}`;
    const nifti = 'application/octet-stream';
    let ct: string;
    if (c.ct.kind === 'dicom') {
      ct = `${base}/ct.nii.gz`;
      files.set(ct, {
        type: nifti,
        bytes: once(async () => encodeNifti(await readVolume(c.ct.path), { gzip: true, level: 1 })),
      });
    } else {
      if (!NIFTI_EXT.test(c.ct.path)) {
        // A zip of DICOM or a single DICOM file: convert like a folder.
        ct = `${base}/ct.nii.gz`;
        files.set(ct, {
          type: nifti,
          bytes: once(async () => encodeNifti(await readVolume(c.ct.path), { gzip: true, level: 1 })),
        });
      } else {
        ct = `${base}/ct${niftiExt(c.ct.path)}`;
        files.set(ct, { type: nifti, file: c.ct.path });
      }
    }
    const seg = `${base}/seg${niftiExt(c.seg)}`;
    files.set(seg, { type: nifti, file: c.seg });
    let report: string | null = null;
    if (c.report) {
      report = `${base}/report.json`;
      files.set(report, { type: 'application/json', file: c.report });
    }
    manifest.cases.push({ name: c.name, ct, seg, report });
  }
  const json = `${JSON.stringify(manifest, null, 2)}\n`;
  files.set('manifest.json', { type: 'application/json', bytes: async () => Buffer.from(json) });
  return files;
}

/** Write the page as a self-contained folder (HTML + JS + data). */
export async function writeStaticViewer(cases: ViewerCase[], out: string): Promise<string[]> {
  const files = await viewerSite(cases);
  const written: string[] = [];
  for (const [rel, f] of files) {
    const path = join(out, ...rel.split('/').map(decodeURIComponent));
    await mkdir(dirname(path), { recursive: true });
    if ('file' in f) await copyFile(f.file, path);
    else await writeFile(path, await f.bytes());
    written.push(path);
  }
  return written;
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
  const files = await viewerSite(cases);
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
