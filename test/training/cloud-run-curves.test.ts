/**
 * The training run's curves stored with its models: the evaluate-ensemble step draws each variant's
 * folds side by side from their uploaded `metrics.jsonl` (only the folds that succeeded), and
 * `raunet models publish` uploads the run's `curves.png` that `raunet train` drew.
 */
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { runBatchStage } from '../../lib/cloud/batch-stages.ts';
import type { ModelRegistry } from '../../lib/cloud/model-registry.ts';
import { publishModels } from '../../lib/cloud/publish.ts';
import { storeRunCurves } from '../../lib/cloud/run-curves.ts';
import { CURVE_COLOURS, type CurvePoint, curvePixel, runPanelOrigin } from '../../lib/training/curves.ts';
import { MemoryS3 } from '../viewer/cloud-job.ts';

/** `epochs` epochs of validation Dice rising to `top` (best at the last epoch). */
function points(epochs: number, top: number): CurvePoint[] {
  return Array.from({ length: epochs }, (_, i) => {
    const v = (top * (i + 1)) / epochs;
    return { epoch: i + 1, loss: 1 - v, valLoss: 1 - v, valDice: v, lr: 1e-3, best: v, bestEpoch: i + 1 };
  });
}
const jsonl = (pts: CurvePoint[]) =>
  new TextEncoder().encode(`${pts.map((p) => JSON.stringify(p)).join('\n')}\n`);
const rgbAt = (png: PNG, x: number, y: number) => {
  const o = 4 * (x + png.width * y);
  return [png.data[o], png.data[o + 1], png.data[o + 2]];
};
/** Fold panel `index` of the run picture has a val Dice curve ending at (epochs, top). */
const endsAt = (png: PNG, index: number, epochs: number, top: number) => {
  const [ox, oy] = runPanelOrigin(index);
  const [x, y] = curvePixel(epochs, top, epochs);
  return rgbAt(png, ox + x, oy + y).join() === CURVE_COLOURS.valDice.join();
};

const RUN = 'runs/20260301T020000Z-00ab12';
const tmp: string[] = [];
afterAll(async () => {
  for (const d of tmp) await rm(d, { recursive: true, force: true });
});

describe('run curves in S3', () => {
  it('draws the succeeded folds side by side beside them; nothing when no fold has metrics', async () => {
    const s3 = new MemoryS3();
    const stage = `models-bucket/${RUN}/v0/liver/`;
    s3.put(`${stage}fold-0/metrics.jsonl`, jsonl(points(4, 0.8)));
    s3.put(`${stage}fold-1/metrics.jsonl`, jsonl(points(6, 0.4))); // a failed fold: left out
    s3.put(`${stage}fold-2/metrics.jsonl`, jsonl(points(3, 0.6)));
    s3.put(`${stage}fold-2/curves.png`, new Uint8Array(4));
    const client = s3 as unknown as S3Client;
    const uri = await storeRunCurves(client, `s3://${stage}`, 'liver run', [0, 2]);
    expect(uri).toBe(`s3://${stage}curves.png`);
    const stored = s3.objects.get(`${stage}curves.png`);
    expect(stored?.type).toBe('image/png');
    const png = PNG.sync.read(Buffer.from(stored!.bytes));
    expect([png.width, png.height]).toEqual([2 * 640, 32 + 400]); // two panels
    expect(endsAt(png, 0, 4, 0.8)).toBe(true); // fold 0
    expect(endsAt(png, 1, 3, 0.6)).toBe(true); // fold 2, not fold 1
    expect(endsAt(png, 1, 6, 0.4)).toBe(false);
    // Every fold when the workflow does not say which.
    await storeRunCurves(client, `s3://${stage}`, 'liver run');
    const all = PNG.sync.read(Buffer.from(s3.objects.get(`${stage}curves.png`)!.bytes));
    expect(all.width).toBe(3 * 640);
    expect(endsAt(all, 1, 6, 0.4)).toBe(true);
    expect(await storeRunCurves(client, `s3://models-bucket/${RUN}/v1/liver/`, 'x')).toBeNull();
    expect([...s3.objects.keys()].filter((k) => k.includes('/v1/'))).toEqual([]);
  });

  it('the evaluate-ensemble job stores each variant run curves after its metrics', async () => {
    const s3 = new MemoryS3();
    const root = `models-bucket/${RUN}`;
    for (const v of ['v0', 'v1'])
      for (const k of [0, 1]) {
        s3.put(`${root}/${v}/tumor/fold-${k}/train-state.json`, new TextEncoder().encode('{"bestDice":0.5}'));
        s3.put(`${root}/${v}/tumor/fold-${k}/metrics.jsonl`, jsonl(points(2 + k, v === 'v0' ? 0.5 : 0.7)));
      }
    s3.put(`${root}/manifest.json`, new TextEncoder().encode('{"variants":[]}'));
    const args = {
      runId: '20260301T020000Z-00ab12',
      stage: 'tumor',
      manifest: `s3://${root}/manifest.json`,
      candidates: ['v0', 'v1'].map((v) => ({ variant: v, models: `s3://${root}/${v}/`, folds: [0, 1] })),
      out: `s3://${root}/metrics.json`,
    };
    const training = {
      evaluateEnsemble: vi.fn(async () => ({ runId: args.runId, stage: 'tumor', variant: 'v1' })),
      trainFold: vi.fn(),
      startBackend: vi.fn(),
    };
    const code = await runBatchStage(['evaluate-ensemble', '--args', JSON.stringify(args)], {
      s3: s3 as unknown as S3Client,
      training,
      requireGpu: false,
    } as unknown as Parameters<typeof runBatchStage>[1]);
    expect(code).toBe(0);
    const keys = [...s3.objects.keys()];
    expect(keys).toContain(`${root}/metrics.json`);
    for (const [v, top] of [
      ['v0', 0.5],
      ['v1', 0.7],
    ] as const) {
      const png = PNG.sync.read(Buffer.from(s3.objects.get(`${root}/${v}/tumor/curves.png`)!.bytes));
      expect(endsAt(png, 0, 2, top)).toBe(true);
      expect(endsAt(png, 1, 3, top)).toBe(true);
    }
  });

  it('`raunet models publish` uploads the run curves raunet train drew beside the folds', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'raunet-publish-curves-'));
    tmp.push(dir);
    await cp('models/demo/liver', join(dir, 'liver'), { recursive: true });
    const curves = new Uint8Array([137, 80, 78, 71, 1, 2, 3]);
    await writeFile(join(dir, 'liver', 'curves.png'), curves);
    const s3 = new MemoryS3();
    const registry = {
      putRun: vi.fn(),
      promoteIfBetter: vi.fn(async () => false),
    } as unknown as ModelRegistry;
    const out = await publishModels(
      { s3: s3 as unknown as S3Client, registry, modelsBucket: 'models-bucket' },
      { stage: 'liver', dir },
    );
    const stored = s3.objects.get(`${out.models.slice('s3://'.length)}liver/curves.png`);
    expect(stored?.type).toBe('image/png');
    expect(Buffer.from(stored!.bytes).equals(Buffer.from(curves))).toBe(true);
  });
});
