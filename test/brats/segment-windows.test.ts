/**
 * The brain-tumour sliding-window inference (`lib/brats/segment.ts`) with test-double engines whose answer
 * is known voxel by voxel, so any mistake in the channel interleaving, window placement, blending, mirroring
 * or pasting shows up as a wrong voxel.
 */
import { describe, expect, it } from 'vitest';
import { type BratsModel, brainBox, ensembleThreshold, segmentBrainTumour } from '../../lib/brats/segment.ts';
import type { InferenceEngine } from '../../lib/inference/engine.ts';
import type { ModelManifest } from '../../lib/model/storage.ts';
import { predictEnsemble } from '../../lib/pipeline/windows.ts';
import type { Vec3 } from '../../lib/volume/volume.ts';

/** An engine that answers, for every voxel, channel `channel` of its input (channels last). */
function channelEngine(channel: number, calls: number[][] = []): InferenceEngine {
  return {
    kind: 'onnx',
    backend: 'test',
    async predict(input, shape) {
      calls.push([...shape]);
      const c = shape[shape.length - 1]!;
      const out = new Float32Array(input.length / c);
      for (let v = 0; v < out.length; v++) out[v] = input[v * c + channel]!;
      return out;
    },
    async dispose() {},
  };
}

function model(engine: InferenceEngine, patch: Vec3, threshold?: number): BratsModel {
  const manifest: ModelManifest = {
    arch: 'raunet2-brain',
    width: 1,
    inputShape: [patch[2], patch[1], patch[0], 4],
    stage: 'brats',
    createdAt: '2026-01-01T00:00:00Z',
    ...(threshold === undefined ? {} : { threshold }),
  };
  return { engine, manifest, id: 'brats/fold-0' };
}

const dims: Vec3 = [20, 18, 14];
const n = dims[0] * dims[1] * dims[2];
const at = (x: number, y: number, z: number) => x + dims[0] * (y + dims[1] * z);

/**
 * Four channels with distinct values: channel k of voxel (x, y, z) is a different function of the position,
 * zero outside the "brain" box x 3..16, y 2..15, z 1..12 (exclusive ends).
 */
function scene() {
  const raw = [0, 1, 2, 3].map(() => new Float32Array(n));
  for (let z = 1; z < 13; z++)
    for (let y = 2; y < 16; y++)
      for (let x = 3; x < 17; x++) {
        const i = at(x, y, z);
        raw[0]![i] = 0.1 + 0.01 * x;
        raw[1]![i] = 0.2 + 0.01 * y;
        raw[2]![i] = 0.3 + 0.01 * z;
        // FLAIR: a bright sphere of radius 4 around (9, 8, 6), 0.2 elsewhere in the brain
        raw[3]![i] = (x - 9) ** 2 + (y - 8) ** 2 + (z - 6) ** 2 <= 16 ? 0.9 : 0.2;
      }
  return raw;
}

/** The brain of a scene: voxels non-zero in channel 0. */
function brainOf(channels: Float32Array[]): Uint8Array {
  return Uint8Array.from(channels[0]!, (v) => (v !== 0 ? 1 : 0));
}

describe('brainBox', () => {
  it('is the box of the brain mask', () => {
    const brain = new Uint8Array(n);
    brain[at(2, 3, 4)] = 1;
    brain[at(7, 9, 11)] = 1;
    expect(brainBox(brain, dims)).toEqual({ start: [2, 3, 4], end: [8, 10, 12] });
    expect(brainBox(new Uint8Array(n), dims)).toBeNull();
  });
});

describe('predictEnsemble with four channels', () => {
  it('mirrors the channels-last input as one block per voxel (TTA gives back a voxel-wise answer)', async () => {
    // [1, z 3, y 2, x 5, c 4]; channel 2 holds a ramp, the others noise
    const shape = [1, 3, 2, 5, 4];
    const voxels = 30;
    const input = new Float32Array(voxels * 4);
    for (let v = 0; v < voxels; v++)
      for (let c = 0; c < 4; c++) input[v * 4 + c] = c === 2 ? v / 100 : Math.sin(7 * v + c);
    const out = await predictEnsemble([channelEngine(2)], input, shape, true);
    const want = Array.from({ length: voxels }, (_, v) => v / 100);
    expect([...out].map((x) => +x.toFixed(6))).toEqual(want.map((x) => +x.toFixed(6)));
  });
});

describe('segmentBrainTumour', () => {
  const raw = scene();
  const truth = new Uint8Array(n);
  let truthCount = 0;
  for (let i = 0; i < n; i++)
    if (raw[3]![i]! >= 0.5) {
      truth[i] = 1;
      truthCount++;
    }

  it('gives the voxel rule of a voxel-wise model on every voxel, for any overlap, with and without TTA', async () => {
    // a sphere of radius 4 holds 257 voxels (counted by hand over the integer offsets)
    expect(truthCount).toBe(257);
    for (const [overlap, tta] of [
      [0.5, false],
      [0, true],
      [0.25, false],
    ] as const) {
      const calls: number[][] = [];
      const r = await segmentBrainTumour(
        raw,
        brainOf(raw),
        dims,
        [model(channelEngine(3, calls), [8, 8, 8])],
        {
          overlap,
          tta,
        },
      );
      expect(r.brain).toEqual({ start: [3, 2, 1], end: [17, 16, 13] });
      expect(r.threshold).toBe(0.5);
      expect([...r.mask]).toEqual([...truth]);
      // probabilities are the FLAIR itself inside the brain, 0 outside
      for (const i of [at(9, 8, 6), at(3, 2, 1), at(0, 0, 0), at(19, 17, 13)])
        expect(r.probability[i]).toBeCloseTo(raw[3]![i]!, 5);
      // windows over the 14x14x12 brain box: x and y start at 0, 4, 6 and z at 0, 4 with overlap 0.5 (step
      // 4); at overlap 0 (step 8) and 0.25 (step 6) x and y start at 0, 6 and z at 0, 4
      const perAxis = overlap === 0.5 ? [3, 3, 2] : [2, 2, 2];
      const windows = perAxis[0]! * perAxis[1]! * perAxis[2]!;
      expect(r.windows).toBe(windows);
      expect(calls.length).toBe(windows * (tta ? 8 : 1));
      expect(calls[0]).toEqual([1, 8, 8, 8, 4]);
    }
  });

  it('reads the channel the model asks for: channel 0 gives the x ramp, not the tumour', async () => {
    // channel 0 is 0.1 + 0.01 x >= 0.195 for x >= 10 inside the brain
    const r = await segmentBrainTumour(raw, brainOf(raw), dims, [model(channelEngine(0), [8, 8, 8], 0.195)], {
      batchSize: 3,
    });
    let expected = 0;
    for (let z = 1; z < 13; z++)
      for (let y = 2; y < 16; y++)
        for (let x = 3; x < 17; x++) {
          const want = x >= 10 ? 1 : 0;
          expected += want;
          expect(r.mask[at(x, y, z)], `voxel ${x},${y},${z}`).toBe(want);
        }
    expect(r.mask.reduce((a, b) => a + b, 0)).toBe(expected);
  });

  it('averages the folds and keeps every focus unless the largest component is asked for', async () => {
    // FLAIR with two foci: a 3x3x3 cube (27 voxels) and a single voxel, far apart
    const two = scene();
    two[3]!.fill(0);
    for (let z = 1; z < 13; z++)
      for (let y = 2; y < 16; y++) for (let x = 3; x < 17; x++) two[3]![at(x, y, z)] = 0.1;
    for (let z = 2; z < 5; z++)
      for (let y = 3; y < 6; y++) for (let x = 4; x < 7; x++) two[3]![at(x, y, z)] = 1;
    two[3]![at(15, 14, 11)] = 1;
    // two folds: one reads FLAIR, one the z ramp (0.31..0.42 inside); their mean crosses 0.5 only on
    // the foci (1 + 0.3 + 0.01 z) / 2 >= 0.65, elsewhere (0.1 + 0.42) / 2 < 0.5
    const folds = [model(channelEngine(3), [8, 8, 8]), model(channelEngine(2), [8, 8, 8])];
    const both = await segmentBrainTumour(two, brainOf(two), dims, folds);
    expect(both.mask.reduce((a, b) => a + b, 0)).toBe(28);
    const largest = await segmentBrainTumour(two, brainOf(two), dims, folds, { largestComponent: true });
    expect(largest.mask.reduce((a, b) => a + b, 0)).toBe(27);
    expect(largest.mask[at(15, 14, 11)]).toBe(0);
  });

  it('uses the mean of the manifests’ thresholds and refuses models of another channel count', async () => {
    expect(
      ensembleThreshold([model(channelEngine(0), [8, 8, 8], 0.4), model(channelEngine(0), [8, 8, 8], 0.6)]),
    ).toBeCloseTo(0.5);
    await expect(
      segmentBrainTumour(raw.slice(0, 3), brainOf(raw), dims, [model(channelEngine(0), [8, 8, 8])]),
    ).rejects.toThrow(/take 4 channels, the subject has 3/);
  });
});
