/**
 * ONNX export parity on the real RA-UNet configurations: random weights (BN moving statistics
 * included), random input, ONNX Runtime vs tfjs; max |diff| of probabilities <= 1e-4 and identical
 * thresholded segmentations. Shared by the parity-*.test.ts files (split so they run in parallel).
 */
import * as ort from 'onnxruntime-node';
import { expect } from 'vitest';
import { exportToOnnx } from '../../lib/inference/onnx-export.ts';
import { type ArchName, buildRAUNet } from '../../lib/model/archs.ts';
import { generatePhantom } from '../../lib/phantom/phantom.ts';
import { type Box3, boundingBox, cropArray } from '../../lib/preprocess/crop.ts';
import { windowAndNormalize } from '../../lib/preprocess/window.ts';
import type { Vec3, VoxelArray } from '../../lib/volume/volume.ts';
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

/**
 * The phantom CT of the phantom parity tests (64x64x48, two tumors), its windowed and normalised image
 * and the centre voxel (x, y, z) of its liver's bounding box.
 */
export function phantomCase() {
  const { ct, seg } = generatePhantom({ seed: 5, dims: [64, 64, 48], tumors: 2 });
  const liver = boundingBox(seg.data, seg.dims);
  if (!liver) throw new Error('phantom without liver');
  const centre = liver.start.map((s, a) => Math.floor((s + liver.end[a]!) / 2)) as Vec3;
  return { ct, image: windowAndNormalize(ct).data, centre };
}

/** The `size` (x, y, z) crop of an x-fastest array centred on `centre`, shifted to fit inside `dims`. */
export function cropAround<T extends VoxelArray>(data: T, dims: Vec3, centre: Vec3, size: Vec3): T {
  const start = centre.map((c, a) =>
    Math.min(Math.max(0, c - Math.floor(size[a]! / 2)), dims[a]! - size[a]!),
  ) as Vec3;
  const box: Box3 = { start, end: start.map((s, a) => s + size[a]!) as Vec3 };
  return cropArray(data, dims, box);
}
