import { describe, expect, it } from 'vitest';
import { parseCases, standInSize } from '../../bench/engines.bench.ts';

describe('engines bench sizes', () => {
  it('times 3D tfjs passes at 64x64 in-plane (same depth) unless asked for the full size', () => {
    expect(standInSize({ arch: 'raunet2', size: [128, 128, 32] }, false)).toEqual([64, 64, 32]);
    expect(standInSize({ arch: 'raunet2', size: [224, 224, 32] }, false)).toEqual([64, 64, 32]);
    expect(standInSize({ arch: 'raunet2', size: [224, 224, 32] }, true)).toBeNull();
    expect(standInSize({ arch: 'raunet2', size: [64, 64, 32] }, false)).toBeNull();
    expect(standInSize({ arch: 'raunet1', size: [256, 256] }, false)).toBeNull();
    // the smaller stand-in of a software WebGPU adapter
    expect(standInSize({ arch: 'raunet2', size: [128, 128, 32] }, false, 32)).toEqual([32, 32, 32]);
    expect(standInSize({ arch: 'raunet2', size: [32, 32, 32] }, false, 32)).toBeNull();
  });

  it('parses BENCH_ENGINE_CASES and names a bad item', () => {
    expect(parseCases('raunet2:64x64x32, raunet1:64x64')).toEqual([
      { arch: 'raunet2', size: [64, 64, 32] },
      { arch: 'raunet1', size: [64, 64] },
    ]);
    expect(() => parseCases('unet:64x64')).toThrow(/'unet:64x64' is not arch:size/);
  });
});

describe('training bench schedule', () => {
  it('runs tasks in order, each in the slot that frees first', async () => {
    const { scheduleWall } = await import('../../bench/training.bench.ts');
    // jobs 2: [12] and [30]; the third (31) starts when the 12-minute one ends -> 43
    expect(scheduleWall([12, 30, 31], 2)).toBe(43);
    expect(scheduleWall([12, 30, 31], 1)).toBe(73);
    expect(scheduleWall([12, 30, 31], 3)).toBe(31);
  });
});
