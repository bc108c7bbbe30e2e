/** `raunet export --model <dir> [--out <model.onnx>]`: ONNX export of a stored tfjs model. */
import type { Command } from 'commander';
import { exportModelFolder } from '../../inference/save-onnx.ts';

export function register(program: Command): void {
  program
    .command('export')
    .description('export a stored RA-UNet (model.json + weights.bin + manifest.json) to ONNX')
    .requiredOption('--model <dir>', 'model folder or s3://bucket/prefix')
    .option('--out <file>', 'ONNX file to write (default: model.onnx inside the model folder)')
    .action(async (opts: { model: string; out?: string }) => {
      const r = await exportModelFolder(opts.model, opts.out);
      process.stdout.write(`${r.arch}: wrote ${r.path} (${(r.bytes / 2 ** 20).toFixed(1)} MiB)\n`);
    });
}
