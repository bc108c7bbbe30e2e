import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { main } from '../../lib/cli/main.ts';
import { isInputError } from '../../lib/errors.ts';
import { loadEngine } from '../../lib/inference/load.ts';
import { createOnnxEngine, cudaProviderInstalled } from '../../lib/inference/onnx-engine.ts';
import { exportToOnnx } from '../../lib/inference/onnx-export.ts';
import { exportModelFolder } from '../../lib/inference/save-onnx.ts';
import { createTfjsEngine } from '../../lib/inference/tfjs-engine.ts';
import { buildRAUNet } from '../../lib/model/archs.ts';
import { saveModel } from '../../lib/model/storage.ts';
import { maxAbsDiff, randomArray, randomizeWeights, rng, tfjsForward, writeTemp } from './helpers.ts';

const L = tf.layers;

function tinyModel(): tf.LayersModel {
  const x = tf.input({ shape: [8, 8, 1], name: 'input' });
  const c = L.conv2d({ filters: 2, kernelSize: 3, padding: 'same' }).apply(x) as tf.SymbolicTensor;
  const y = L.conv2d({ filters: 1, kernelSize: 1, activation: 'sigmoid' }).apply(c) as tf.SymbolicTensor;
  const m = tf.model({ inputs: x, outputs: y });
  randomizeWeights(m, 9);
  return m;
}

async function rejects(p: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(isInputError(e), String(e)).toBe(true);
  expect((e as { code: string }).code).toBe(code);
  expect((e as Error).message).toMatch(pattern);
}

const X = randomArray(64, 0, 1, rng(1));
const SHAPE = [1, 8, 8, 1];

describe('tfjs engine', () => {
  it('returns the model output, leaks no tensors and checks the input length', async () => {
    const model = tinyModel();
    const want = tfjsForward(model, X, SHAPE);
    const engine = createTfjsEngine(model);
    expect(engine.kind).toBe('tfjs');
    expect(engine.backend).toBe(tf.getBackend());
    const before = tf.memory().numTensors;
    const got = await engine.predict(X, SHAPE);
    expect(tf.memory().numTensors).toBe(before);
    expect(Array.from(got)).toEqual(Array.from(want));
    await rejects(engine.predict(X, [1, 8, 8, 2]), 'BAD_ARGUMENT', /64 values.*needs 128/);
    await engine.dispose();
    await expect(engine.predict(X, SHAPE)).rejects.toThrow(/after dispose/);
  });

  it('lets the event loop turn before each forward pass, and refuses a pass disposed meanwhile', async () => {
    const engine = createTfjsEngine(tinyModel());
    let turned = false;
    setImmediate(() => {
      turned = true;
    });
    await engine.predict(X, SHAPE);
    // The CPU backends compute synchronously and resolve at once: without the yield, no macrotask runs.
    expect(turned).toBe(true);
    const pending = engine.predict(X, SHAPE);
    await engine.dispose();
    await expect(pending).rejects.toThrow(/after dispose/);
  });
});

describe('ONNX Runtime engine', () => {
  it('runs an exported model from a file or from bytes, on CPU here', async () => {
    const model = tinyModel();
    const want = tfjsForward(model, X, SHAPE);
    const bytes = exportToOnnx(model);
    const path = writeTemp('tiny.onnx', bytes);
    for (const src of [path, bytes]) {
      const engine = await createOnnxEngine(src, { threads: 1 });
      expect(engine.kind).toBe('onnx');
      expect(engine.backend).toBe('onnx-cpu');
      expect(maxAbsDiff(await engine.predict(X, SHAPE), want)).toBeLessThan(1e-6);
      await rejects(engine.predict(X.subarray(1), SHAPE), 'BAD_ARGUMENT', /63 values/);
      await engine.dispose();
    }
    model.dispose();
  });

  it('falls back to CPU when CUDA is asked for but not installed', async () => {
    if (cudaProviderInstalled()) return; // a GPU image: nothing to fall back from
    const engine = await createOnnxEngine(exportToOnnx(tinyModel()), { cuda: true });
    expect(engine.backend).toBe('onnx-cpu');
    await engine.dispose();
  });

  it('names the file of a missing or corrupt model', async () => {
    await rejects(createOnnxEngine('/nonexistent/model.onnx'), 'NOT_FOUND', /nonexistent\/model.onnx/);
    const junk = writeTemp('junk.onnx', new TextEncoder().encode('not a protobuf at all'));
    await rejects(createOnnxEngine(junk), 'BAD_HEADER', /junk\.onnx: not a loadable ONNX model/);
    await rejects(createOnnxEngine(junk, { threads: -1 }), 'BAD_ARGUMENT', /threads/);
  });
});

describe('loadEngine and raunet export on a stored model folder', () => {
  it('uses tfjs without model.onnx, ONNX after export, and both agree', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'raunet-model-'));
    const inputShape = [32, 32, 1];
    const model = buildRAUNet('raunet1', { inputShape, width: 0.25 });
    randomizeWeights(model, 5);
    await saveModel(model, dir, {
      arch: 'raunet1',
      width: 0.25,
      inputShape,
      createdAt: new Date().toISOString(),
    });
    model.dispose();
    const x = randomArray(32 * 32, 0, 1, rng(6));
    const shape = [1, 32, 32, 1];

    await rejects(
      loadEngine(dir, { engine: 'onnx' }),
      'NOT_FOUND',
      /model\.onnx: not found; create it with: raunet export/,
    );
    const t = await loadEngine(dir);
    expect(t.engine.kind).toBe('tfjs');
    expect(t.manifest.arch).toBe('raunet1');
    const viaTfjs = await t.engine.predict(x, shape);
    await t.engine.dispose();

    const out = join(dir, 'elsewhere', 'exported.onnx');
    expect(await main(['node', 'raunet', 'export', '--model', dir, '--out', out])).toBe(0);
    expect(existsSync(out)).toBe(true);
    expect(existsSync(join(dir, 'model.onnx'))).toBe(false);
    const written = await exportModelFolder(dir);
    expect(written.path).toBe(join(dir, 'model.onnx'));

    const o = await loadEngine(dir, { threads: 1 });
    expect(o.engine.kind).toBe('onnx');
    expect(maxAbsDiff(await o.engine.predict(x, shape), viaTfjs)).toBeLessThan(1e-4);
    await o.engine.dispose();
    const forced = await loadEngine(dir, { engine: 'tfjs' });
    expect(forced.engine.kind).toBe('tfjs');
    await forced.engine.dispose();

    // a corrupt model.onnx: explicit ONNX fails naming the file, the default falls back to tfjs
    writeFileSync(join(dir, 'model.onnx'), 'garbage');
    await rejects(loadEngine(dir, { engine: 'onnx' }), 'BAD_HEADER', /model\.onnx/);
    const fallback = await loadEngine(dir);
    expect(fallback.engine.kind).toBe('tfjs');
    await fallback.engine.dispose();
  });

  it('raunet export on a folder without a model is a usage error naming the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'raunet-empty-'));
    expect(await main(['node', 'raunet', 'export', '--model', dir])).toBe(2);
  });
});
