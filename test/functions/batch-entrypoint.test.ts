// The Batch stage runner behind containers/batch-entrypoint.ts, on an in-memory S3 and fake engines.

import * as path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

vi.hoisted(() => {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
});

import { type BatchContext, EXIT, parseBatchArgv, runBatchStage } from '../../lib/cloud/batch-stages.ts';
import { assertGpu, GpuUnavailableError } from '../../lib/cloud/gpu-check.ts';
import { libraryCodec } from '../../lib/cloud/volume-codec.ts';
import type { InferenceEngine } from '../../lib/inference/engine.ts';
import type { LoadedModel } from '../../lib/pipeline/segment.ts';
import { decodeNifti, encodeNifti } from '../../lib/volume/nifti.ts';
import { createVolume, type Vec3 } from '../../lib/volume/volume.ts';
import { backS3WithStore } from './helpers.ts';

const s3 = mockClient(S3Client);
const store = new Map<string, Uint8Array>();
const JOB = '0123456789abcdef0123456789abcdef';
const W = `s3://work-bucket/work/${JOB}/`;
const MODELS = 's3://models-bucket/runs/20260101T000000Z-abcdef/v0/';
const DIMS: Vec3 = [40, 36, 10];

beforeEach(() => {
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true); // the runner's operator messages
  s3.reset();
  store.clear();
  backS3WithStore(s3, store);
  // A models folder with one fold per stage.
  for (const stage of ['localize', 'liver', 'tumor']) {
    store.set(
      `models-bucket/runs/20260101T000000Z-abcdef/v0/${stage}/fold-0/model.onnx`,
      new Uint8Array([1, 2, 3]),
    );
  }
  // The preprocessed CT: 0 everywhere, 0.9 in a 10x10x4 block.
  const data = new Float32Array(DIMS[0] * DIMS[1] * DIMS[2]);
  for (let k = 3; k < 7; k++)
    for (let j = 10; j < 20; j++) for (let i = 10; i < 20; i++) data[i + 40 * (j + 36 * k)] = 0.9;
  store.set(
    `work-bucket/work/${JOB}/preprocessed.nii.gz`,
    encodeNifti(createVolume(data, DIMS, [1, 1, 2]), { gzip: true }),
  );
});

afterEach(() => vi.restoreAllMocks());

/** Probability 1 where the (normalised) input is bright: the "network" finds the block. */
function thresholdEngine(backend: string): InferenceEngine {
  return {
    kind: 'onnx',
    backend,
    predict: async (input) => Float32Array.from(input, (v) => (v > 0.5 ? 1 : 0)),
    dispose: async () => {},
  };
}

/** One loaded fold model: the engine with the manifest fields the report and the patch sizes use. */
function loaded(engine: InferenceEngine, stage: string, inputShape?: number[]): LoadedModel {
  return { engine, manifest: { arch: `arch-${stage}`, inputShape, fold: 0 }, id: `${stage}/fold-0` };
}

function ctx(over: Partial<BatchContext> = {}): BatchContext & { loadedFrom: string[] } {
  const loadedFrom: string[] = [];
  return {
    s3: new S3Client({ region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } }),
    codec: libraryCodec,
    loadEngines: async (root, stage) => {
      loadedFrom.push(path.join(root, stage));
      // The 2D network's manifest says 64x64 slices; the 3D ones say nothing (paper patch sizes).
      return [loaded(thresholdEngine('onnx-cuda'), stage, stage === 'localize' ? [64, 64, 1] : undefined)];
    },
    requireGpu: true,
    loadedFrom,
    ...over,
  };
}

const localizeArgv = (over: Record<string, unknown> = {}) => [
  'localize',
  '--args',
  JSON.stringify({
    jobId: JOB,
    ct: `${W}preprocessed.nii.gz`,
    models: MODELS,
    out: `${W}localize/`,
    ...over,
  }),
];

describe('batch stages', () => {
  it('localize writes the liver box and the coarse mask on the CT grid', async () => {
    const c = ctx();
    expect(await runBatchStage(localizeArgv(), c)).toBe(EXIT.ok);
    expect(c.loadedFrom[0]).toMatch(/models[/\\]localize$/);
    const box = JSON.parse(new TextDecoder().decode(store.get(`work-bucket/work/${JOB}/localize/box.json`)!));
    expect(box.dims).toEqual(DIMS);
    // The block spans [10, 20) x [10, 20) x [3, 7); the box adds a 10-voxel margin, clamped to the volume.
    expect(box.box.start).toEqual([0, 0, 0]);
    expect(box.box.end[0]).toBeGreaterThanOrEqual(29);
    expect(box.box.end[0]).toBeLessThanOrEqual(31);
    expect(box.box.end[2]).toBe(10);
    const coarse = decodeNifti(store.get(`work-bucket/work/${JOB}/localize/coarse.nii.gz`)!, 'coarse.nii.gz');
    expect(coarse.dims).toEqual(DIMS);
    let count = 0;
    for (const v of coarse.data) if (v) count++;
    expect(count).toBeGreaterThan(300);
    expect(count).toBeLessThan(500);
  });

  it('segment-liver and segment-tumor write full-grid masks from the previous outputs', async () => {
    expect(await runBatchStage(localizeArgv(), ctx())).toBe(EXIT.ok);
    const liverArgs = {
      jobId: JOB,
      ct: `${W}preprocessed.nii.gz`,
      models: MODELS,
      out: `${W}liver/`,
      box: `${W}localize/box.json`,
    };
    expect(await runBatchStage(['segment-liver', '--args', JSON.stringify(liverArgs)], ctx())).toBe(EXIT.ok);
    const liver = decodeNifti(store.get(`work-bucket/work/${JOB}/liver/liver.nii.gz`)!, 'liver.nii.gz');
    expect(liver.dims).toEqual(DIMS);
    expect(liver.data[15 + 40 * (15 + 36 * 5)]).toBe(1); // block centre
    expect(liver.data[0]).toBe(0);
    const tumorArgs = {
      jobId: JOB,
      ct: `${W}preprocessed.nii.gz`,
      models: MODELS,
      out: `${W}tumor/`,
      liver: `${W}liver/liver.nii.gz`,
    };
    expect(await runBatchStage(['segment-tumor', '--args', JSON.stringify(tumorArgs)], ctx())).toBe(EXIT.ok);
    const tumor = decodeNifti(store.get(`work-bucket/work/${JOB}/tumor/tumor.nii.gz`)!, 'tumor.nii.gz');
    expect(tumor.dims).toEqual(DIMS);
    // Each stage says what it ran with, for the report: engine, the models' manifests, the patch size
    // (the 2D manifest's 64x64, the paper's patches where the manifests say nothing).
    const info = (stage: string) =>
      JSON.parse(new TextDecoder().decode(store.get(`work-bucket/work/${JOB}/${stage}/stage.json`)!));
    expect(info('localize')).toEqual({
      engine: { kind: 'onnx', backend: 'onnx-cuda' },
      models: [{ id: 'localize/fold-0', arch: 'arch-localize', inputShape: [64, 64, 1], fold: 0 }],
      patch: [64, 64],
    });
    expect(info('liver').patch).toEqual([224, 224, 32]);
    expect(info('tumor').patch).toEqual([128, 128, 32]);
    expect(info('tumor').models[0].id).toBe('tumor/fold-0');
  });

  it('refuses to run on a CPU fallback when a GPU is required (exit 3), and runs when it is not', async () => {
    const cpu = ctx({ loadEngines: async () => [loaded(thresholdEngine('onnx-cpu'), 'localize')] });
    expect(await runBatchStage(localizeArgv(), cpu)).toBe(EXIT.noGpu);
    expect(store.has(`work-bucket/work/${JOB}/localize/box.json`)).toBe(false);
    const cpuQueue = ctx({
      loadEngines: async () => [loaded(thresholdEngine('onnx-cpu'), 'localize')],
      requireGpu: false,
    });
    expect(await runBatchStage(localizeArgv(), cpuQueue)).toBe(EXIT.ok);
  });

  it('localize fails (exit 2) when no liver is found, writing nothing', async () => {
    const blind: InferenceEngine = {
      ...thresholdEngine('onnx-cuda'),
      predict: async (x) => new Float32Array(x.length),
    };
    const errors: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((s) => {
      errors.push(String(s));
      return true;
    });
    expect(
      await runBatchStage(
        localizeArgv(),
        ctx({ loadEngines: async () => [loaded(blind, 'localize', [64, 64, 1])] }),
      ),
    ).toBe(EXIT.badInput);
    expect(store.has(`work-bucket/work/${JOB}/localize/box.json`)).toBe(false);
    expect(errors.join('')).toMatch(/no liver found in the scan/);
  });

  it('exits 2 on bad arguments and on missing models or inputs', async () => {
    expect(await runBatchStage(['segment-pancreas', '--args', '{}'], ctx())).toBe(EXIT.badInput);
    expect(await runBatchStage(['localize', '--args', '{not json'], ctx())).toBe(EXIT.badInput);
    expect(await runBatchStage(localizeArgv({ models: 'not-a-uri' }), ctx())).toBe(EXIT.badInput);
    expect(await runBatchStage(localizeArgv({ models: 's3://models-bucket/none/' }), ctx())).toBe(
      EXIT.badInput,
    );
    expect(await runBatchStage(localizeArgv({ ct: `${W}missing.nii.gz` }), ctx())).toBe(EXIT.badInput);
  });

  it('parseBatchArgv names the problem', () => {
    expect(() => parseBatchArgv([])).toThrow(
      /unknown stage "".*localize, segment-liver, segment-tumor, segment-brats, train-fold, evaluate-ensemble/,
    );
    expect(() => parseBatchArgv(['localize'])).toThrow(/usage: localize --args/);
    expect(() => parseBatchArgv(localizeArgv({ jobId: 'x' }))).toThrow(/malformed localize arguments: jobId/);
  });

  it('train-fold fetches the dataset, trains through the library and uploads the fold folder', async () => {
    const run = '20260301T020000Z-00ab12';
    const cases = [0, 1].map((i) => ({
      volume: `s3://models-bucket/datasets/lits/volume-${i}.nii.gz`,
      segmentation: `s3://models-bucket/datasets/lits/segmentation-${i}.nii.gz`,
    }));
    for (const c of cases)
      for (const u of [c.volume, c.segmentation]) store.set(u.slice(5), new Uint8Array([7]));
    store.set(
      `models-bucket/runs/${run}/manifest.json`,
      new TextEncoder().encode(JSON.stringify({ cases, seed: 3 })),
    );
    const args = {
      runId: run,
      stage: 'liver',
      variant: 'v0',
      fold: 1,
      folds: 2,
      manifest: `s3://models-bucket/runs/${run}/manifest.json`,
      hyper: { lr: 0.001, width: 1, epochs: 2 },
      out: `s3://models-bucket/runs/${run}/v0/liver/fold-1/`,
    };
    const argv = ['train-fold', '--args', JSON.stringify(args)];
    expect(await runBatchStage(argv, ctx())).toBe(EXIT.error); // no training library in this context
    const { mkdir, readdir, writeFile } = await import('node:fs/promises');
    const training = {
      trainFold: vi.fn(async (_a: unknown, _m: unknown, outDir: string, dataDir?: string) => {
        expect((await readdir(dataDir!)).sort()).toEqual([
          'segmentation-0.nii.gz',
          'segmentation-1.nii.gz',
          'volume-0.nii.gz',
          'volume-1.nii.gz',
        ]);
        await mkdir(`${outDir}/liver/fold-1`, { recursive: true });
        await writeFile(`${outDir}/liver/fold-1/model.json`, '{}');
        await writeFile(`${outDir}/liver/fold-1/weights.bin`, new Uint8Array(8));
      }),
      evaluateEnsemble: vi.fn(),
      startBackend: vi.fn(async () => 'wasm'),
    };
    // a GPU queue refuses to train on a CPU backend before any data is fetched
    expect(await runBatchStage(argv, ctx({ training, requireGpu: true }))).toBe(EXIT.noGpu);
    expect(training.trainFold).not.toHaveBeenCalled();
    expect(await runBatchStage(argv, ctx({ training, requireGpu: false }))).toBe(EXIT.ok);
    expect(training.trainFold).toHaveBeenCalledOnce();
    expect(training.startBackend).toHaveBeenCalledTimes(2);
    expect(store.has(`models-bucket/runs/${run}/v0/liver/fold-1/model.json`)).toBe(true);
    expect(store.get(`models-bucket/runs/${run}/v0/liver/fold-1/weights.bin`)?.length).toBe(8);
  });

  it('evaluate-ensemble picks the variant with the best mean fold Dice and writes its metrics', async () => {
    const run = '20260301T020000Z-00ab12';
    const root = `models-bucket/runs/${run}`;
    const dice: Record<string, number[]> = { v0: [0.8, 0.9], v1: [0.95, 0.85] }; // means 0.85 and 0.9
    for (const [v, ds] of Object.entries(dice)) {
      ds.forEach((d, k) => {
        store.set(
          `${root}/${v}/tumor/fold-${k}/train-state.json`,
          new TextEncoder().encode(JSON.stringify({ bestDice: d })),
        );
        store.set(`${root}/${v}/tumor/fold-${k}/weights.bin`, new Uint8Array(4));
      });
    }
    const hyper = { lr: 0.0001, width: 1, epochs: 5 };
    store.set(
      `${root}/manifest.json`,
      new TextEncoder().encode(JSON.stringify({ variants: [{ variant: 'v1', hyper }] })),
    );
    const args = {
      runId: run,
      stage: 'tumor',
      manifest: `s3://${root}/manifest.json`,
      candidates: ['v0', 'v1'].map((v) => ({ variant: v, models: `s3://${root}/${v}/` })),
      out: `s3://${root}/metrics.json`,
    };
    const { trainingLibrary } = await import('../../lib/cloud/training-library.ts');
    const argv = ['evaluate-ensemble', '--args', JSON.stringify(args)];
    expect(await runBatchStage(argv, ctx({ training: trainingLibrary }))).toBe(EXIT.ok);
    const metrics = JSON.parse(new TextDecoder().decode(store.get(`${root}/metrics.json`)!));
    expect(metrics).toEqual({
      runId: run,
      stage: 'tumor',
      variant: 'v1',
      models: `s3://${root}/v1/`,
      valDice: expect.closeTo(0.9, 10),
      perFold: [0.95, 0.85],
      hyper,
    });
  });
});

describe('assertGpu', () => {
  const probe = (driver: string | null, libs: string[]) => ({ driver: () => driver, libraries: () => libs });
  const allLibs = ['libcudart.so.11.0', 'libcudnn.so.8', 'libcublas.so.11'];

  it('accepts the CUDA execution provider and tfjs-node-gpu with driver and CUDA 11 / cuDNN 8', () => {
    expect(() => assertGpu('onnx-cuda', probe(null, []))).not.toThrow();
    expect(() => assertGpu('tensorflow', probe('NVRM version: 550', allLibs))).not.toThrow();
    const h200 = {
      vendor: 'nvidia',
      architecture: 'hopper',
      device: 'NVIDIA H200',
      description: '570.1',
      software: false,
    };
    expect(assertGpu('webgpu', probe(null, []), h200)).toBe(
      'webgpu on nvidia hopper (NVIDIA H200, 570.1) GPU',
    );
  });

  it('rejects every CPU fallback with the reason', () => {
    expect(() => assertGpu('onnx-cpu', probe('x', allLibs))).toThrow(GpuUnavailableError);
    expect(() => assertGpu('wasm', probe('x', allLibs))).toThrow(/runs the wasm backend/);
    const lavapipe = {
      vendor: 'mesa',
      architecture: 'software',
      device: 'llvmpipe-llvm-15',
      description: 'llvmpipe: Mesa 25.0.7',
      software: true,
    };
    expect(() => assertGpu('webgpu', probe('x', []), lavapipe)).toThrow(/software adapter.*graphics/);
    expect(() => assertGpu('webgpu', probe('x', []), undefined)).toThrow(/without a known adapter/);
    expect(() => assertGpu('tensorflow', probe(null, allLibs))).toThrow(/no NVIDIA driver/);
    expect(() => assertGpu('tensorflow', probe('x', ['libcudart.so.11.0']))).toThrow(
      /missing libcudnn\.so\.8, libcublas\.so\.11/,
    );
  });
});
