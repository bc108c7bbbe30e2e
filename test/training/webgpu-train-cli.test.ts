/**
 * `RAUNET_BACKEND=webgpu raunet train --stage liver` as a user runs it (the CLI in a child process, on
 * Mesa's lavapipe adapter in CI): it trains on the webgpu backend, and the model it writes exports to
 * ONNX with parity (ONNX Runtime on the exported graph against the saved tfjs model on the cpu backend).
 * Gated like the other WebGPU suites: fails without an adapter when RAUNET_REQUIRE_WEBGPU_TESTS=1.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../lib/model/backend.ts';
import { loadModel } from '../../lib/model/storage.ts';
import { REPO_ROOT } from '../../lib/repo-root.ts';
import { writeNifti } from '../../lib/volume/nifti.ts';
import { createVolume, type Vec3 } from '../../lib/volume/volume.ts';
import { values, webgpuSuiteRuns } from '../model/webgpu-gate.ts';

const run = promisify(execFile);
const DIMS: Vec3 = [64, 64, 32];

/** Cases of 64x64x32 voxels: a 30x24x14 "liver" block at 60 HU in a -50 HU body, moving with the case. */
async function writeCases(dir: string, count: number): Promise<void> {
  const [nx, ny, nz] = DIMS;
  for (let n = 0; n < count; n++) {
    const ct = new Int16Array(nx * ny * nz).fill(-50);
    const seg = new Uint8Array(ct.length);
    const x0 = 10 + 3 * n;
    for (let k = 8; k < 22; k++)
      for (let j = 20; j < 44; j++)
        for (let i = x0; i < x0 + 30; i++) {
          ct[i + nx * (j + ny * k)] = 60;
          seg[i + nx * (j + ny * k)] = 1;
        }
    await writeNifti(join(dir, `volume-${n}.nii.gz`), createVolume(ct, DIMS, [2, 2, 3]));
    await writeNifti(join(dir, `segmentation-${n}.nii.gz`), createVolume(seg, DIMS, [2, 2, 3]));
  }
}

const runs = await webgpuSuiteRuns('raunet train on webgpu');

describe.skipIf(!runs)('RAUNET_BACKEND=webgpu raunet train', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'raunet-webgpu-train-'));
    await mkdir(join(root, 'data'));
    await writeCases(join(root, 'data'), 4);
  });
  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('trains the liver stage on the webgpu backend and its ONNX export matches the tfjs model', async () => {
    const out = join(root, 'models');
    const args = ['bin/raunet.js', 'train', '--data', join(root, 'data'), '--stage', 'liver', '--out', out];
    args.push('--folds', '2', '--fold', '0', '--recipe', 'fast', '--epochs', '1', '--steps-per-epoch', '2');
    args.push('--batch-size', '1', '--per-case', '2', '--width', '0.125', '--patch', '64x64x32');
    const { stderr } = await run(process.execPath, args, {
      cwd: REPO_ROOT,
      env: { ...process.env, RAUNET_BACKEND: 'webgpu' },
      timeout: 240_000,
    });
    // The backend line names the adapter; a silent fall-back to another backend would fail here.
    expect(stderr).toMatch(/^tfjs backend: webgpu \(/m);
    const fold = join(out, 'liver', 'fold-0');
    const epochs = (await readFile(join(fold, 'metrics.jsonl'), 'utf8')).trim().split('\n');
    expect(epochs).toHaveLength(1);
    const line = JSON.parse(epochs[0]!) as { steps: number; loss: number; valDice: number };
    expect(line.steps).toBe(2);
    expect(Number.isFinite(line.loss) && line.loss > 0 && line.loss < 1).toBe(true);
    expect(Number.isFinite(line.valDice)).toBe(true);

    await initBackend('cpu', () => {});
    const { model } = await loadModel(fold);
    const shape = [1, 32, 64, 64, 1];
    const x = values(32 * 64 * 64, 5);
    const input = tf.tensor(x, shape);
    const prediction = model.predict(input) as tf.Tensor;
    const want = await prediction.data();
    tf.dispose([input, prediction]);
    model.dispose();
    const session = await ort.InferenceSession.create(join(fold, 'model.onnx'));
    const result = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', x, shape) });
    const got = result[session.outputNames[0]!]!.data as Float32Array;
    expect(got.length).toBe(want.length);
    let maxDiff = 0;
    let maskDiff = 0;
    for (let i = 0; i < want.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(want[i]! - got[i]!));
      if (want[i]! >= 0.5 !== got[i]! >= 0.5) maskDiff++;
    }
    expect(maxDiff).toBeLessThan(1e-4);
    expect(maskDiff).toBe(0);
  });
});
