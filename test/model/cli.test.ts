import { afterEach, describe, expect, it, vi } from 'vitest';
import { runCli } from '../cli.ts';
import { runRaunet } from '../robustness/child.ts';

const run = runCli;

afterEach(() => vi.restoreAllMocks());

describe('raunet model summary', () => {
  it('prints its result and nothing else: no tfjs "Hi, looks like..." banner (child process)', async () => {
    const r = await runRaunet(['model', 'summary', '--arch', 'raunet1', '--width', '0.25', '--json'], {
      env: { RAUNET_BACKEND: '' },
      timeoutMs: 120_000,
    });
    expect(r.code, r.err).toBe(0);
    expect(r.err).toBe('');
    expect(JSON.parse(r.out).arch).toBe('raunet1');
  });

  it('prints the JSON counts and shapes of the paper configuration', async () => {
    const r = await run(['model', 'summary', '--arch', 'raunet2', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j).toEqual({
      arch: 'raunet2',
      params: 4_439_697,
      trainableParams: j.trainableParams,
      inputShape: [32, 224, 224, 1],
      outputShape: [32, 224, 224, 1],
    });
    // non-trainable weights are the BN moving mean and variance
    expect(j.params - j.trainableParams).toBeGreaterThan(0);
    expect((j.params - j.trainableParams) % 2).toBe(0);
  });

  it('prints a layer table at a reduced width and input shape', async () => {
    const r = await run([
      'model',
      'summary',
      '--arch',
      'raunet1',
      '--width',
      '0.25',
      '--input-shape',
      '64,64,1',
    ]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^conv1\s+Conv2D\s+\[\?, 64, 64, 4\]\s+40\s+input$/m); // 3*3*1*4 + 4
    expect(r.out).toMatch(
      /^att1_mask_mul\s+Multiply\s+\[\?, 4, 4, 32\]\s+0\s+att1_maskconv2, att1_trunk2_add$/m,
    );
    expect(r.out).toMatch(/^params: \d+ \(trainable \d+, non-trainable \d+\)$/m);
  });

  it('rejects an unknown architecture or width with exit code 2', async () => {
    const bad = await run(['model', 'summary', '--arch', 'unet', '--json']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/unknown architecture 'unet'/);
    expect((await run(['model', 'summary', '--arch', 'raunet1', '--width', '0'])).code).toBe(2);
  });
});
