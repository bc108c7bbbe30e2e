/**
 * Issue #4 acceptance: a reduced-width 3D RA-UNet overfits one phantom patch (Dice > 0.9 in inference
 * mode) within a bounded number of steps on the CPU backends. Batch-norm momentum 0 makes the moving
 * statistics those of the last batch, so inference mode sees the statistics it was trained with (with the
 * Keras default 0.99 they would need hundreds of steps to converge from their initial 0/1). The patch is
 * 64x64x32, not 32^3: at 32^3 the bottleneck is a single voxel whose batch variance is 0, so training-
 * mode batch norm erases it while inference mode amplifies it (training Dice rises, inference stays ~0.2).
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildRAUNet } from '../../lib/model/archs.ts';
import { initBackend } from '../../lib/model/backend.ts';
import { generatePhantom } from '../../lib/phantom/phantom.ts';
import { boundingBox, cropArray } from '../../lib/preprocess/crop.ts';
import { windowAndNormalize } from '../../lib/preprocess/window.ts';
import type { Batch } from '../../lib/training/trainer.ts';
import type { Vec3 } from '../../lib/volume/volume.ts';
import { overfitOneBatch } from './overfit-run.ts';

/** Patch size [x, y, z]. */
const PATCH: Vec3 = [64, 64, 32];
const MAX_STEPS = 150;

/** A patch of a windowed phantom CT centred on its liver, with the liver (+tumor) mask. */
function liverPatch(): Batch {
  const { ct, seg } = generatePhantom({ seed: 4242, dims: [80, 80, 40], spacing: [5, 5, 7.5], tumors: 1 });
  const box = boundingBox(seg.data, seg.dims, 0);
  if (!box) throw new Error('phantom without liver');
  const start = box.start.map((s, a) => {
    const centre = Math.floor((s + box.end[a]!) / 2);
    return Math.min(Math.max(0, centre - PATCH[a]! / 2), seg.dims[a]! - PATCH[a]!);
  }) as Vec3;
  const patchBox = { start, end: start.map((s, a) => s + PATCH[a]!) as Vec3 };
  const x = cropArray(windowAndNormalize(ct).data, ct.dims, patchBox);
  const y = Float32Array.from(cropArray(seg.data, seg.dims, patchBox), (v) => (v > 0 ? 1 : 0));
  return { x, y, shape: [1, PATCH[2], PATCH[1], PATCH[0], 1] };
}

describe('RA-UNet-II overfits one phantom patch', () => {
  beforeAll(async () => {
    await initBackend(undefined, () => {});
  });

  it(`reaches inference-mode Dice > 0.9 within ${MAX_STEPS} steps at width 1/8 (64x64x32 patch)`, async () => {
    const patch = liverPatch();
    const fraction = patch.y.reduce((a, b) => a + b, 0) / patch.y.length;
    expect(fraction).toBeGreaterThan(0.02); // the patch really holds liver and background
    expect(fraction).toBeLessThan(0.85);
    const model = buildRAUNet('raunet2', {
      width: 0.125,
      inputShape: [PATCH[2], PATCH[1], PATCH[0], 1],
      bnMomentum: 0,
      seed: 1, // the same run every time: 29 steps (unseeded, 28-73 steps in 14 CI logs)
    });
    const result = await overfitOneBatch(model, patch, MAX_STEPS);
    expect(result.bestValDice).toBeGreaterThan(0.9);
    expect(result.history.length).toBeLessThanOrEqual(MAX_STEPS);
    expect(tf.memory().numTensors).toBeLessThan(10);
    console.log(`overfit: Dice ${result.bestValDice.toFixed(3)} after ${result.history.length} steps`);
  }, 1_200_000);
});
