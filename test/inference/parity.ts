/**
 * ONNX export parity on the real RA-UNet configurations: random weights (BN moving statistics
 * included), random input, ONNX Runtime vs tfjs; max |diff| of probabilities <= 1e-4 and identical
 * thresholded segmentations. Shared by the parity-*.test.ts files (split so they run in parallel).
 */
import * as ort from 'onnxruntime-node';
import { expect } from 'vitest';
import { exportToOnnx } from '../../lib/inference/onnx-export.ts';
import { type ArchName, buildRAUNet } from '../../lib/model/archs.ts';
import { maxAbsDiff, randomArray, randomizeWeights, rng, tfjsForwardYielding } from './helpers.ts';

export async function checkParity(
  arch: ArchName,
  inputShape: number[],
  width: number,
  seed: number,
  input?: Float32Array,
) {
  const model = buildRAUNet(arch, { inputShape, width });
  randomizeWeights(model, seed);
  const shape = [1, ...inputShape];
  const x =
    input ??
    randomArray(
      shape.reduce((a, b) => a * b, 1),
      0,
      1,
      rng(seed + 100),
    );
  expect(x.length).toBe(shape.reduce((a, b) => a * b, 1));
  const want = await tfjsForwardYielding(model, x, shape);
  const session = await ort.InferenceSession.create(exportToOnnx(model));
  const out = await session.run({ input: new ort.Tensor('float32', x, shape) });
  const got = out.output!.data as Float32Array;
  await session.release();
  expect(out.output!.dims).toEqual([...shape.slice(0, -1), 1]);
  expect(maxAbsDiff(got, want)).toBeLessThanOrEqual(1e-4);
  // thresholded segmentations identical
  let differ = 0;
  for (let i = 0; i < got.length; i++) if (got[i]! > 0.5 !== want[i]! > 0.5) differ++;
  expect(differ).toBe(0);
  // the random weights must give a non-trivial output, or the comparison would prove little
  let lo = 1;
  let hi = 0;
  for (const v of want) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  expect(hi - lo).toBeGreaterThan(0.05);
  model.dispose();
}
