import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ARCHS, type ArchName, buildRAUNet, scaleWidth } from '../../lib/model/archs.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/**
 * Stage output sizes transcribed from the paper: [stage, in-plane side, z side (3D only), channels].
 * Table II (RA-UNet-I, 256^2 x 1), Table III (RA-UNet-II, 224^2 x 32 x 1), Table VIII (brain, 64^3 x 4).
 */
type Row = [string, number, number, number];
const TABLE_II: Row[] = [
  ['conv1', 256, 0, 16],
  ['pool1', 128, 0, 16],
  ['res1', 128, 0, 16],
  ['pool2', 64, 0, 16],
  ['res2', 64, 0, 32],
  ['pool3', 32, 0, 32],
  ['res3', 32, 0, 64],
  ['pool4', 16, 0, 64],
  ['res4', 16, 0, 128],
  ['pool5', 8, 0, 128],
  ['res5', 8, 0, 256],
  ['res6', 8, 0, 256],
  ['up1', 16, 0, 256],
  ['att1', 16, 0, 128],
  ['res7', 16, 0, 128],
  ['up2', 32, 0, 128],
  ['att2', 32, 0, 64],
  ['res8', 32, 0, 64],
  ['up3', 64, 0, 64],
  ['att3', 64, 0, 32],
  ['res9', 64, 0, 32],
  ['up4', 128, 0, 32],
  ['att4', 128, 0, 16],
  ['res10', 128, 0, 16],
  ['up5', 256, 0, 16],
  ['conv2', 256, 0, 16],
  ['conv3', 256, 0, 1],
];
const TABLE_III: Row[] = [
  ['conv1', 224, 32, 32],
  ['pool1', 112, 16, 32],
  ['res1', 112, 16, 32],
  ['pool2', 56, 8, 32],
  ['res2', 56, 8, 64],
  ['pool3', 28, 4, 64],
  ['res3', 28, 4, 128],
  ['pool4', 14, 2, 128],
  ['res4', 14, 2, 256],
  ['pool5', 7, 1, 256],
  ['res5', 7, 1, 512],
  ['res6', 7, 1, 512],
  ['up1', 14, 2, 512],
  ['att1', 14, 2, 256],
  ['res7', 14, 2, 256],
  ['up2', 28, 4, 256],
  ['att2', 28, 4, 128],
  ['res8', 28, 4, 128],
  ['up3', 56, 8, 128],
  ['att3', 56, 8, 64],
  ['res9', 56, 8, 64],
  ['up4', 112, 16, 64],
  ['att4', 112, 16, 32],
  ['res10', 112, 16, 32],
  ['up5', 224, 32, 32],
  ['conv2', 224, 32, 32],
  ['conv3', 224, 32, 1],
];
const TABLE_VIII: Row[] = [
  ['conv1', 64, 64, 32],
  ['pool1', 32, 32, 32],
  ['res1', 32, 32, 64],
  ['pool2', 16, 16, 64],
  ['res2', 16, 16, 128],
  ['pool3', 8, 8, 128],
  ['res3', 8, 8, 256],
  ['pool4', 4, 4, 256],
  ['res4', 4, 4, 512],
  ['pool5', 2, 2, 512],
  ['res5', 2, 2, 512],
  ['res6', 2, 2, 512],
  ['up1', 4, 4, 512],
  ['att1', 4, 4, 512],
  ['res7', 4, 4, 512],
  ['up2', 8, 8, 512],
  ['att2', 8, 8, 256],
  ['res8', 8, 8, 256],
  ['up3', 16, 16, 256],
  ['att3', 16, 16, 128],
  ['res9', 16, 16, 128],
  ['up4', 32, 32, 128],
  ['att4', 32, 32, 64],
  ['res10', 32, 32, 64],
  ['up5', 64, 64, 64],
  ['conv2', 64, 64, 32],
  ['conv3', 64, 64, 1],
];

/** The layer whose output is the table's stage (blocks end in their `_add`, conv1/conv2 after ReLU). */
function stageLayer(stage: string): string {
  if (stage === 'conv1' || stage === 'conv2') return `${stage}_relu`;
  if (stage.startsWith('res')) return `${stage}_add`;
  if (stage.startsWith('att')) return `${stage}_post_add`;
  return stage;
}

function expectStages(model: tf.LayersModel, table: Row[], dims: 2 | 3, scale: number, zScale: number) {
  for (const [stage, side, z, c] of table) {
    const expected =
      dims === 2 ? [null, side / scale, side / scale, c] : [null, z / zScale, side / scale, side / scale, c];
    expect([stage, model.getLayer(stageLayer(stage)).output]).toSatisfy(([, out]) => {
      const shape = (out as tf.SymbolicTensor).shape;
      return JSON.stringify(shape) === JSON.stringify(expected);
    });
  }
}

/** Full-width paper-size graphs, built once (building is cheap; no forward pass is run on them). */
const built = new Map<ArchName, tf.LayersModel>();
function paperModel(arch: ArchName): tf.LayersModel {
  if (!built.has(arch)) built.set(arch, buildRAUNet(arch));
  return built.get(arch)!;
}

describe('RA-UNet configurations', () => {
  it.each([
    ['raunet1', 747_321],
    ['raunet2', 4_439_697],
    ['raunet2-brain', 12_813_377],
  ] as Array<[ArchName, number]>)('%s has exactly %i parameters at full width', (arch, params) => {
    const model = paperModel(arch);
    expect(model.countParams()).toBe(params);
    expect(ARCHS[arch].params).toBe(params);
    // BN moving statistics are the only non-trainable weights: 2 per channel of every BN layer.
    const nonTrainable = model.nonTrainableWeights.reduce(
      (s, w) => s + (w.shape as number[]).reduce((a, b) => a * b, 1),
      0,
    );
    const bnChannels = model.layers
      .filter((l) => l.getClassName() === 'BatchNormND')
      .reduce((s, l) => s + (l.outputShape as number[]).at(-1)!, 0);
    expect(nonTrainable).toBe(2 * bnChannels);
  });

  it('matches every stage of Table II at the paper input size (symbolic shapes)', () => {
    expectStages(paperModel('raunet1'), TABLE_II, 2, 1, 1);
  });

  it('matches every stage of Table III at the paper input size (symbolic shapes)', () => {
    expectStages(paperModel('raunet2'), TABLE_III, 3, 1, 1);
  });

  it('matches every stage of Table VIII at the paper input size (symbolic shapes)', () => {
    expectStages(paperModel('raunet2-brain'), TABLE_VIII, 3, 1, 1);
  });

  it('is fully convolutional: the tumor patch 128x128x32 and a reduced 32x64x64 both scale every stage', () => {
    expectStages(
      buildRAUNet('raunet2', { inputShape: [32, 128, 128, 1] }),
      TABLE_III.map(([s, side, z, c]) => [s, (side * 128) / 224, z, c] as Row),
      3,
      1,
      1,
    );
    expectStages(buildRAUNet('raunet1', { inputShape: [64, 64, 1] }), TABLE_II, 2, 4, 1);
  });

  it('computes the stage shapes in a real forward pass at reduced size and width', () => {
    const model = buildRAUNet('raunet2-brain', { width: 1 / 16, inputShape: [32, 32, 32, 4] });
    const names = TABLE_VIII.map(([s]) => stageLayer(s));
    const probe = tf.model({
      inputs: model.inputs,
      outputs: names.map((n) => model.getLayer(n).output as tf.SymbolicTensor),
    });
    const outs = tf.tidy(() => probe.predict(tf.randomUniform([1, 32, 32, 32, 4])) as tf.Tensor[]);
    TABLE_VIII.forEach(([stage, side, z, c], i) => {
      expect([stage, ...outs[i]!.shape]).toEqual([
        stage,
        1,
        z / 2,
        side / 2,
        side / 2,
        stage === 'conv3' ? 1 : scaleWidth(c, 1 / 16),
      ]);
    });
    const y = outs.at(-1)!.dataSync();
    expect(Math.min(...y)).toBeGreaterThan(0);
    expect(Math.max(...y)).toBeLessThan(1);
    tf.dispose(outs);
  });

  it('scales widths by the multiplier with at least 4 channels, and rejects bad input shapes', () => {
    expect(scaleWidth(16, 0.1)).toBe(4);
    expect(scaleWidth(512, 0.25)).toBe(128);
    expect(scaleWidth(32, 0.3)).toBe(10);
    const small = buildRAUNet('raunet2', { width: 0.125, inputShape: [32, 32, 32, 1] });
    expect(small.getLayer('res6_add').output).toHaveProperty('shape', [null, 1, 1, 1, 64]);
    // bottleneck: out/4 at least 1 (res1 at width 0.125 has 4 channels -> 1 bottleneck channel)
    expect(small.getLayer('res1_conv2').output).toHaveProperty('shape', [null, 16, 16, 16, 1]);
    expect(() => buildRAUNet('raunet2', { inputShape: [30, 224, 224, 1] })).toThrow(/multiple of 32/);
    expect(() => buildRAUNet('raunet1', { inputShape: [32, 224, 224, 1] })).toThrow(/expected 3 values/);
    expect(() => buildRAUNet('nope' as ArchName)).toThrow(/unknown architecture/);
  });

  it('builds the same weights from the same seed, other weights from another seed or none', () => {
    const build = (seed?: number) => buildRAUNet('raunet1', { width: 0.02, inputShape: [32, 32, 1], seed });
    const kernels = (m: tf.LayersModel) =>
      m.layers.flatMap((l) =>
        l
          .getWeights()
          .filter((w) => w.shape.length === 4)
          .map((w) => Array.from(w.dataSync())),
      );
    const [a, b, c, free1, free2] = [build(5), build(5), build(6), build(), build()];
    const [ka, kb, kc, kf1, kf2] = [a, b, c, free1, free2].map(kernels);
    expect(ka.length).toBeGreaterThan(20);
    const same = (x: number[][], y: number[][]) => x.every((k, i) => k.every((v, j) => v === y[i]![j]));
    expect(same(ka, kb)).toBe(true);
    expect(same(ka, kc)).toBe(false);
    expect(same(kf1, kf2)).toBe(false);
    // Each convolution draws from its own seed: two kernels of one shape in a model differ.
    const res1 = [a.getLayer('res5_conv2'), a.getLayer('res6_conv2')].map((l) => l.getWeights()[0]!);
    expect(res1[0]!.shape).toEqual(res1[1]!.shape);
    expect(Array.from(res1[0]!.dataSync())).not.toEqual(Array.from(res1[1]!.dataSync()));
    // Glorot uniform: |w| <= sqrt(6 / (fan_in + fan_out)).
    const w = a.getLayer('conv1').getWeights()[0]!;
    const [kh, kw, cin, cout] = w.shape as number[];
    const limit = Math.sqrt(6 / (kh! * kw! * cin! + kh! * kw! * cout!));
    expect(Math.max(...Array.from(w.dataSync(), Math.abs))).toBeLessThanOrEqual(limit);
    expect(() => buildRAUNet('raunet1', { inputShape: [32, 32, 1], seed: 1.5 })).toThrow(/integer/);
    for (const m of [a, b, c, free1, free2]) m.dispose();
  });
});
