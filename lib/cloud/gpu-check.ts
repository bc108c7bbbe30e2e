/**
 * "Is the GPU really used?" tfjs-node-gpu quietly runs on the CPU when the CUDA 11.2 / cuDNN 8.1 libraries
 * are missing, ONNX Runtime falls back to its CPU provider when CUDA 12 is absent, and WebGPU (Dawn)
 * picks Mesa's software Vulkan driver (lavapipe) when the NVIDIA Vulkan ICD is not visible; on a GPU
 * queue that would turn minutes into hours. With `RAUNET_REQUIRE_GPU=1` the Batch entrypoint calls `assertGpu` and
 * exits with code 3 (GPU not available) instead.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { webgpuAdapter } from '../model/backend.ts';
import { type AdapterReport, formatAdapter } from '../model/webgpu-adapter.ts';

export class GpuUnavailableError extends Error {
  override readonly name = 'GpuUnavailableError';
}

/** What the host offers; injectable for tests. */
export interface GpuProbe {
  /** The NVIDIA kernel driver version line, or null when no driver is visible in the container. */
  driver(): string | null;
  /** Shared libraries the dynamic loader knows (`ldconfig -p` names). */
  libraries(): string[];
}

export const hostProbe: GpuProbe = {
  driver() {
    try {
      return readFileSync('/proc/driver/nvidia/version', 'utf8').split('\n')[0] ?? null;
    } catch {
      return null;
    }
  },
  libraries() {
    try {
      const out = execFileSync('ldconfig', ['-p'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      return out
        .split('\n')
        .map((l) => l.trim().split(' ')[0])
        .filter(Boolean);
    } catch {
      return [];
    }
  },
};

/** Libraries libtensorflow 2.9 (tfjs-node-gpu 4.x) opens for the GPU. */
const TF_GPU_LIBS = ['libcudart.so.11.0', 'libcudnn.so.8', 'libcublas.so.11'];

/**
 * Throws unless the backend that actually runs is a GPU one: ONNX engines must report `onnx-cuda`;
 * TensorFlow.js must run `webgpu` on an adapter that is a GPU (not lavapipe/SwiftShader), or the
 * `tensorflow` backend on a host with the NVIDIA driver and the CUDA 11 / cuDNN 8 libraries it loads.
 * Returns what runs, for the log (for webgpu: the adapter).
 */
export function assertGpu(
  backend: string,
  probe: GpuProbe = hostProbe,
  adapter: AdapterReport | undefined = webgpuAdapter(),
): string {
  if (backend.startsWith('onnx')) {
    if (backend !== 'onnx-cuda') {
      throw new GpuUnavailableError(`ONNX Runtime runs on ${backend}, not the CUDA execution provider`);
    }
    return backend;
  }
  if (backend === 'webgpu') {
    if (!adapter) throw new GpuUnavailableError('the webgpu backend runs without a known adapter');
    if (adapter.software) {
      throw new GpuUnavailableError(
        `WebGPU runs on the ${formatAdapter(adapter)}, not a GPU (is the NVIDIA Vulkan ICD visible? NVIDIA_DRIVER_CAPABILITIES must include graphics)`,
      );
    }
    return `webgpu on ${formatAdapter(adapter)}`;
  }
  if (backend !== 'tensorflow') {
    throw new GpuUnavailableError(
      `TensorFlow.js runs the ${backend} backend, not webgpu on a GPU or tfjs-node-gpu (tensorflow)`,
    );
  }
  if (!probe.driver()) throw new GpuUnavailableError('no NVIDIA driver visible in the container');
  const libs = new Set(probe.libraries());
  const missing = TF_GPU_LIBS.filter((l) => !libs.has(l));
  if (missing.length > 0) {
    throw new GpuUnavailableError(`tfjs-node-gpu would fall back to the CPU: missing ${missing.join(', ')}`);
  }
  return backend;
}
