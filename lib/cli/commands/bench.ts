/**
 * `raunet bench [--arch A] [--size XxYxZ] [--engine onnx|tfjs|all] [--runs N] [--json]`: forward time of
 * a full-width, randomly initialised network on this machine (warm-up, then the median of N runs).
 */
import type { Command } from 'commander';
import { InputError } from '../../errors.ts';
import { type BenchResult, benchForward, parseSize } from '../../inference/bench.ts';
import type { EngineKind } from '../../inference/engine.ts';
import { parseEngineKind } from '../../inference/load.ts';
import { ARCHS, isArchName } from '../../model/archs.ts';

interface BenchCliOptions {
  arch: string;
  size?: string;
  engine: string;
  runs: string;
  warmup: string;
  threads?: string;
  backend?: string;
  json?: boolean;
}

function positiveInt(text: string, name: string, min: number): number {
  const v = Number(text);
  if (!Number.isInteger(v) || v < min) throw new InputError(`${name} ${text}: expected an integer >= ${min}`);
  return v;
}

export function register(program: Command): void {
  program
    .command('bench')
    .description(
      'time forward passes of a full-width, randomly initialised RA-UNet (ONNX Runtime and/or tfjs)',
    )
    .option('--arch <name>', 'raunet1 | raunet2 | raunet2-brain', 'raunet2')
    .option('--size <XxY[xZ]>', 'patch size, x by y (by z); default the configuration input size')
    .option('--engine <engine>', 'onnx | tfjs | all', 'all')
    .option('--runs <n>', 'timed runs per engine (the median is reported)', '3')
    .option('--warmup <n>', 'untimed runs before them', '1')
    .option('--threads <n>', 'ONNX Runtime intra-op threads')
    .option(
      '--backend <name>',
      'tfjs backend for --engine tfjs (webgpu, wasm, cpu, ...; default RAUNET_BACKEND or the fastest)',
    )
    .option('--json', 'print { "results": [ { arch, size, engine, backend, forward_s } ] }')
    .action(async (opts: BenchCliOptions) => {
      if (!isArchName(opts.arch)) {
        throw new InputError(`--arch ${opts.arch}: expected one of ${Object.keys(ARCHS).join(', ')}`);
      }
      const engines: EngineKind[] = opts.engine === 'all' ? ['onnx', 'tfjs'] : [parseEngineKind(opts.engine)];
      const results: BenchResult[] = await benchForward({
        arch: opts.arch,
        size: opts.size ? parseSize(opts.size, ARCHS[opts.arch].dims) : undefined,
        engines,
        runs: positiveInt(opts.runs, '--runs', 1),
        warmup: positiveInt(opts.warmup, '--warmup', 0),
        threads: opts.threads ? positiveInt(opts.threads, '--threads', 1) : undefined,
        backend: opts.backend,
        onResult: opts.json
          ? undefined
          : (r) =>
              process.stdout.write(
                `${r.arch} ${r.size} ${r.engine} (${r.backend}): ${r.forward_s.toFixed(3)} s per forward pass\n`,
              ),
      });
      if (opts.json) process.stdout.write(`${JSON.stringify({ results }, null, 2)}\n`);
    });
}
