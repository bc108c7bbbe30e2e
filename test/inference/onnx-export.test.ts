import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import {
  batchNormAffine,
  convertToOnnx,
  type ExportOptions,
  exportToOnnx,
  kernelToOnnx,
  type UpsampledConvForm,
} from '../../lib/inference/onnx-export.ts';
import { BatchNormND, UpSampling3D } from '../../lib/model/layers.ts';
import { maxAbsDiff, randomArray, randomizeWeights, rng, tfjsForward } from './helpers.ts';

type Sym = tf.SymbolicTensor;
const L = tf.layers;

async function onnxForward(
  model: tf.LayersModel,
  x: Float32Array,
  shape: number[],
  opts?: ExportOptions,
): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(exportToOnnx(model, opts));
  try {
    const out = await session.run({ input: new ort.Tensor('float32', x, shape) });
    return Float32Array.from(out.output!.data as Float32Array);
  } finally {
    await session.release();
  }
}

/** Exports `model`, runs both engines on the same seeded random input, returns max |diff|. */
async function parity(
  model: tf.LayersModel,
  shape: number[],
  seed = 7,
  opts?: ExportOptions,
): Promise<number> {
  randomizeWeights(model, seed);
  const x = randomArray(
    shape.reduce((a, b) => a * b, 1),
    -1,
    1,
    rng(seed + 1),
  );
  const want = tfjsForward(model, x, shape);
  const got = await onnxForward(model, x, shape, opts);
  return maxAbsDiff(got, want);
}

const opCount = (model: tf.LayersModel, op: string) =>
  convertToOnnx(model).graph.nodes.filter((n) => n.opType === op).length;

describe('weight layout helpers', () => {
  it('moves a tfjs kernel [kh, kw, in, out] to ONNX [out, in, kh, kw]', () => {
    // kernel value = 1000*kh + 100*kw + 10*in + out, shape [2, 3, 2, 4]
    const shape = [2, 3, 2, 4];
    const k = new Float32Array(2 * 3 * 2 * 4);
    let p = 0;
    for (let a = 0; a < 2; a++)
      for (let b = 0; b < 3; b++)
        for (let i = 0; i < 2; i++) for (let o = 0; o < 4; o++) k[p++] = 1000 * a + 100 * b + 10 * i + o;
    const w = kernelToOnnx(k, shape);
    // ONNX index ((o * 2 + i) * 2 + a) * 3 + b
    expect(w[((3 * 2 + 1) * 2 + 1) * 3 + 2]).toBe(1000 + 200 + 10 + 3);
    expect(w[((0 * 2 + 1) * 2 + 0) * 3 + 1]).toBe(100 + 10);
    expect(w[((2 * 2 + 0) * 2 + 1) * 3 + 0]).toBe(1000 + 2);
  });

  it('computes the inference-mode BN affine map', () => {
    // gamma 2, var 3, eps 1 -> scale 2 / 2 = 1; beta 1, mean 4 -> offset 1 - 4 = -3
    const a = batchNormAffine([2, 1], [1, 0], [4, 0], [3, 0.25], 1);
    expect(Array.from(a.scale)).toEqual([1, 1 / Math.sqrt(1.25)]);
    expect(Array.from(a.offset)).toEqual([-3, 0]);
  });
});

describe('exportToOnnx on small graphs', () => {
  it('2D conv/BN/ReLU/pool/upsample/concat graph matches tfjs, BN after conv folded', async () => {
    const x = tf.input({ shape: [16, 16, 2], name: 'input' });
    const c1 = L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'c1' }).apply(x) as Sym;
    const r1 = L.activation({ activation: 'relu' }).apply(
      L.batchNormalization({ name: 'bn_after_conv' }).apply(c1),
    ) as Sym;
    const p = L.maxPooling2d({ poolSize: 2 }).apply(r1) as Sym;
    const b2 = L.batchNormalization({ name: 'bn_after_pool' }).apply(p) as Sym;
    const c2 = L.conv2d({ filters: 6, kernelSize: 3, padding: 'same' }).apply(L.reLU().apply(b2)) as Sym;
    const up = L.upSampling2d({ size: [2, 2] }).apply(c2) as Sym;
    const cat = L.concatenate().apply([up, r1]) as Sym;
    const y = L.conv2d({ filters: 1, kernelSize: 1, activation: 'sigmoid' }).apply(cat) as Sym;
    const model = tf.model({ inputs: x, outputs: y });
    expect(await parity(model, [2, 16, 16, 2])).toBeLessThan(1e-5);
    const converted = convertToOnnx(model);
    expect(converted.foldedBatchNorms).toEqual(['bn_after_conv']);
    expect(opCount(model, 'BatchNormalization')).toBe(1);
    expect(opCount(model, 'Transpose')).toBe(2);
    model.dispose();
  });

  it('folds a BN into a following conv only when the conv pads nothing', async () => {
    const x = tf.input({ shape: [12, 12, 3], name: 'input' });
    const r = L.activation({ activation: 'relu' }).apply(x) as Sym;
    // two consumers of r: neither BN can fold backwards (r is not a conv)
    const bnA = L.batchNormalization({ name: 'bn_into_1x1' }).apply(r) as Sym;
    const a = L.conv2d({ filters: 4, kernelSize: 1, padding: 'same' }).apply(bnA) as Sym;
    const bnB = L.batchNormalization({ name: 'bn_into_valid' }).apply(r) as Sym;
    const b = L.conv2d({ filters: 4, kernelSize: 3, padding: 'valid' }).apply(bnB) as Sym;
    const bnC = L.batchNormalization({ name: 'bn_before_padded' }).apply(r) as Sym;
    const c = L.conv2d({ filters: 4, kernelSize: 3, padding: 'same' }).apply(bnC) as Sym;
    const model = tf.model({ inputs: x, outputs: [L.add().apply([a, c]) as Sym, b] });
    const converted = convertToOnnx(model);
    expect(converted.foldedBatchNorms.sort()).toEqual(['bn_into_1x1', 'bn_into_valid']);
    expect(converted.graph.nodes.filter((n) => n.opType === 'BatchNormalization').map((n) => n.name)).toEqual(
      ['bn_before_padded'],
    );
    // numerically: check both outputs
    randomizeWeights(model, 3);
    const shape = [1, 12, 12, 3];
    const xin = randomArray(12 * 12 * 3, -2, 2, rng(4));
    const session = await ort.InferenceSession.create(exportToOnnx(model));
    const out = await session.run({ input: new ort.Tensor('float32', xin, shape) });
    const want = tf.tidy(() =>
      (model.predict(tf.tensor(xin, shape)) as tf.Tensor[]).map((t) => t.dataSync()),
    );
    expect(maxAbsDiff(out.output_0!.data as Float32Array, want[0]!)).toBeLessThan(1e-4);
    expect(maxAbsDiff(out.output_1!.data as Float32Array, want[1]!)).toBeLessThan(1e-4);
    expect(out.output_1!.dims).toEqual([1, 10, 10, 4]);
    await session.release();
    model.dispose();
  });

  it('does not fold into a conv whose output is also used elsewhere', async () => {
    const x = tf.input({ shape: [8, 8, 2], name: 'input' });
    const c = L.conv2d({ filters: 3, kernelSize: 3, padding: 'same' }).apply(x) as Sym;
    const bn = L.batchNormalization({ name: 'bn_shared' }).apply(c) as Sym;
    const y = L.add().apply([bn, c]) as Sym;
    const model = tf.model({ inputs: x, outputs: y });
    expect(convertToOnnx(model).foldedBatchNorms).toEqual([]);
    expect(await parity(model, [1, 8, 8, 2])).toBeLessThan(1e-5);
    model.dispose();
  });

  it('3D conv/pool/add/multiply graph with strides and (1 + S) * T combine matches tfjs', async () => {
    const x = tf.input({ shape: [8, 8, 8, 2], name: 'input' });
    const t = L.conv3d({ filters: 4, kernelSize: 3, padding: 'same' }).apply(x) as Sym;
    const down = L.conv3d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same' }).apply(t) as Sym;
    const pooled = L.maxPooling3d({ poolSize: 2 }).apply(t) as Sym;
    const m = L.add({ name: 'sum3' }).apply([down, pooled, pooled]) as Sym;
    const s = L.conv3d({ filters: 4, kernelSize: 1, activation: 'sigmoid' }).apply(m) as Sym;
    const tDown = L.maxPooling3d({ poolSize: 2 }).apply(t) as Sym;
    const st = L.multiply().apply([s, tDown]) as Sym;
    const y = L.add().apply([tDown, st]) as Sym;
    const model = tf.model({ inputs: x, outputs: y });
    expect(await parity(model, [2, 8, 8, 8, 2])).toBeLessThan(1e-5);
    expect(convertToOnnx(model).graph.nodes.find((n) => n.name === 'sum3')?.opType).toBe('Sum');
    model.dispose();
  });

  it('odd sizes with stride-2 same padding match (TF pads the extra row at the end)', async () => {
    const x = tf.input({ shape: [7, 8, 1], name: 'input' });
    const y = L.conv2d({ filters: 2, kernelSize: 3, strides: 2, padding: 'same' }).apply(x) as Sym;
    const model = tf.model({ inputs: x, outputs: y });
    expect(await parity(model, [1, 7, 8, 1])).toBeLessThan(1e-5);
    model.dispose();
  });

  it('exports symbolic spatial sizes: one ONNX model runs any size a fully convolutional net takes', async () => {
    const x = tf.input({ shape: [null, null, 1], name: 'input' });
    const c = L.conv2d({ filters: 2, kernelSize: 3, padding: 'same' }).apply(x) as Sym;
    const y = L.upSampling2d({ size: [2, 2] }).apply(L.maxPooling2d({ poolSize: 2 }).apply(c)) as Sym;
    const model = tf.model({ inputs: x, outputs: y });
    randomizeWeights(model, 5);
    const session = await ort.InferenceSession.create(exportToOnnx(model));
    for (const [h, w] of [
      [8, 8],
      [12, 20],
    ]) {
      const xin = randomArray(h * w, 0, 1, rng(h));
      const out = await session.run({ input: new ort.Tensor('float32', xin, [1, h, w, 1]) });
      expect(out.output!.dims).toEqual([1, h, w, 2]);
      expect(
        maxAbsDiff(out.output!.data as Float32Array, tfjsForward(model, xin, [1, h, w, 1])),
      ).toBeLessThan(1e-5);
    }
    await session.release();
    model.dispose();
  });

  it('names the layer when it meets a layer type it cannot convert', () => {
    const x = tf.input({ shape: [4, 4, 1], name: 'input' });
    const y = L.dense({ units: 2, name: 'my_dense' }).apply(
      L.flatten({ name: 'my_flatten' }).apply(x),
    ) as Sym;
    const model = tf.model({ inputs: x, outputs: y });
    expect(() => exportToOnnx(model)).toThrow(/my_flatten.*Flatten/);
    model.dispose();
  });
});

describe('nearest up-sampling export forms', () => {
  /** Independent repeat: output voxel (z, y, x, c) is input voxel (floor(z / fz), floor(y / fy), floor(x / fx), c). */
  function repeat3d(x: Float32Array, [d, h, w, c]: number[], [fz, fy, fx]: number[]): Float32Array {
    const out = new Float32Array(x.length * fz * fy * fx);
    let o = 0;
    for (let z = 0; z < d * fz; z++)
      for (let y = 0; y < h * fy; y++)
        for (let xx = 0; xx < w * fx; xx++)
          for (let k = 0; k < c; k++)
            out[o++] = x[k + c * (Math.floor(xx / fx) + w * (Math.floor(y / fy) + h * Math.floor(z / fz)))]!;
    return out;
  }

  it('3D: Expand by default, Resize on request, both exactly the repeat (factors 1, 2, 3)', async () => {
    const factors = [1, 2, 3];
    const inShape = [3, 4, 5, 2];
    const x = tf.input({ shape: inShape, name: 'input' });
    const y = new UpSampling3D({ size: factors as [number, number, number] }).apply(x) as Sym;
    const model = tf.model({ inputs: x, outputs: y });
    const ops = (upsampling?: 'resize') =>
      convertToOnnx(model, { upsampling }).graph.nodes.map((n) => n.opType);
    expect(ops()).toContain('Expand');
    expect(ops()).not.toContain('Resize');
    expect(ops('resize')).toContain('Resize');
    const xin = randomArray(2 * 3 * 4 * 5 * 2, -1, 1, rng(11));
    // batch 2: each item repeated on its own
    const half = xin.length / 2;
    const want = [
      ...repeat3d(xin.subarray(0, half), inShape, factors),
      ...repeat3d(xin.subarray(half), inShape, factors),
    ];
    for (const upsampling of ['expand', 'resize'] as const) {
      const session = await ort.InferenceSession.create(exportToOnnx(model, { upsampling }));
      const out = await session.run({ input: new ort.Tensor('float32', xin, [2, ...inShape]) });
      await session.release();
      expect(out.output!.dims).toEqual([2, 3, 8, 15, 2]);
      expect(Array.from(out.output!.data as Float32Array)).toEqual(want);
    }
    model.dispose();
  });

  it('2D keeps Resize by default (its fast path in ONNX Runtime)', () => {
    const x = tf.input({ shape: [4, 4, 1], name: 'input' });
    const model = tf.model({ inputs: x, outputs: L.upSampling2d({ size: [2, 2] }).apply(x) as Sym });
    const ops = convertToOnnx(model).graph.nodes.map((n) => n.opType);
    expect(ops).toContain('Resize');
    expect(convertToOnnx(model, { upsampling: 'expand' }).graph.nodes.map((n) => n.opType)).toContain(
      'Expand',
    );
    model.dispose();
  });
});

describe('3x3(x3) convolutions of concatenations holding an up-sampled map: split, or at the low resolution', () => {
  const nodesOf = (model: tf.LayersModel, upsampledConvForm?: UpsampledConvForm) =>
    convertToOnnx(model, { upsampledConvForm }).graph.nodes;
  const kernels = (model: tf.LayersModel, upsampledConvForm?: UpsampledConvForm) =>
    nodesOf(model, upsampledConvForm)
      .filter((n) => n.opType === 'Conv')
      .map((n) => n.attributes.find((a) => a.name === 'kernel_shape')!.value as number[]);

  /** RA-UNet's top decoder shape: conv(concat(up(deep), skip)) -> BN -> ReLU, with a 1x1 head. */
  function decoderTop3d(depth: number, height: number, width: number) {
    const x = tf.input({ shape: [depth, height, width, 2], name: 'input' });
    const skip = L.conv3d({ filters: 3, kernelSize: 3, padding: 'same', name: 'skip' }).apply(x) as Sym;
    const deep = L.conv3d({ filters: 4, kernelSize: 3, padding: 'same', name: 'deep' }).apply(
      L.maxPooling3d({ poolSize: 2 }).apply(skip),
    ) as Sym;
    const up = new UpSampling3D({ size: [2, 2, 2], name: 'up' }).apply(deep) as Sym;
    const cat = L.concatenate({ name: 'cat' }).apply([up, skip]) as Sym;
    const conv = L.conv3d({ filters: 5, kernelSize: 3, padding: 'same', name: 'top' }).apply(cat) as Sym;
    const bn = new BatchNormND({ name: 'top_bn' }).apply(conv) as Sym;
    const y = L.conv3d({ filters: 1, kernelSize: 1, activation: 'sigmoid', name: 'head' }).apply(
      L.reLU().apply(bn),
    ) as Sym;
    return tf.model({ inputs: x, outputs: y });
  }

  it('3D: the concatenation and up-sampling are not written; 8 parity convs; same values as tfjs', async () => {
    const model = decoderTop3d(4, 6, 8);
    const ops = nodesOf(model).map((n) => n.opType);
    expect(ops).not.toContain('Expand');
    expect(nodesOf(model).some((n) => n.name === 'cat')).toBe(false);
    expect(kernels(model).filter((k) => k.join() === '2,2,2')).toHaveLength(8);
    expect(ops.filter((o) => o === 'DepthToSpace')).toHaveLength(1);
    // the BN after the split conv is still folded (into every derived kernel and the bias)
    expect(convertToOnnx(model).foldedBatchNorms).toContain('top_bn');
    expect(await parity(model, [2, 4, 6, 8, 2])).toBeLessThan(1e-5);
    // the direct form on request: Concat + Expand + one 3x3x3 conv, no parity convs
    const direct = nodesOf(model, 'direct').map((n) => n.opType);
    expect(direct).toContain('Expand');
    expect(direct).toContain('Concat');
    expect(direct).not.toContain('DepthToSpace');
    expect(kernels(model, 'direct').some((k) => k.join() === '2,2,2')).toBe(false);
    // the split form in 3D on request: the up-sampling is written, the concatenation is not
    const split = nodesOf(model, 'split');
    expect(split.map((n) => n.opType)).toContain('Expand');
    expect(split.some((n) => n.name === 'cat')).toBe(false);
    expect(await parity(model, [2, 4, 6, 8, 2], 7, { upsampledConvForm: 'split' })).toBeLessThan(1e-5);
    model.dispose();
  });

  it('2D with a batch of 3, a conv reading the up-sampled map directly, and a fused sigmoid', async () => {
    const x = tf.input({ shape: [6, 10, 2], name: 'input' });
    const low = L.conv2d({ filters: 3, kernelSize: 3, padding: 'same' }).apply(
      L.maxPooling2d({ poolSize: 2 }).apply(x),
    ) as Sym;
    const up = L.upSampling2d({ size: [2, 2] }).apply(low) as Sym;
    const y = L.conv2d({ filters: 2, kernelSize: 3, padding: 'same', activation: 'sigmoid' }).apply(
      up,
    ) as Sym;
    const model = tf.model({ inputs: x, outputs: y });
    // 2D by default: nothing to split without a concatenation, so the up-sampling and the conv stay
    expect(nodesOf(model).map((n) => n.opType)).toContain('Resize');
    expect(kernels(model).some((k) => k.join() === '2,2')).toBe(false);
    const ops = nodesOf(model, 'low-res').map((n) => n.opType);
    expect(ops).not.toContain('Resize');
    expect(kernels(model, 'low-res').filter((k) => k.join() === '2,2')).toHaveLength(4);
    expect(ops).toContain('Sigmoid');
    expect(await parity(model, [3, 6, 10, 2], 7, { upsampledConvForm: 'low-res' })).toBeLessThan(1e-5);
    model.dispose();
  });

  it('2D by default: the convolution is split over the concatenation, the up-sampling is kept', async () => {
    const x = tf.input({ shape: [8, 12, 2], name: 'input' });
    const skip = L.conv2d({ filters: 3, kernelSize: 3, padding: 'same', name: 'skip' }).apply(x) as Sym;
    const deep = L.maxPooling2d({ poolSize: 2 }).apply(skip) as Sym;
    const up = L.upSampling2d({ size: [2, 2], name: 'up' }).apply(deep) as Sym;
    const cat = L.concatenate({ name: 'cat' }).apply([up, skip]) as Sym;
    const conv = L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'top' }).apply(cat) as Sym;
    const y = L.activation({ activation: 'relu' }).apply(
      L.batchNormalization({ name: 'top_bn' }).apply(conv),
    ) as Sym;
    const model = tf.model({ inputs: x, outputs: y });
    const nodes = nodesOf(model);
    expect(nodes.some((n) => n.name === 'cat')).toBe(false);
    expect(nodes.map((n) => n.opType)).toContain('Resize');
    expect(nodes.find((n) => n.name === 'top')?.opType).toBe('Sum');
    expect(kernels(model).filter((k) => k.join() === '3,3')).toHaveLength(3); // skip + one per part
    expect(convertToOnnx(model).foldedBatchNorms).toContain('top_bn');
    expect(await parity(model, [2, 8, 12, 2])).toBeLessThan(1e-5);
    expect(nodesOf(model, 'direct').some((n) => n.name === 'cat')).toBe(true);
    model.dispose();
  });

  it('leaves the direct form when the concatenation or the up-sampling has another reader', async () => {
    const x = tf.input({ shape: [4, 4, 4, 2], name: 'input' });
    const deep = L.maxPooling3d({ poolSize: 2 }).apply(x) as Sym;
    const up = new UpSampling3D({ size: [2, 2, 2], name: 'up' }).apply(deep) as Sym;
    const cat = L.concatenate({ name: 'cat' }).apply([up, x]) as Sym;
    const a = L.conv3d({ filters: 2, kernelSize: 3, padding: 'same' }).apply(cat) as Sym;
    const b = L.conv3d({ filters: 2, kernelSize: 1 }).apply(cat) as Sym;
    const model = tf.model({ inputs: x, outputs: L.add().apply([a, b]) as Sym });
    expect(nodesOf(model).map((n) => n.opType)).not.toContain('DepthToSpace');
    expect(nodesOf(model).some((n) => n.name === 'cat')).toBe(true);
    expect(await parity(model, [1, 4, 4, 4, 2])).toBeLessThan(1e-5);
    model.dispose();
  });
});

describe('3x3x3 convolutions with few outputs as (1,3,3) depth taps plus a shifted sum', () => {
  it('matches tfjs for 1 and 2 outputs, odd depth, a batch of 2, a fused sigmoid and a folded BN', async () => {
    const x = tf.input({ shape: [5, 6, 7, 3], name: 'input' });
    const one = L.conv3d({ filters: 1, kernelSize: 3, padding: 'same', activation: 'sigmoid' }).apply(
      x,
    ) as Sym;
    const two = L.conv3d({ filters: 2, kernelSize: 3, padding: 'same', name: 'two' }).apply(x) as Sym;
    const folded = new BatchNormND({ name: 'two_bn' }).apply(two) as Sym;
    const model = tf.model({ inputs: x, outputs: L.concatenate().apply([one, folded]) as Sym });
    const kernels = (depthTapConvs?: boolean) =>
      convertToOnnx(model, { depthTapConvs })
        .graph.nodes.filter((n) => n.opType === 'Conv')
        .map((n) => (n.attributes.find((a) => a.name === 'kernel_shape')!.value as number[]).join());
    expect(kernels()).toEqual(['1,3,3', '1,3,3']);
    expect(convertToOnnx(model).foldedBatchNorms).toEqual(['two_bn']);
    expect(kernels(false)).toEqual(['3,3,3', '3,3,3']);
    expect(await parity(model, [2, 5, 6, 7, 3])).toBeLessThan(1e-5);
    model.dispose();
  });

  it('keeps the direct form from 5 outputs on', () => {
    const x = tf.input({ shape: [4, 4, 4, 2], name: 'input' });
    const y = L.conv3d({ filters: 5, kernelSize: 3, padding: 'same' }).apply(x) as Sym;
    const model = tf.model({ inputs: x, outputs: y });
    expect(opCount(model, 'Pad')).toBe(0);
    model.dispose();
  });
});
