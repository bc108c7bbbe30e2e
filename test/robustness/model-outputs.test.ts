/**
 * `raunet export` and `raunet train` follow the no-overwrite rule of the other commands: an existing
 * output is refused (exit 2, one line naming it) unless --overwrite / --resume says otherwise, a model's
 * own files are never replaced by its export, and a model folder is never half-written
 * (`lib/output/model-folder.ts`).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildRAUNet } from '../../lib/model/archs.ts';
import { initBackend } from '../../lib/model/backend.ts';
import { loadModel, saveModel } from '../../lib/model/storage.ts';
import { MODEL_FILES, replaceModelFiles } from '../../lib/output/model-folder.ts';
import { runCli } from '../cli.ts';
import { runRaunet } from './child.ts';
import { scratchFolders, snapshot } from './inputs.ts';

const { root, fresh } = scratchFolders('raunet-model-outputs-');
const oneLine = (err: string) => expect(err.trim().split('\n'), err).toHaveLength(1);
/** `train` first names the tfjs backend it started; after that line, one line says what was refused. */
const oneErrorLine = (err: string) =>
  expect(
    err
      .trim()
      .split('\n')
      .filter((l) => !l.startsWith('tfjs backend:')),
    err,
  ).toHaveLength(1);

/** A stored width-1/4 RA-UNet-I on 32x32 slices (tfjs files and manifest, no ONNX). */
async function storeTinyModel(dir: string, note = 'tiny'): Promise<void> {
  const model = buildRAUNet('raunet1', { inputShape: [32, 32, 1], width: 0.25, seed: 7 });
  await saveModel(model, dir, {
    arch: 'raunet1',
    width: 0.25,
    inputShape: [32, 32, 1],
    createdAt: new Date().toISOString(),
    note,
  });
  model.dispose();
}

beforeAll(async () => {
  await initBackend('cpu');
});

describe('raunet export', () => {
  it('refuses an existing --out (exit 2, one line, file untouched), replaces it whole with --overwrite', async () => {
    const d = fresh();
    const model = join(d, 'model');
    await storeTinyModel(model);
    const out = join(d, 'exported.onnx');
    writeFileSync(out, 'an earlier export');
    const before = snapshot(d);

    const refused = await runCli(['export', '--model', model, '--out', out]);
    expect(refused.code).toBe(2);
    oneLine(refused.err);
    expect(refused.err).toMatch(/exported\.onnx: output exists; use --overwrite to replace it/);
    expect(snapshot(d)).toEqual(before);

    const replaced = await runCli(['export', '--model', model, '--out', out, '--overwrite']);
    expect(replaced.code, replaced.err).toBe(0);
    const bytes = readFileSync(out);
    // an ONNX ModelProto starts with field 1 (ir_version, varint): tag byte 0x08
    expect(bytes[0]).toBe(0x08);
    expect(bytes.length).toBeGreaterThan(10_000);
    expect(readdirSync(d).sort()).toEqual(['exported.onnx', 'model']);
  });

  it('refuses to replace model.onnx in the model folder without --overwrite', async () => {
    const model = join(fresh(), 'model');
    await storeTinyModel(model);
    expect((await runCli(['export', '--model', model])).code).toBe(0);
    const before = snapshot(model);
    const again = await runCli(['export', '--model', model]);
    expect(again.code).toBe(2);
    oneLine(again.err);
    expect(again.err).toMatch(/model\.onnx: output exists; use --overwrite/);
    expect(snapshot(model)).toEqual(before);
  });

  it("never writes onto one of the model's own files, even with --overwrite", async () => {
    const model = join(fresh(), 'model');
    await storeTinyModel(model);
    const before = snapshot(model);
    for (const name of ['weights.bin', 'model.json', 'manifest.json']) {
      const r = await runCli(['export', '--model', model, '--out', join(model, name), '--overwrite']);
      expect(r.code).toBe(2);
      oneLine(r.err);
      expect(r.err).toMatch(/would overwrite the input .*; refusing even with --overwrite/);
    }
    expect(snapshot(model)).toEqual(before);
  });

  it('prints its result and nothing else: no tfjs "Hi, looks like..." banner (child process)', async () => {
    // A fresh process, where no backend runs yet: what a user sees. RAUNET_BACKEND unset as for a user.
    const model = join(fresh(), 'model');
    await storeTinyModel(model);
    const r = await runRaunet(['export', '--model', model], {
      env: { RAUNET_BACKEND: '' },
      timeoutMs: 120_000,
    });
    expect(r.code, r.err).toBe(0);
    expect(r.err).not.toMatch(/looks like you are running TensorFlow\.js/);
    expect(r.err).toBe('');
    expect(r.out).toMatch(/^raunet1: wrote .*model\.onnx \(\d+\.\d MiB\)\n$/);
  });

  it("keeps tfjs's own warnings on (the banner is not silenced by tfjs's PROD flag)", async () => {
    const model = join(fresh(), 'model');
    await storeTinyModel(model);
    expect((await runCli(['export', '--model', model])).code).toBe(0);
    expect(tf.env().getBool('PROD')).toBe(false);
  });

  it('leaves no output folder behind when the export fails before writing', async () => {
    const d = fresh();
    const r = await runCli(['export', '--model', join(d, 'no-model'), '--out', join(d, 'new', 'm.onnx')]);
    expect(r.code).toBe(2);
    expect(readdirSync(d)).toEqual([]);
  });
});

describe('raunet train --out', () => {
  // The checks come before the dataset is read: no data is needed to see them.
  const train = (out: string, ...more: string[]) =>
    runCli([
      'train',
      '--data',
      join(root, 'no-data'),
      '--stage',
      'liver',
      '--out',
      out,
      '--folds',
      '3',
      ...more,
    ]);

  it('refuses a fold folder an earlier run left without a model, instead of appending to its log', async () => {
    const out = fresh();
    const fold = join(out, 'liver', 'fold-0');
    mkdirSync(fold, { recursive: true });
    writeFileSync(join(fold, 'metrics.jsonl'), '{"epoch":1}\n');
    const before = snapshot(out);
    const r = await train(out);
    expect(r.code).toBe(2);
    oneErrorLine(r.err);
    expect(r.err).toMatch(/fold-0: already holds files of an earlier run \(metrics\.jsonl\); pass --resume/);
    expect(snapshot(out)).toEqual(before);
  });

  it('checks every fold before training any: a model in fold 2 stops the run before fold 0 starts', async () => {
    const out = fresh();
    const fold2 = join(out, 'liver', 'fold-2');
    mkdirSync(fold2, { recursive: true });
    writeFileSync(join(fold2, 'manifest.json'), '{}');
    const r = await train(out);
    expect(r.code).toBe(2);
    oneErrorLine(r.err);
    expect(r.err).toMatch(/fold-2: already holds a trained model; pass --resume/);
    expect(existsSync(join(out, 'liver', 'fold-0'))).toBe(false);
  });

  it('refuses --resume on a folder that has files but nothing to resume from', async () => {
    const out = fresh();
    const fold = join(out, 'liver', 'fold-1');
    mkdirSync(fold, { recursive: true });
    writeFileSync(join(fold, 'weights.bin'), 'x');
    const r = await train(out, '--fold', '1', '--resume');
    expect(r.code).toBe(2);
    oneErrorLine(r.err);
    expect(r.err).toMatch(/fold-1: holds files \(weights\.bin\) but no train-state\.json to resume from/);
  });
});

describe('replaceModelFiles (a checkpoint is all new or all old)', () => {
  it('keeps the earlier model byte for byte when writing the new one fails, and leaves no staging folder', async () => {
    const parent = fresh();
    const dir = join(parent, 'fold-0');
    await storeTinyModel(dir, 'earlier');
    writeFileSync(join(dir, 'model.onnx'), 'earlier onnx');
    const before = snapshot(parent);
    await expect(
      replaceModelFiles(dir, async (staging) => {
        writeFileSync(join(staging, 'weights.bin'), 'new weights');
        throw Object.assign(new Error('write failed'), { code: 'ENOSPC' });
      }),
    ).rejects.toThrow(/manifest\.json: cannot write: no space left on device/);
    expect(snapshot(parent)).toEqual(before);
  });

  it('replaces every model file and removes a model.onnx the new checkpoint does not have', async () => {
    const parent = fresh();
    const dir = join(parent, 'fold-0');
    await storeTinyModel(dir, 'earlier');
    writeFileSync(join(dir, 'model.onnx'), 'stale onnx');
    writeFileSync(join(dir, 'metrics.jsonl'), 'kept\n');
    await replaceModelFiles(dir, (staging) => storeTinyModel(staging, 'newer'));
    expect(readdirSync(parent)).toEqual(['fold-0']);
    expect(readdirSync(dir).sort()).toEqual(['manifest.json', 'metrics.jsonl', 'model.json', 'weights.bin']);
    expect(readFileSync(join(dir, 'metrics.jsonl'), 'utf8')).toBe('kept\n');
    const { model, manifest } = await loadModel(dir);
    model.dispose();
    expect(manifest.note).toBe('newer');
  });

  it('a move that fails half-way leaves no manifest: never new weights under the old manifest', async () => {
    const parent = fresh();
    const dir = join(parent, 'fold-0');
    await storeTinyModel(dir, 'earlier');
    // A real failing rename: a non-empty folder where model.onnx goes (moved after the tfjs files).
    mkdirSync(join(dir, 'model.onnx', 'blocker'), { recursive: true });
    await expect(
      replaceModelFiles(dir, async (staging) => {
        await storeTinyModel(staging, 'newer');
        writeFileSync(join(staging, 'model.onnx'), 'new onnx');
      }),
    ).rejects.toThrow();
    expect(existsSync(join(dir, 'manifest.json'))).toBe(false);
    await expect(loadModel(dir)).rejects.toThrow(/manifest\.json/);
    expect(readdirSync(parent)).toEqual(['fold-0']);
    expect(MODEL_FILES).toContain('model.onnx');
  });
});
