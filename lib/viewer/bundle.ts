/**
 * The viewer page's script: `client/main.ts` with niivue, bundled by esbuild when first needed and cached
 * under `$TMPDIR/raunet-viewer/<hash>/viewer.js` (the hash covers the client sources and the niivue and
 * esbuild versions), so nothing generated is committed and a second `raunet view` starts at once.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO_ROOT } from '../repo-root.ts';

const CLIENT_DIR = join(dirname(fileURLToPath(import.meta.url)), 'client');

async function versionOf(pkg: string): Promise<string> {
  const json = JSON.parse(await readFile(join(REPO_ROOT, 'node_modules', pkg, 'package.json'), 'utf8'));
  return String(json.version);
}

/** Hash of what the bundle is built from. */
async function bundleKey(): Promise<string> {
  const h = createHash('sha256');
  for (const name of (await readdir(CLIENT_DIR)).sort()) {
    if (!name.endsWith('.ts')) continue;
    h.update(name);
    h.update(await readFile(join(CLIENT_DIR, name)));
  }
  h.update(await versionOf('@niivue/niivue'));
  h.update(await versionOf('esbuild'));
  return h.digest('hex').slice(0, 16);
}

/** Path of the bundled viewer script, building it if the cache lacks it. */
export async function viewerBundle(cacheRoot = join(tmpdir(), 'raunet-viewer')): Promise<string> {
  const dir = join(cacheRoot, await bundleKey());
  const out = join(dir, 'viewer.js');
  if (existsSync(out)) return out;
  await mkdir(dir, { recursive: true });
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [join(CLIENT_DIR, 'main.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2020',
    minify: true,
    write: false,
    logLevel: 'silent',
  });
  const tmp = `${out}.${process.pid}.tmp`;
  await writeFile(tmp, result.outputFiles[0].contents);
  await rename(tmp, out);
  return out;
}
