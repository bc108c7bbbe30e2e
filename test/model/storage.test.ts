import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import * as tf from '@tensorflow/tfjs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../lib/errors.ts';
import { buildRAUNet } from '../../lib/model/archs.ts';
import {
  loadManifest,
  loadModel,
  type ModelManifest,
  parseManifest,
  saveModel,
} from '../../lib/model/storage.ts';
import { CANONICAL_ORIENTATION } from '../../lib/volume/orientation.ts';

let dir: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  dir = await mkdtemp(join(tmpdir(), 'raunet-storage-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const manifest3d: ModelManifest = {
  arch: 'raunet2',
  width: 0.125,
  inputShape: [32, 32, 32, 1],
  stage: 'tumor',
  fold: 2,
  folds: 5,
  trainedOn: { dataset: 'phantom', cases: 3, extra: 'kept' },
  metrics: { valDice: 0.91 },
  createdAt: '2026-01-01T00:00:00.000Z',
};

/** A small 3D model with every weight (BN statistics included) set to non-default values. */
function randomisedModel(dims: 2 | 3 = 3): tf.LayersModel {
  const model =
    dims === 3
      ? buildRAUNet('raunet2', { width: 0.125, inputShape: [32, 32, 32, 1] })
      : buildRAUNet('raunet1', { width: 0.25, inputShape: [32, 32, 1] });
  let seed = 1;
  model.setWeights(
    model.weights.map((w) => {
      seed++;
      const shape = w.shape as number[];
      return w.name.endsWith('moving_variance')
        ? tf.randomUniform(shape, 0.5, 1.5, 'float32', seed)
        : tf.randomUniform(shape, -0.3, 0.3, 'float32', seed);
    }),
  );
  return model;
}

function predict(model: tf.LayersModel): Float32Array {
  const shape = [1, ...(model.inputs[0]!.shape.slice(1) as number[])];
  return tf.tidy(
    () =>
      (model.predict(tf.randomUniform(shape, 0, 1, 'float32', 42)) as tf.Tensor).dataSync() as Float32Array,
  );
}
const manifest2d: ModelManifest = {
  ...manifest3d,
  arch: 'raunet1',
  width: 0.25,
  inputShape: [32, 32, 1],
  stage: 'localize',
};

describe('model storage', () => {
  it('saves to a local folder and loads back identical predictions and the manifest', async () => {
    const model = randomisedModel();
    const before = predict(model);
    const dest = join(dir, 'tumor', 'fold-2');
    await saveModel(model, dest, manifest3d);
    const json = JSON.parse(await readFile(join(dest, 'model.json'), 'utf8'));
    expect(json.weightsManifest[0].paths).toEqual(['./weights.bin']);
    const { model: loaded, manifest } = await loadModel(dest);
    expect(manifest).toEqual(manifest3d);
    expect(loaded.countParams()).toBe(model.countParams());
    expect(predict(loaded)).toEqual(before);
    // the comparison can fail: a fresh model predicts differently
    expect(predict(buildRAUNet('raunet2', { width: 0.125, inputShape: [32, 32, 32, 1] }))).not.toEqual(
      before,
    );
  });

  it('saves to and loads from s3://bucket/prefix (mocked S3)', async () => {
    const objects = new Map<string, Uint8Array>();
    const s3 = mockClient(S3Client);
    s3.on(PutObjectCommand).callsFake((input) => {
      objects.set(`${input.Bucket}/${input.Key}`, input.Body as Uint8Array);
      return {};
    });
    s3.on(GetObjectCommand).callsFake((input) => {
      const body = objects.get(`${input.Bucket}/${input.Key}`);
      if (!body) throw Object.assign(new Error('The specified key does not exist.'), { name: 'NoSuchKey' });
      return { Body: { transformToByteArray: async () => body } };
    });
    try {
      const model = randomisedModel(2);
      const before = predict(model);
      // the comparison can fail: a fresh model predicts differently
      expect(predict(buildRAUNet('raunet1', { width: 0.25, inputShape: [32, 32, 1] }))).not.toEqual(before);
      await saveModel(model, 's3://models-bucket/runs/7/tumor/fold-2/', manifest2d);
      expect([...objects.keys()].sort()).toEqual([
        'models-bucket/runs/7/tumor/fold-2/manifest.json',
        'models-bucket/runs/7/tumor/fold-2/model.json',
        'models-bucket/runs/7/tumor/fold-2/weights.bin',
      ]);
      const { model: loaded, manifest } = await loadModel('s3://models-bucket/runs/7/tumor/fold-2');
      expect(manifest).toEqual(manifest2d);
      expect(predict(loaded)).toEqual(before);
      await expect(loadModel('s3://models-bucket/runs/8/tumor/fold-0')).rejects.toThrow(
        /s3:\/\/models-bucket\/runs\/8\/tumor\/fold-0\/manifest\.json: not found/,
      );
    } finally {
      s3.restore();
    }
  });

  it('names the missing or bad file when a model folder is incomplete or invalid', async () => {
    const model = buildRAUNet('raunet1', { width: 0.25, inputShape: [32, 32, 1] });
    const dest = join(dir, 'localize', 'fold-0');
    const manifest: ModelManifest = {
      ...manifest3d,
      arch: 'raunet1',
      inputShape: [32, 32, 1],
      stage: 'localize',
    };
    await saveModel(model, dest, manifest);
    await expect(loadManifest(dest)).resolves.toEqual(manifest);

    // truncated weights
    const weights = await readFile(join(dest, 'weights.bin'));
    await writeFile(join(dest, 'weights.bin'), weights.subarray(0, weights.length - 8));
    const truncated = await loadModel(dest).catch((e) => e);
    expect(truncated).toBeInstanceOf(InputError);
    expect(truncated.message).toMatch(/weights\.bin: holds \d+ bytes but model\.json describes \d+/);
    expect(truncated.code).toBe('TRUNCATED');

    // missing weights
    await rm(join(dest, 'weights.bin'));
    await expect(loadModel(dest)).rejects.toThrow(/fold-0\/weights\.bin: not found/);

    // invalid manifest: unknown arch, shape of the wrong rank
    await writeFile(join(dest, 'manifest.json'), JSON.stringify({ ...manifest, arch: 'unet' }));
    await expect(loadModel(dest)).rejects.toThrow(/manifest\.json: invalid model manifest: arch/);
    await writeFile(
      join(dest, 'manifest.json'),
      JSON.stringify({ ...manifest, inputShape: [32, 32, 32, 1] }),
    );
    await expect(loadManifest(dest)).rejects.toThrow(/needs 3 values for raunet1/);
    await writeFile(join(dest, 'manifest.json'), '{ not json');
    await expect(loadManifest(dest)).rejects.toThrow(/manifest\.json: invalid JSON/);

    // missing everything
    await expect(loadModel(join(dir, 'nothing-here'))).rejects.toThrow(
      /nothing-here\/manifest\.json: not found/,
    );
    // an invalid manifest is refused before anything is written
    await expect(saveModel(model, join(dir, 'never'), { ...manifest, width: -1 })).rejects.toThrow(/width/);
    await expect(readFile(join(dir, 'never', 'model.json'))).rejects.toThrow(/ENOENT/);
  });
});

describe('manifest orientation', () => {
  const base = { arch: 'raunet1', width: 0.125, inputShape: [64, 64, 1], createdAt: '2026-01-01T00:00:00Z' };
  it('records RAS (the canonical orientation), reads manifests without it, refuses another', async () => {
    expect(parseManifest({ ...base, orientation: CANONICAL_ORIENTATION }).orientation).toBe('RAS');
    expect(parseManifest(base).orientation).toBeUndefined();
    expect(() => parseManifest({ ...base, orientation: 'LPS' }, 'm.json')).toThrow(
      /m\.json: invalid model manifest: orientation/,
    );
    // The bundled demo models' manifests (written before the field) still load.
    const demo = JSON.parse(
      await readFile(join(import.meta.dirname, '../../models/demo/liver/fold-0/manifest.json'), 'utf8'),
    );
    expect(parseManifest(demo).stage).toBe('liver');
  });
});
