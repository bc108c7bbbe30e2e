/**
 * TensorFlow.js backend selection: the native bindings when installed (optional dependencies:
 * @tensorflow/tfjs-node-gpu, then @tensorflow/tfjs-node), then WebAssembly, then pure JavaScript.
 * `RAUNET_BACKEND` (or the `preferred` argument) picks one explicitly. One line on stderr says which
 * backend runs.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { InputError } from '../errors.ts';

export type BackendChoice = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';

/** Names accepted for `RAUNET_BACKEND` / `preferred`. */
const ALIASES: Record<string, BackendChoice> = {
  'tensorflow-gpu': 'tensorflow-gpu',
  'tfjs-node-gpu': 'tensorflow-gpu',
  'node-gpu': 'tensorflow-gpu',
  gpu: 'tensorflow-gpu',
  tensorflow: 'tensorflow',
  'tfjs-node': 'tensorflow',
  node: 'tensorflow',
  wasm: 'wasm',
  cpu: 'cpu',
};

export const BACKEND_ORDER: readonly BackendChoice[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

const NATIVE_PACKAGE: Record<'tensorflow-gpu' | 'tensorflow', string> = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
};

export function parseBackendChoice(name: string, source = 'backend'): BackendChoice {
  const choice = ALIASES[name.trim().toLowerCase()];
  if (!choice) {
    throw new InputError(
      `${source}: unknown backend '${name}' (expected one of ${Object.keys(ALIASES).join(', ')})`,
      'BAD_ARGUMENT',
    );
  }
  return choice;
}

/** Folder holding the tfjs-backend-wasm `.wasm` binaries (its `dist/`). */
export function wasmBinaryDir(): string {
  const require = createRequire(import.meta.url);
  return `${dirname(require.resolve('@tensorflow/tfjs-backend-wasm'))}/`;
}

async function activate(choice: BackendChoice): Promise<void> {
  if (choice === 'tensorflow-gpu' || choice === 'tensorflow') {
    // Optional dependencies: a variable specifier keeps bundlers and the type checker from requiring them.
    const spec: string = NATIVE_PACKAGE[choice];
    await import(spec);
    if (!(await tf.setBackend('tensorflow'))) throw new Error(`${spec} did not register its backend`);
    return;
  }
  if (choice === 'wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    wasm.setWasmPaths(wasmBinaryDir());
    registerWasmConv2DBackpropFilter();
    registerWasmConv3DBackpropInput();
    if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend failed to initialise');
    return;
  }
  if (!(await tf.setBackend('cpu'))) throw new Error('the cpu backend failed to initialise');
}

/**
 * tfjs-backend-wasm 4.x has no `Conv2DBackpropFilter` kernel, so no 2D network can train on it. The
 * filter gradient of a 2D convolution is the 3D one with a depth-1 input and a depth-1 filter, which
 * wasm has: run `Conv3DBackpropFilterV2` on [n, 1, h, w, c] views of the same buffers.
 */
export function registerWasmConv2DBackpropFilter(): void {
  if (tf.getKernel('Conv2DBackpropFilter', 'wasm')) return;
  const conv3d = tf.getKernel('Conv3DBackpropFilterV2', 'wasm');
  if (!conv3d) return;
  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
      const a = attrs as unknown as {
        strides: number | [number, number];
        pad: unknown;
        dataFormat?: string;
        filterShape: [number, number, number, number];
      };
      const [sh, sw] = typeof a.strides === 'number' ? [a.strides, a.strides] : a.strides;
      // Stride 1 only: the wasm 3D kernel disagrees with the cpu backend for strided 'same' convolutions.
      if (
        (a.dataFormat ?? 'NHWC') !== 'NHWC' ||
        (a.pad !== 'same' && a.pad !== 'valid') ||
        sh !== 1 ||
        sw !== 1
      ) {
        throw new Error(
          `Conv2DBackpropFilter on wasm: only NHWC, stride 1, 'same'/'valid' padding are supported`,
        );
      }
      const as5d = (t: tf.TensorInfo): tf.TensorInfo => ({
        ...t,
        shape: [t.shape[0]!, 1, ...t.shape.slice(1)],
      });
      const dw = conv3d.kernelFunc({
        inputs: { x: as5d(x), dy: as5d(dy) },
        backend,
        attrs: { strides: [1, sh, sw], pad: a.pad, filterShape: [1, ...a.filterShape] },
      }) as tf.TensorInfo;
      return { dataId: dw.dataId, shape: [...a.filterShape], dtype: dw.dtype };
    },
  });
}

/**
 * tfjs-backend-wasm 4.22's `Conv3DBackpropInputV2` returns wrong input gradients (checked against the
 * cpu backend and finite differences), so 3D networks would train on garbage. For stride 1 with odd
 * kernels and 'same' padding (all the networks use), the input gradient is the forward convolution of
 * dy with the spatially flipped filter whose in/out channels are swapped; wasm's forward Conv3D is right.
 */
export function registerWasmConv3DBackpropInput(): void {
  const conv3d = tf.getKernel('Conv3D', 'wasm');
  const reverse = tf.getKernel('Reverse', 'wasm');
  const transpose = tf.getKernel('Transpose', 'wasm');
  if (!conv3d || !reverse || !transpose) return;
  tf.unregisterKernel('Conv3DBackpropInputV2', 'wasm');
  tf.registerKernel({
    kernelName: 'Conv3DBackpropInputV2',
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
      const a = attrs as unknown as { strides: number | number[]; pad: unknown };
      const strides = typeof a.strides === 'number' ? [a.strides] : a.strides;
      const [fd, fh, fw] = filter.shape as number[];
      if (a.pad !== 'same' || strides.some((s) => s !== 1) || [fd!, fh!, fw!].some((k) => k % 2 !== 1)) {
        throw new Error(
          `Conv3DBackpropInputV2 on wasm: only stride 1, odd kernels, 'same' padding are supported`,
        );
      }
      const b = backend as { disposeData(id: object): void };
      const flipped = reverse.kernelFunc({
        inputs: { x: filter },
        backend,
        attrs: { dims: [0, 1, 2] },
      }) as tf.TensorInfo;
      const swapped = transpose.kernelFunc({
        inputs: { x: flipped },
        backend,
        attrs: { perm: [0, 1, 2, 4, 3] },
      }) as tf.TensorInfo;
      b.disposeData(flipped.dataId);
      const dx = conv3d.kernelFunc({
        inputs: { x: dy, filter: swapped },
        backend,
        attrs: { strides: [1, 1, 1], pad: 'same', dilations: [1, 1, 1] },
      }) as tf.TensorInfo;
      b.disposeData(swapped.dataId);
      return dx;
    },
  });
}

let active: string | undefined;

/**
 * Picks and activates the backend; resolves to the tfjs backend name that runs (`tensorflow`, `wasm`
 * or `cpu`). An explicit choice (argument, else `RAUNET_BACKEND`) that cannot load is an error; without
 * one, the first backend of BACKEND_ORDER that loads wins.
 */
export async function initBackend(
  preferred?: string,
  log: (line: string) => void = stderrLine,
): Promise<string> {
  const explicit = preferred ?? process.env.RAUNET_BACKEND;
  const source = preferred ? 'backend' : 'RAUNET_BACKEND';
  const candidates = explicit ? [parseBackendChoice(explicit, source)] : BACKEND_ORDER;
  const failures: string[] = [];
  for (const choice of candidates) {
    try {
      await activate(choice);
      await tf.ready();
      active = tf.getBackend();
      const pkg =
        choice === 'tensorflow-gpu' || choice === 'tensorflow' ? ` (${NATIVE_PACKAGE[choice]})` : '';
      log(`tfjs backend: ${active}${pkg}${failures.length ? `; skipped ${failures.join(', ')}` : ''}`);
      return active;
    } catch (e) {
      failures.push(`${choice}: ${firstLine(e)}`);
    }
  }
  throw new InputError(`${source}: could not start backend ${failures.join('; ')}`, 'BAD_ARGUMENT');
}

/** The backend chosen by the last `initBackend` (undefined before). */
export function activeBackend(): string | undefined {
  return active;
}

function firstLine(e: unknown): string {
  if ((e as { code?: string })?.code === 'ERR_MODULE_NOT_FOUND') return 'not installed';
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0]!.slice(0, 120);
}

function stderrLine(line: string): void {
  process.stderr.write(`${line}\n`);
}
