/**
 * A short training run on the webgpu backend (Dawn; Mesa's lavapipe in CI): a width-1/8 RA-UNet-I overfits
 * one 64x64 phantom slice through the liver (inference-mode Dice > 0.9) within a bounded number of steps,
 * with the trainer the stages use. The 3D overfit test (overfit.test.ts) runs on the CPU backends: on
 * lavapipe a width-1/8 64x64x32 RA-UNet-II step takes about 10 s, so its ~30 steps would cost CI minutes.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildRAUNet } from '../../lib/model/archs.ts';
import { generatePhantom } from '../../lib/phantom/phantom.ts';
import { boundingBox, cropArray } from '../../lib/preprocess/crop.ts';
import { windowAndNormalize } from '../../lib/preprocess/window.ts';
import type { Batch } from '../../lib/training/trainer.ts';
import { overfitOneBatch } from './overfit-run.ts';
import { startWebGpu, webgpuSuiteRuns } from './webgpu-gate.ts';

const SIDE = 64;
const MAX_STEPS = 150;

/** The axial slice through the middle of a phantom's liver, 64x64 around it, windowed, with its mask. */
function liverSlice(): Batch {
  const { ct, seg } = generatePhantom({ seed: 4242, dims: [80, 80, 40], spacing: [5, 5, 7.5], tumors: 1 });
  const box = boundingBox(seg.data, seg.dims, 0);
  if (!box) throw new Error('phantom without liver');
  const z = Math.floor((box.start[2] + box.end[2]) / 2);
  const start = [0, 1].map((a) => {
    const centre = Math.floor((box.start[a]! + box.end[a]!) / 2);
    return Math.min(Math.max(0, centre - SIDE / 2), seg.dims[a]! - SIDE);
  });
  const sliceBox = {
    start: [start[0]!, start[1]!, z] as [number, number, number],
    end: [start[0]! + SIDE, start[1]! + SIDE, z + 1] as [number, number, number],
  };
  const x = cropArray(windowAndNormalize(ct).data, ct.dims, sliceBox);
  const y = Float32Array.from(cropArray(seg.data, seg.dims, sliceBox), (v) => (v > 0 ? 1 : 0));
  return { x, y, shape: [1, SIDE, SIDE, 1] };
}

const runs = await webgpuSuiteRuns('webgpu overfit');

describe.skipIf(!runs)('RA-UNet-I overfits one phantom slice on webgpu', () => {
  beforeAll(async () => {
    await startWebGpu();
  });

  it(`reaches inference-mode Dice > 0.9 within ${MAX_STEPS} steps at width 1/8`, async () => {
    expect(tf.getBackend()).toBe('webgpu');
    const slice = liverSlice();
    const fraction = slice.y.reduce((a, b) => a + b, 0) / slice.y.length;
    expect(fraction).toBeGreaterThan(0.02); // the slice really holds liver and background
    expect(fraction).toBeLessThan(0.85);
    const model = buildRAUNet('raunet1', {
      width: 0.125,
      inputShape: [SIDE, SIDE, 1],
      bnMomentum: 0,
      seed: 1,
    });
    const result = await overfitOneBatch(model, slice, MAX_STEPS);
    expect(result.bestValDice).toBeGreaterThan(0.9);
    expect(result.history.length).toBeLessThanOrEqual(MAX_STEPS);
    console.log(`webgpu overfit: Dice ${result.bestValDice.toFixed(3)} after ${result.history.length} steps`);
  }, 600_000);
});
