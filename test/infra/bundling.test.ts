// Every Lambda handler bundles with the local esbuild (never Docker), one function at a time.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../lib/infra/config.ts';
import { PipelineFunction } from '../../lib/infra/pipeline-function.ts';

const HANDLERS = [
  'starter',
  'ingest',
  'window',
  'finalize',
  'mark-failed',
  'plan',
  'register',
  'run-failed',
  'fold-failed',
  'check-folds',
];
const outdir = mkdtempSync(path.join(tmpdir(), 'raunet-bundle-'));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

describe('Lambda bundling', () => {
  it('bundles each handler to an ESM file with esbuild, outside Docker', async () => {
    const app = new App({ outdir });
    const stack = new Stack(app, 'Bundles');
    const config = resolveConfig({ env: 'dev' });
    const assets: string[] = [];
    for (const handler of HANDLERS) {
      const f = new PipelineFunction(stack, handler, { config, handler, description: handler });
      // The staged asset folder holds what Lambda runs.
      const code = f.fn.node.findChild('Code') as unknown as { assetPath: string };
      assets.push(path.join(outdir, code.assetPath));
      await new Promise((r) => setTimeout(r, 10)); // let the test worker breathe between bundles
    }
    for (const dir of assets) {
      const file = path.join(dir, 'index.mjs');
      expect(existsSync(file)).toBe(true);
      const text = readFileSync(file, 'utf8');
      expect(text.length).toBeGreaterThan(10_000);
      expect(text).toContain('createRequire'); // the ESM banner for bundled CommonJS dependencies
      // The AWS SDK v3 stays external: the Node.js 22 runtime provides it.
      expect(text).toMatch(/["']@aws-sdk\/(client-|lib-)/);
      // Nothing the Lambda runtime lacks: TensorFlow.js and ONNX Runtime are external and not deployed.
      expect(text).not.toMatch(/from\s*["'](@tensorflow\/|onnxruntime-node)/);
      expect(text).not.toMatch(/(import|require)\(\s*["'](@tensorflow\/|onnxruntime-node)/);
    }
  });
});
