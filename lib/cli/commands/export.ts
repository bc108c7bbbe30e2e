/** `raunet export --model <dir> [--out <model.onnx>] [--overwrite]`: ONNX export of a stored tfjs model. */
import type { Command } from 'commander';
import { exportModelFolder } from '../../inference/save-onnx.ts';
import { activeBackend, initBackend } from '../../model/backend.ts';

/**
 * Start a tfjs backend as the other tfjs commands do (`initBackend`), before the model is loaded: left
 * to itself tfjs falls back to its pure-JS cpu backend, which greets Node users with a "Hi, looks like
 * you are running TensorFlow.js in Node.js" banner on stderr. The export only reads the weights, so the
 * backend does not change a byte of it: wasm unless RAUNET_BACKEND names another (no probing of native
 * or WebGPU backends, whose loaders have their own chatter), and its "tfjs backend: ..." line is not
 * printed. tfjs's real warnings stay on (no PROD flag).
 */
async function startQuietBackend(): Promise<void> {
  if (activeBackend()) return;
  await initBackend(process.env.RAUNET_BACKEND?.trim() ? undefined : 'wasm', () => {});
}

export function register(program: Command): void {
  program
    .command('export')
    .description('export a stored RA-UNet (model.json + weights.bin + manifest.json) to ONNX')
    .requiredOption('--model <dir>', 'model folder or s3://bucket/prefix')
    .option('--out <file>', 'ONNX file to write (default: model.onnx inside the model folder)')
    .option('--overwrite', 'replace an existing ONNX file (never one of the model files)')
    .action(async (opts: { model: string; out?: string; overwrite?: boolean }) => {
      await startQuietBackend();
      const r = await exportModelFolder(opts.model, opts.out, { overwrite: opts.overwrite });
      process.stdout.write(`${r.arch}: wrote ${r.path} (${(r.bytes / 2 ** 20).toFixed(1)} MiB)\n`);
    });
}
