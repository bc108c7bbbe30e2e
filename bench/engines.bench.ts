/**
 * ONNX Runtime vs tfjs forward time per patch at the paper's sizes (full-width random networks):
 * raunet1 256x256, raunet2 128x128x32 (tumor) and 224x224x32 (liver). ONNX: one warm-up, median of 3.
 * tfjs on the CPU backends takes minutes per 3D patch: one run, no warm-up. Target: ONNX >= 30x faster
 * than tfjs on raunet2 128x128x32.
 */

import { benchForward } from '../lib/inference/bench.ts';
import type { ArchName } from '../lib/model/archs.ts';
import type { BenchRow } from './index.ts';

export const name = 'inference engines: forward pass per patch (ONNX Runtime vs tfjs)';

const CASES: Array<{ arch: ArchName; size: number[] }> = [
  { arch: 'raunet1', size: [256, 256] },
  { arch: 'raunet2', size: [128, 128, 32] },
  { arch: 'raunet2', size: [224, 224, 32] },
];

export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const c of CASES) {
    const [onnx] = await benchForward({ arch: c.arch, size: c.size, engines: ['onnx'], runs: 3, warmup: 1 });
    const [tfjs] = await benchForward({ arch: c.arch, size: c.size, engines: ['tfjs'], runs: 1, warmup: 0 });
    const what = `${c.arch} ${c.size.join('x')}`;
    rows.push({ what: `${what} onnx (${onnx!.backend})`, value: onnx!.forward_s, unit: 's' });
    rows.push({ what: `${what} tfjs (${tfjs!.backend})`, value: tfjs!.forward_s, unit: 's' });
    const ratio = tfjs!.forward_s / onnx!.forward_s;
    const note =
      c.arch === 'raunet2' && c.size[0] === 128
        ? `target >= 30: ${ratio >= 30 ? 'met' : 'MISSED'}`
        : undefined;
    rows.push({ what: `${what} speed-up onnx vs tfjs`, value: ratio, unit: 'x', note });
  }
  return rows;
}
