/**
 * The Lambda bundles as they ship: every handler bundled by the CDK's own local esbuild run (the
 * PipelineFunction construct, never Docker), and the ingest bundle run in a child Node.js process outside
 * the repository (only the AWS SDK is provided, as the Lambda runtime does) on a JPEG 2000 DICOM series
 * from S3 (emulated): the OpenJPEG decoder and its WebAssembly must be inside the bundle folder.
 */
import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { CreateTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { App, Stack } from 'aws-cdk-lib';
import { zipSync } from 'fflate';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../lib/infra/config.ts';
import { REPO_ROOT } from '../../lib/infra/paths.ts';
import { CODEC_WASM, PipelineFunction } from '../../lib/infra/pipeline-function.ts';
import { clients, emulatorEnv, startEmulators } from '../../lib/localcloud/emulators.ts';
import { promoteStandInModels } from '../e2e/helpers.ts';

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
const J2K_SERIES = path.join(REPO_ROOT, '../shared/data/dicom/ct-jpeg2000');
const outdir = mkdtempSync(path.join(tmpdir(), 'raunet-bundle-'));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

const bundles: Record<string, string> = {};

describe('Lambda bundling', () => {
  it('bundles each handler to an ESM file with esbuild, outside Docker, with the JPEG 2000 decoder', async () => {
    const app = new App({ outdir });
    const stack = new Stack(app, 'Bundles');
    const config = resolveConfig({ env: 'dev' });
    for (const handler of HANDLERS) {
      // finalize carries the viewer page's script (as segmentation-workflow.ts builds it)
      const viewerScript = handler === 'finalize';
      const f = new PipelineFunction(stack, handler, { config, handler, description: handler, viewerScript });
      // The staged asset folder holds what Lambda runs.
      const code = f.fn.node.findChild('Code') as unknown as { assetPath: string };
      bundles[handler] = path.join(outdir, code.assetPath);
      await new Promise((r) => setTimeout(r, 10)); // let the test worker breathe between bundles
    }
    for (const [handler, dir] of Object.entries(bundles)) {
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
      // No runtime require of a codec package (the bundle has no node_modules), their wasm beside it.
      expect(text, handler).not.toContain('@cornerstonejs/codec-');
      expect(text, handler).not.toContain('jpeg-lossless-decoder-js');
      for (const wasm of CODEC_WASM) expect(readdirSync(dir), handler).toContain(path.basename(wasm));
      // The job's viewer folder needs viewer.js beside index.mjs (lib/cloud/job-viewer.ts), and no
      // bundler inside the Lambda.
      expect(existsSync(path.join(dir, 'viewer.js')), handler).toBe(handler === 'finalize');
      expect(text, handler).not.toMatch(/require\(["']esbuild["']\)/);
    }
    const viewerJs = readFileSync(path.join(bundles.finalize, 'viewer.js'), 'utf8');
    expect(viewerJs.length).toBeGreaterThan(100_000); // niivue bundled in
    expect(viewerJs).toContain('raunetViewer');
  }, 300_000);

  it('the ingest bundle decodes a JPEG 2000 DICOM series (.zip) from S3 in a plain Node.js process', async () => {
    const ingest = bundles.ingest;
    expect(ingest).toBeDefined();
    const dataDir = mkdtempSync(path.join(tmpdir(), 'raunet-bundle-s3-'));
    const emulators = await startEmulators(dataDir);
    try {
      const { s3, ddb } = clients(emulators);
      await s3.send(new CreateBucketCommand({ Bucket: 'input' }));
      const files = Object.fromEntries(
        readdirSync(J2K_SERIES).map((f) => [f, new Uint8Array(readFileSync(path.join(J2K_SERIES, f)))]),
      );
      const zip = zipSync(files);
      await s3.send(new PutObjectCommand({ Bucket: 'input', Key: 'incoming/j2k.zip', Body: zip }));
      const table = (name: string, keys: string[]) =>
        ddb.send(
          new CreateTableCommand({
            TableName: name,
            BillingMode: 'PAY_PER_REQUEST',
            KeySchema: keys.map((k, i) => ({ AttributeName: k, KeyType: i === 0 ? 'HASH' : 'RANGE' })),
            AttributeDefinitions: keys.map((k) => ({ AttributeName: k, AttributeType: 'S' })),
          }),
        );
      await table('jobs', ['jobId']);
      await table('models', ['stage', 'runId']);
      await promoteStandInModels(ddb, 'models');
      (s3 as S3Client).destroy();
      (ddb as DynamoDBClient).destroy();

      // The Lambda runtime provides the AWS SDK v3, nothing else.
      mkdirSync(path.join(outdir, 'node_modules'), { recursive: true });
      symlinkSync(
        path.join(REPO_ROOT, 'node_modules', '@aws-sdk'),
        path.join(outdir, 'node_modules', '@aws-sdk'),
      );
      const driver = path.join(outdir, 'drive.mjs');
      writeFileSync(
        driver,
        [
          'const { handler } = await import(process.argv[2]);',
          "const context = { awsRequestId: 'r', functionName: 'ingest', getRemainingTimeInMillis: () => 60000 };",
          'const out = await handler(JSON.parse(process.argv[3]), context);',
          'process.stdout.write(JSON.stringify(out));',
        ].join('\n'),
      );
      const jobId = '0123456789abcdef0123456789abcdef';
      const event = {
        jobId,
        attempt: 1,
        execution: `seg-${jobId}`,
        source: { bucket: 'input', key: 'incoming/j2k.zip', size: zip.length },
      };
      const { stdout } = await promisify(execFile)(
        process.execPath,
        [driver, path.join(ingest, 'index.mjs'), JSON.stringify(event)],
        {
          cwd: outdir,
          env: {
            PATH: process.env.PATH,
            ...emulatorEnv(emulators),
            JOBS_TABLE: 'jobs',
            MODELS_TABLE: 'models',
            RESULTS_BUCKET: 'results',
            WORK_BUCKET: 'work',
            POWERTOOLS_LOG_LEVEL: 'ERROR',
          },
          timeout: 120_000,
        },
      );
      const out = JSON.parse(stdout);
      expect(out.status).toBe('CREATED');
      // 20 slices of 512x512 (the series' Rows, Columns and file count).
      expect(out.dims).toEqual([512, 512, 20]);
      expect(out.plan.preprocessed).toBe(`s3://work/work/${jobId}/preprocessed.nii.gz`);
    } finally {
      await emulators.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 180_000);
});
