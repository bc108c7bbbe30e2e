/**
 * TensorFlow.js backend selection: the native bindings when installed (optional dependencies:
 * @tensorflow/tfjs-node-gpu, then @tensorflow/tfjs-node), then WebGPU on Dawn (the `webgpu` package)
 * when its adapter is a real GPU, then WebAssembly, then pure JavaScript. `RAUNET_BACKEND` (or the
 * `preferred` argument) picks one explicitly (`webgpu` also on a software adapter such as lavapipe);
 * `RAUNET_REQUIRE_GPU=1` accepts only a GPU backend (tfjs-node-gpu, or webgpu on a GPU adapter). One line
 * on stderr says which backend runs (and, for webgpu, which adapter).
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { InputError } from '../errors.ts';
import { installCpuKernelFixes } from './cpu-kernels.ts';
import { installWasmKernelPatches } from './wasm-kernels.ts';
import { type AdapterReport, ensureNavigatorGpu, formatAdapter } from './webgpu-adapter.ts';

export type BackendChoice = 'tensorflow-gpu' | 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';

/** Names accepted for `RAUNET_BACKEND` / `preferred`. */
const ALIASES: Record<string, BackendChoice> = {
  'tensorflow-gpu': 'tensorflow-gpu',
  'tfjs-node-gpu': 'tensorflow-gpu',
  'node-gpu': 'tensorflow-gpu',
  gpu: 'tensorflow-gpu',
  tensorflow: 'tensorflow',
  'tfjs-node': 'tensorflow',
  node: 'tensorflow',
  webgpu: 'webgpu',
  dawn: 'webgpu',
  wasm: 'wasm',
  cpu: 'cpu',
};

export const BACKEND_ORDER: readonly BackendChoice[] = [
  'tensorflow-gpu',
  'tensorflow',
  'webgpu',
  'wasm',
  'cpu',
];

/** The backends that run on a GPU (what `RAUNET_REQUIRE_GPU=1` accepts without an explicit choice). */
const GPU_BACKENDS: readonly BackendChoice[] = ['tensorflow-gpu', 'webgpu'];

/** The npm package each backend loads (for the image smoke test and messages). */
export const BACKEND_PACKAGE: Record<BackendChoice, string> = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
  webgpu: '@tensorflow/tfjs-backend-webgpu',
  wasm: '@tensorflow/tfjs-backend-wasm',
  cpu: '@tensorflow/tfjs',
};

/** Whether `RAUNET_REQUIRE_GPU` asks for a GPU backend (1/true/yes). */
export function gpuRequired(env: NodeJS.ProcessEnv = process.env): boolean {
  return /^(1|true|yes)$/i.test(env.RAUNET_REQUIRE_GPU?.trim() ?? '');
}

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

let adapter: AdapterReport | undefined;

/**
 * Starts tfjs-backend-webgpu on the `webgpu` package's adapter. `autoSelected`: refuse a software
 * adapter (a CPU is faster with wasm); `requireGpu`: refuse it even when asked for explicitly.
 */
async function activateWebGpu(autoSelected: boolean, requireGpu: boolean): Promise<void> {
  const found = await ensureNavigatorGpu();
  if (found.software && (autoSelected || requireGpu)) {
    const why = requireGpu ? 'RAUNET_REQUIRE_GPU=1 refuses' : 'skipped';
    throw new Error(`${why} the software adapter ${formatAdapter(found)}`);
  }
  await import('@tensorflow/tfjs-backend-webgpu'); // registers 'webgpu' now that navigator.gpu exists
  const { installWebGpuKernelPatches, patchWebGpuBackendInstance } = await import('./webgpu-kernels.ts');
  const { defaultConv3dKernels } = await import('./webgpu-conv3d.ts');
  installWebGpuKernelPatches(defaultConv3dKernels(found.software, process.env.RAUNET_WEBGPU_CONV3D));
  if (!(await tf.setBackend('webgpu'))) throw new Error('the webgpu backend failed to initialise');
  patchWebGpuBackendInstance();
  adapter = found;
}

async function activate(choice: BackendChoice, autoSelected: boolean, requireGpu: boolean): Promise<void> {
  if (choice === 'webgpu') return activateWebGpu(autoSelected, requireGpu);
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
    installWasmKernelPatches();
    if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend failed to initialise');
    return;
  }
  if (!(await tf.setBackend('cpu'))) throw new Error('the cpu backend failed to initialise');
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
  installCpuKernelFixes(); // the cpu kernels serve as fallbacks of wasm's too
  const explicit = preferred ?? process.env.RAUNET_BACKEND;
  const source = preferred ? 'backend' : 'RAUNET_BACKEND';
  const requireGpu = gpuRequired();
  const candidates = explicit
    ? [parseBackendChoice(explicit, source)]
    : BACKEND_ORDER.filter((c) => !requireGpu || GPU_BACKENDS.includes(c));
  if (requireGpu && !candidates.some((c) => GPU_BACKENDS.includes(c))) {
    throw new InputError(
      `RAUNET_REQUIRE_GPU=1 but ${source} selects ${candidates[0]}, not a GPU backend`,
      'BAD_ARGUMENT',
    );
  }
  const failures: string[] = [];
  for (const choice of candidates) {
    try {
      await activate(choice, !explicit, requireGpu);
      await tf.ready();
      active = tf.getBackend();
      const pkg =
        choice === 'tensorflow-gpu' || choice === 'tensorflow'
          ? ` (${NATIVE_PACKAGE[choice]})`
          : choice === 'webgpu' && adapter
            ? ` (${formatAdapter(adapter)})`
            : '';
      log(`tfjs backend: ${active}${pkg}${failures.length ? `; skipped ${failures.join(', ')}` : ''}`);
      return active;
    } catch (e) {
      failures.push(`${choice}: ${firstLine(e)}`);
    }
  }
  const what = requireGpu && !explicit ? 'could not start a GPU backend' : 'could not start backend';
  throw new InputError(`${source}: ${what} ${failures.join('; ')}`, 'BAD_ARGUMENT');
}

/** The WebGPU adapter the webgpu backend runs on (undefined until it started). */
export function webgpuAdapter(): AdapterReport | undefined {
  return adapter;
}

/**
 * For commands that only build or read models (`export`, `model summary`): start a tfjs backend as the
 * other tfjs commands do (`initBackend`), before the model is built or loaded: left to itself tfjs falls
 * back to its pure-JS cpu backend, which greets Node users with a "Hi, looks like you are running
 * TensorFlow.js in Node.js" banner on stderr. Building and reading weights do not depend on the backend
 * (the export's bytes are the same on each): wasm unless RAUNET_BACKEND names another (no probing of
 * native or WebGPU backends, whose loaders have their own chatter), and its "tfjs backend: ..." line is
 * not printed. tfjs's real warnings stay on (no PROD flag).
 */
export async function startQuietBackend(): Promise<void> {
  if (activeBackend()) return;
  await initBackend(process.env.RAUNET_BACKEND?.trim() ? undefined : 'wasm', () => {});
}

/** The backend chosen by the last `initBackend` (undefined before). */
export function activeBackend(): string | undefined {
  return active;
}

function firstLine(e: unknown): string {
  if ((e as { code?: string })?.code === 'ERR_MODULE_NOT_FOUND') return 'not installed';
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0]!.slice(0, 200);
}

function stderrLine(line: string): void {
  process.stderr.write(`${line}\n`);
}
