import { describe, expect, it } from 'vitest';
import { parseCount, parseSize } from '../../lib/cli/commands/train.ts';
import { InputError } from '../../lib/errors.ts';
import { stagePatch } from '../../lib/training/train-stage.ts';
import { runCli } from '../cli.ts';

describe('raunet train options', () => {
  it('parses patch sizes in x-y(-z) order', () => {
    expect(parseSize('64x64x32')).toEqual([64, 64, 32]);
    expect(parseSize('256X256')).toEqual([256, 256]);
    expect(() => parseSize('64x64x')).toThrow(InputError);
    expect(() => parseSize('64')).toThrow(/128x128x32/);
    expect(() => parseSize('1x2x3x4')).toThrow(InputError);
  });

  it('parses counts', () => {
    expect(parseCount('--epochs', '12')).toBe(12);
    expect(parseCount('--fold', '0', 0)).toBe(0);
    expect(() => parseCount('--epochs', '0')).toThrow(/--epochs must be an integer >= 1/);
    expect(() => parseCount('--epochs', '2.5')).toThrow(InputError);
  });

  it('turns a patch into the network input shape (slowest axis first, channels last)', () => {
    expect(stagePatch('tumor', 'raunet2', [128, 96, 32])).toEqual({
      patch: [128, 96, 32],
      inputShape: [32, 96, 128, 1],
    });
    expect(stagePatch('localize', 'raunet1')).toEqual({ patch: [256, 256], inputShape: [256, 256, 1] });
    expect(stagePatch('liver', 'raunet2')).toEqual({ patch: [224, 224, 32], inputShape: [32, 224, 224, 1] });
    // the tumor stage's paper patch is 128x128x32, not the architecture's default input
    expect(stagePatch('tumor', 'raunet2')).toEqual({ patch: [128, 128, 32], inputShape: [32, 128, 128, 1] });
    expect(() => stagePatch('liver', 'raunet2', [64, 64])).toThrow(/3 positive integers/);
    expect(() => stagePatch('localize', 'raunet2')).toThrow(/3D/);
  });
});

describe('raunet train / demo commands', () => {
  const run = runCli;

  it('rejects a bad stage or width with exit code 2 and names the option', async () => {
    const a = await run(['train', '--data', '/nowhere', '--stage', 'lungs', '--out', '/tmp/x']);
    expect(a.code).toBe(2);
    expect(a.err).toMatch(/--stage must be localize, liver or tumor/);
    const b = await run([
      'train',
      '--data',
      '/nowhere',
      '--stage',
      'liver',
      '--width',
      '0',
      '--out',
      '/tmp/x',
    ]);
    expect(b.code).toBe(2);
    expect(b.err).toMatch(/--width/);
  });

  it('demo without models says how to get them', async () => {
    const r = await run(['demo', '--models', '/nowhere/models', '--out', '/tmp/raunet-demo-none']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/\/nowhere\/models: no demo models here; train them with `raunet demo --train/);
  });
});
