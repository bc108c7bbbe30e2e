import { describe, expect, it, vi } from 'vitest';
import { main } from '../../lib/cli/main.ts';
import { median, parseSize } from '../../lib/inference/bench.ts';

describe('raunet bench', () => {
  it('parses sizes and takes medians', () => {
    expect(parseSize('128x128x32', 3)).toEqual([128, 128, 32]);
    expect(() => parseSize('128x128', 3)).toThrow(/3 positive integers/);
    expect(() => parseSize('0x64', 2)).toThrow(/positive integers/);
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('--json prints one result per engine with the documented fields', async () => {
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
      out.push(String(s));
      return true;
    });
    let code: number;
    try {
      code = await main([
        'node',
        'raunet',
        'bench',
        '--arch',
        'raunet1',
        '--size',
        '64x32',
        '--engine',
        'onnx',
        '--runs',
        '2',
        '--json',
      ]);
    } finally {
      spy.mockRestore();
    }
    expect(code).toBe(0);
    const parsed = JSON.parse(out.join('')) as { results: Array<Record<string, unknown>> };
    expect(parsed.results).toHaveLength(1);
    const r = parsed.results[0]!;
    expect(Object.keys(r).sort()).toEqual(['arch', 'backend', 'engine', 'forward_s', 'size']);
    expect(r).toMatchObject({ arch: 'raunet1', size: '64x32', engine: 'onnx', backend: 'onnx-cpu' });
    expect(r.forward_s).toBeGreaterThan(0);
  });

  it('rejects an unknown architecture or engine with exit code 2', async () => {
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await main(['node', 'raunet', 'bench', '--arch', 'unet'])).toBe(2);
      expect(await main(['node', 'raunet', 'bench', '--engine', 'torch'])).toBe(2);
      expect(await main(['node', 'raunet', 'bench', '--arch', 'raunet2', '--size', '64x64'])).toBe(2);
    } finally {
      err.mockRestore();
    }
  });
});
