/** Full-width raunet2 ONNX export vs tfjs at the smallest input it accepts (its own file: runs in parallel). */
import { describe, it } from 'vitest';
import { checkParity } from './parity.ts';

describe('raunet2 ONNX export parity with tfjs (max |diff| <= 1e-4, same segmentation)', () => {
  it('full width, [32, 32, 32, 1]', async () => {
    await checkParity('raunet2', [32, 32, 32, 1], 1, 12);
  }, 600_000); // ~15-20 s CPU on an idle machine; generous for a shared one
});
