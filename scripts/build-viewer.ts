/**
 * `npx tsx scripts/build-viewer.ts <out/viewer.js>`: the viewer page's script (lib/viewer/bundle.ts)
 * copied to a file. The finalize Lambda's bundling runs it (PipelineFunction `viewerScript`), so the
 * Lambda writes each job's viewer folder without esbuild at run time.
 */
import { copyFileSync } from 'node:fs';
import { viewerBundle } from '../lib/viewer/bundle.ts';

const out = process.argv[2];
if (!out) {
  process.stderr.write('usage: build-viewer.ts <out/viewer.js>\n');
  process.exit(2);
}
copyFileSync(await viewerBundle(), out);
