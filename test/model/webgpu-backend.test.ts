/**
 * Selection of the webgpu backend: names, the adapter report, and the rules for software adapters
 * (lavapipe in CI): chosen when asked for, skipped by the automatic order, refused with RAUNET_REQUIRE_GPU=1.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { exportToOnnx } from '../../lib/inference/onnx-export.ts';
import { saveOnnx } from '../../lib/inference/save-onnx.ts';
import { buildRAUNet } from '../../lib/model/archs.ts';
import { initBackend, parseBackendChoice, webgpuAdapter } from '../../lib/model/backend.ts';
import { ensureNavigatorGpu, formatAdapter, isSoftwareAdapter } from '../../lib/model/webgpu-adapter.ts';
import { startWebGpu, webgpuSuiteRuns } from './webgpu-gate.ts';

const saved = { backend: process.env.RAUNET_BACKEND, gpu: process.env.RAUNET_REQUIRE_GPU };
afterEach(async () => {
  for (const [k, v] of [
    ['RAUNET_BACKEND', saved.backend],
    ['RAUNET_REQUIRE_GPU', saved.gpu],
  ] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await tf.setBackend('cpu');
});

describe('webgpu backend names and adapters', () => {
  it('accepts webgpu and dawn', () => {
    expect(parseBackendChoice('WebGPU')).toBe('webgpu');
    expect(parseBackendChoice('dawn')).toBe('webgpu');
  });

  it('tells software adapters from GPUs', () => {
    const base = {
      vendor: 'mesa',
      architecture: '',
      device: 'llvmpipe (LLVM 15.0.6, 256 bits)',
      description: '',
    };
    expect(isSoftwareAdapter(base)).toBe(true);
    expect(isSoftwareAdapter({ ...base, device: 'SwiftShader Device' })).toBe(true);
    expect(isSoftwareAdapter({ ...base, device: 'x', isFallbackAdapter: true })).toBe(true);
    const h200 = { vendor: 'nvidia', architecture: 'hopper', device: 'NVIDIA H200', description: '570.86' };
    expect(isSoftwareAdapter(h200)).toBe(false);
    expect(formatAdapter({ ...h200, software: false })).toBe('nvidia hopper (NVIDIA H200, 570.86) GPU');
  });

  it('RAUNET_REQUIRE_GPU=1 refuses an explicit CPU backend', async () => {
    process.env.RAUNET_REQUIRE_GPU = '1';
    await expect(initBackend('wasm', () => {})).rejects.toThrow(
      /RAUNET_REQUIRE_GPU=1 but backend selects wasm/,
    );
  });
});

const runs = await webgpuSuiteRuns('webgpu backend selection');

describe.skipIf(!runs)('webgpu backend on the adapter of this machine', () => {
  beforeAll(startWebGpu);

  it('starts when asked for, and reports the adapter in its log line', async () => {
    const lines: string[] = [];
    expect(await initBackend('webgpu', (l) => lines.push(l))).toBe('webgpu');
    const adapter = webgpuAdapter()!;
    expect(adapter).toEqual(await ensureNavigatorGpu());
    expect(lines).toEqual([`tfjs backend: webgpu (${formatAdapter(adapter)})`]);
    const sum = tf.sum(tf.add(tf.ones([2, 3, 4, 5, 6]), tf.range(0, 6)));
    expect((await sum.data())[0]).toBe(720 + 15 * 120);
    sum.dispose();
  });

  it('exports a model held in GPU memory to ONNX, byte for byte the export of the cpu backend', async () => {
    const build = () => buildRAUNet('raunet1', { width: 0.125, inputShape: [32, 32, 1], seed: 3 });
    await tf.setBackend('cpu');
    const onCpu = build();
    const reference = exportToOnnx(onCpu);
    onCpu.dispose();
    await tf.setBackend('webgpu');
    const onGpu = build();
    tf.tidy(() => onGpu.predict(tf.ones([1, 32, 32, 1]))); // weights now live on the GPU
    const dir = mkdtempSync(path.join(tmpdir(), 'raunet-webgpu-onnx-'));
    try {
      await saveOnnx(onGpu, dir);
      expect(Buffer.compare(readFileSync(path.join(dir, 'model.onnx')), Buffer.from(reference))).toBe(0);
    } finally {
      onGpu.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('on a software adapter: skipped by the automatic order, refused with RAUNET_REQUIRE_GPU=1', async () => {
    const adapter = await ensureNavigatorGpu();
    if (!adapter.software) {
      console.warn(
        `webgpu-backend: ${formatAdapter(adapter)} is a GPU; the software-adapter rules are not exercised`,
      );
      return;
    }
    delete process.env.RAUNET_BACKEND;
    const lines: string[] = [];
    expect(await initBackend(undefined, (l) => lines.push(l))).not.toBe('webgpu');
    expect(lines[0]).toMatch(/skipped .*webgpu: skipped the software adapter mesa/);
    process.env.RAUNET_REQUIRE_GPU = '1';
    await expect(initBackend('webgpu', () => {})).rejects.toThrow(
      /RAUNET_REQUIRE_GPU=1 refuses the software adapter/,
    );
    await expect(initBackend(undefined, () => {})).rejects.toThrow(
      /could not start a GPU backend .*webgpu: RAUNET_REQUIRE_GPU=1 refuses the software adapter/,
    );
  });
});
