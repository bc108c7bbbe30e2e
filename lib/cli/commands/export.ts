/** `raunet export --model <dir> [--out <model.onnx>] [--overwrite]`: ONNX export of a stored tfjs model. */
import type { Command } from 'commander';
import { exportModelFolder } from '../../inference/save-onnx.ts';
import { startQuietBackend } from '../../model/backend.ts';

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
