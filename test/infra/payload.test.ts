// The segmentation workflow's execution state stays small for a large CT (512x512x900): every state's
// output is computed from the synthesized definition (ResultSelector / ResultPath applied as Step
// Functions does for JSONPath) and the real step logic, with fakes standing in for the voxel work.
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

vi.hoisted(() => {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
});

import type { JobStore } from '../../lib/cloud/job-store.ts';
import type { ModelRegistry } from '../../lib/cloud/model-registry.ts';
import { finalizeJob, ingest, windowScan } from '../../lib/cloud/segmentation.ts';
import type { VolumeCodec } from '../../lib/cloud/volume-codec.ts';
import { createVolume, type Vec3, type Volume } from '../../lib/volume/volume.ts';
import { type Cfn, definitionOf, resourcesOf, type Synth, synthEnv } from './synth.ts';

const LIMIT = 256 * 1024;
const LARGE: Vec3 = [512, 512, 900];
const JOB = 'fedcba9876543210fedcba9876543210';

let s: Synth;
beforeAll(async () => {
  s = await synthEnv('dev');
});
afterAll(() => s?.cleanup());

// --- a minimal JSONPath evaluator for the paths the definitions use ($.a.b) ---------------------------
function get(obj: unknown, path: string): unknown {
  if (path === '$') return obj;
  return path
    .replace(/^\$\./, '')
    .split('.')
    .reduce<unknown>((o, k) => (o as Record<string, unknown>)?.[k], obj);
}
function set(obj: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  if (path === '$') return value as Record<string, unknown>;
  const out = structuredClone(obj);
  const keys = path.replace(/^\$\./, '').split('.');
  let o = out;
  for (const k of keys.slice(0, -1)) o = (o[k] ??= {}) as Record<string, unknown>;
  o[keys.at(-1)!] = value;
  return out;
}
function select(selector: Record<string, string>, result: unknown): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(selector).map(([k, v]) => (k.endsWith('.$') ? [k.slice(0, -2), get(result, v)] : [k, v])),
  );
}
/** Output of a Task/Pass state for `input` and the integration's raw `result`. */
function stateOutput(state: Cfn, input: Record<string, unknown>, result: unknown) {
  const selected = state.ResultSelector ? select(state.ResultSelector, result) : result;
  if (state.ResultPath === null) return input;
  return set(input, state.ResultPath ?? '$', selected);
}

/** What `DescribeJobs` returns for a finished job (the `.sync` integration's raw result), realistic size. */
function describeJob(name: string) {
  return {
    JobArn: `arn:aws:batch:eu-west-1:123456789012:job/${'a'.repeat(36)}`,
    JobName: name,
    JobId: 'b'.repeat(36),
    JobQueue: 'arn:aws:batch:eu-west-1:123456789012:job-queue/GpuQueue',
    Status: 'SUCCEEDED',
    Attempts: Array.from({ length: 3 }, (_, i) => ({
      Container: {
        ContainerInstanceArn: 'c'.repeat(90),
        TaskArn: 'd'.repeat(90),
        ExitCode: i === 2 ? 0 : 137,
        LogStreamName: `${name}/default/${'e'.repeat(32)}`,
        NetworkInterfaces: [],
      },
      StartedAt: 1,
      StoppedAt: 2,
      StatusReason: i === 2 ? 'Essential container in task exited' : 'Host EC2 (instance i-0123) terminated.',
    })),
    StatusReason: 'Essential container in task exited',
    CreatedAt: 1,
    StartedAt: 2,
    StoppedAt: 3,
    Parameters: {
      args: JSON.stringify({
        jobId: JOB,
        ct: `s3://in/work/${JOB}/preprocessed.nii.gz`,
        models: 's3://m/runs/x/',
        out: 's3://in/work/x/',
      }),
    },
    Container: {
      Image: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/cdk-hnb659fds-container-assets:${'f'.repeat(64)}`,
      Command: [name, '--args', '{}'],
      Environment: Array.from({ length: 10 }, (_, i) => ({ Name: `VAR_${i}`, Value: 'v'.repeat(40) })),
      ResourceRequirements: [
        { Type: 'GPU', Value: '1' },
        { Type: 'VCPU', Value: '4' },
        { Type: 'MEMORY', Value: '14000' },
      ],
      ExitCode: 0,
      LogStreamName: `${name}/default/${'e'.repeat(32)}`,
    },
    Tags: {},
    PlatformCapabilities: ['EC2'],
  };
}

/**
 * Voxels of a scan too large to allocate: the length its dims say and CT-like values by index (30% air,
 * 60% soft tissue, 10% bone), which is all the ingest step's input checks read.
 */
function shapeOnlyCt(dims: Vec3): Int16Array {
  const length = dims[0] * dims[1] * dims[2];
  const hu = (i: number) => {
    const k = i % 10;
    return k < 3 ? -1000 : k < 9 ? 60 : 600;
  };
  return new Proxy(new Int16Array(1), {
    get: (target, key) => {
      if (key === 'length') return length;
      if (typeof key === 'string' && /^\d+$/.test(key)) return hu(Number(key));
      return Reflect.get(target, key);
    },
  });
}

function fakes(scanDims: Vec3) {
  const source: Volume = {
    data: shapeOnlyCt(scanDims),
    dims: scanDims,
    spacing: [0.7, 0.7, 1],
    affine: createVolume(new Int16Array(1), [1, 1, 1]).affine,
    dtype: 'int16',
  };
  const codec: VolumeCodec = {
    decodeScan: async () => source,
    decodeScanWithInfo: async () => ({ volume: source }),
    decodeNifti: () => source,
    encodeNifti: () => new Uint8Array(16),
    windowAndNormalize: (v) =>
      ({ ...v, data: new Float32Array(1), dtype: 'float32' }) as Volume<Float32Array>,
    previewPng: () => new Uint8Array(16),
  };
  // Every object is 8 bytes, except the stages' small JSON files (box, stage info) finalize reads.
  const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
  const stageJson = json({
    engine: { kind: 'onnx', backend: 'onnx-cuda' },
    models: Array.from({ length: 5 }, (_, k) => ({ id: `liver/fold-${k}`, arch: 'raunet2', fold: k })),
    patch: [224, 224, 32],
  });
  const boxJson = json({ box: { start: [0, 0, 0], end: [24, 20, 6] }, dims: [24, 20, 6] });
  const s3 = {
    send: async (cmd: { input: { Key?: string } }) => {
      const key = cmd.input.Key ?? '';
      const bytes = key.endsWith('stage.json')
        ? stageJson
        : key.endsWith('box.json')
          ? boxJson
          : new Uint8Array(8);
      return { Body: { transformToByteArray: async () => bytes }, ContentLength: bytes.length };
    },
  } as unknown as S3Client;
  const jobs = {
    create: async () => 'created',
    setStep: async () => {},
    succeed: async () => {},
    fail: async () => 'failed',
  } as unknown as JobStore;
  const models = {
    current: async () =>
      Object.fromEntries(
        ['localize', 'liver', 'tumor'].map((st) => [
          st,
          {
            stage: st,
            runId: 'r',
            models: `s3://models-bucket/runs/20260101T000000Z-abcdef/v0/`,
            valDice: 0.9,
          },
        ]),
      ),
  } as unknown as ModelRegistry;
  return {
    s3,
    jobs,
    models,
    codec,
    viewerScript: async () => new Uint8Array(16),
    resultsBucket: 'results-bucket',
    workBucket: 'work-bucket',
  };
}

describe('execution state size', () => {
  it('stays far below 256 KB through every state for a 512x512x900 CT', async () => {
    const def = definitionOf(
      resourcesOf(s.json, 'AWS::StepFunctions::StateMachine').find(([, m]) =>
        JSON.stringify(m).includes('Ingest'),
      )![1],
    );
    const deps = fakes(LARGE);
    // Worst-case key length (S3 allows 1024 bytes).
    let state: Record<string, unknown> = {
      jobId: JOB,
      source: {
        bucket: 'raunet-input-bucket',
        key: `${'k'.repeat(1016)}.nii.gz`,
        versionId: 'v'.repeat(32),
        size: 470_000_000,
      },
    };
    const sizes: Record<string, number> = {};
    let name = def.StartAt as string;
    while (def.States[name].Type !== 'Succeed') {
      const st = def.States[name];
      let next = st.Next as string;
      if (st.Type === 'Choice') {
        next =
          get(state, st.Choices[0].Variable) === st.Choices[0].StringEquals ? st.Choices[0].Next : st.Default;
      } else {
        let result: unknown;
        // A Lambda task (payload-only integration) receives its Parameters evaluated against the state.
        const payload = st.Parameters ? (select(st.Parameters, state) as never) : (state as never);
        if (name === 'Ingest') result = await ingest(deps, payload);
        else if (name === 'Window') result = await windowScan(deps, payload);
        else if (name === 'Finalize') {
          // The voxel work of finalize runs for real on a small grid; its output holds only URIs and numbers.
          result = await finalizeJob(realFinalizeDeps(), payload);
        } else result = describeJob(name);
        state = stateOutput(st, state, result);
      }
      sizes[name] = Buffer.byteLength(JSON.stringify(state));
      name = next;
    }
    expect(Object.keys(sizes)).toEqual([
      'Ingest',
      'NewJob?',
      'Window',
      'Localize',
      'SegmentLiver',
      'SegmentTumor',
      'Finalize',
    ]);
    for (const [n, size] of Object.entries(sizes)) expect(size, n).toBeLessThan(LIMIT / 32); // < 8 KB
    // The dims of the large CT travel as three numbers, the step times as numbers.
    expect((state.window as { dims: Vec3 }).dims).toEqual(LARGE);
    expect((state.batch as Record<string, { startedAt: number; stoppedAt: number }>).tumor).toMatchObject({
      startedAt: 2,
      stoppedAt: 3,
    });
    // A Batch failure's Cause (the whole DescribeJobs JSON) on the Catch path still fits easily.
    const failing = stateOutput({ ResultPath: '$.error' }, state, {
      Error: 'States.TaskFailed',
      Cause: JSON.stringify(describeJob('SegmentTumor')),
    });
    expect(Buffer.byteLength(JSON.stringify(failing))).toBeLessThan(LIMIT / 16);
  });
});

/** finalize with real voxel work on a small grid (stage masks in an in-memory S3). */
function realFinalizeDeps() {
  const d = fakes(LARGE);
  const dims: Vec3 = [24, 20, 6];
  const ct = createVolume(new Int16Array(24 * 20 * 6), dims);
  const mask = createVolume(new Uint8Array(24 * 20 * 6).fill(1), dims);
  return {
    ...d,
    codec: {
      ...d.codec,
      decodeScan: async () => ct,
      decodeScanWithInfo: async () => ({ volume: ct }),
      decodeNifti: () => mask,
    },
  };
}
