/** ONNX export of the real networks: BN folding structure, raunet1 at full width, reduced widths. */
import { describe, expect, it } from 'vitest';
import { convertToOnnx } from '../../lib/inference/onnx-export.ts';
import { buildRAUNet } from '../../lib/model/archs.ts';
import { checkParity } from './parity.ts';

describe('RA-UNet ONNX export: structure', () => {
  it('folds exactly the BNs that follow a conv and keeps the pre-activation ones', () => {
    const model = buildRAUNet('raunet1', { inputShape: [32, 32, 1], width: 0.25 });
    const converted = convertToOnnx(model);
    const folded = new Set(converted.foldedBatchNorms);
    const bns = model.layers.filter((l) => l.getClassName() === 'BatchNormND').map((l) => l.name);
    const blocks = bns.filter((n) => n.endsWith('_bn1'));
    expect(blocks.length).toBeGreaterThan(40);
    for (const n of bns) {
      // block input BN (after an Add, pool or concat) cannot fold; the rest follow a conv
      expect(folded.has(n), n).toBe(!n.endsWith('_bn1'));
    }
    const kept = converted.graph.nodes.filter((n) => n.opType === 'BatchNormalization');
    expect(kept.length).toBe(blocks.length);
    model.dispose();
  });
});

describe('RA-UNet ONNX export: parity with tfjs (max |diff| <= 1e-4, same segmentation)', () => {
  it('raunet1 full width, 64x64', async () => {
    await checkParity('raunet1', [64, 64, 1], 1, 11);
  });
  it('reduced widths: raunet1 x0.5 at 32x64, raunet2 x0.25 at 32x32x32, raunet2-brain x0.125', async () => {
    await checkParity('raunet1', [32, 64, 1], 0.5, 21);
    await checkParity('raunet2', [32, 32, 32, 1], 0.25, 22);
    await checkParity('raunet2-brain', [32, 32, 32, 4], 0.125, 23);
  });
});
