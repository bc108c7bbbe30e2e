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
import { installWasmKernelPatches } from './wasm-kernels.ts';

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
