/** `raunet model summary`: the layer table and parameter counts of an RA-UNet configuration. */
import type { Command } from 'commander';
import { InputError } from '../../errors.ts';
import { ARCHS, buildRAUNet, isArchName } from '../../model/archs.ts';
import { startQuietBackend } from '../../model/backend.ts';

export interface ModelSummary {
  arch: string;
  params: number;
  trainableParams: number;
  inputShape: Array<number | null>;
  outputShape: Array<number | null>;
}

export interface LayerRow {
  name: string;
  className: string;
  outputShape: Array<number | null>;
  params: number;
  inputs: string[];
}

export function summarize(
  arch: string,
  width = 1,
  inputShape?: number[],
): { summary: ModelSummary; layers: LayerRow[] } {
  if (!isArchName(arch)) {
    throw new InputError(
      `--arch: unknown architecture '${arch}' (expected ${Object.keys(ARCHS).join(', ')})`,
    );
  }
  const model = buildRAUNet(arch, { width, inputShape });
  try {
    const trainableParams = model.trainableWeights.reduce(
      (s, w) => s + (w.shape as number[]).reduce((a, b) => a * b, 1),
      0,
    );
    const layers: LayerRow[] = model.layers.map((l) => ({
      name: l.name,
      className: l.getClassName(),
      outputShape: l.outputShape as Array<number | null>,
      params: l.countParams(),
      inputs: l.inboundNodes.flatMap((n) => n.inboundLayers.map((i) => i.name)),
    }));
    return {
      summary: {
        arch,
        params: model.countParams(),
        trainableParams,
        inputShape: model.inputs[0]!.shape.slice(1),
        outputShape: model.outputs[0]!.shape.slice(1),
      },
      layers,
    };
  } finally {
    model.dispose();
  }
}

function parseWidth(v: string): number {
  const w = Number(v);
  if (!(w > 0) || !Number.isFinite(w))
    throw new InputError(`--width: expected a positive number, got '${v}'`);
  return w;
}

function parseShape(v: string): number[] {
  const s = v.split(/[,x]/).map((p) => Number(p.trim()));
  if (s.some((n) => !Number.isInteger(n) || n <= 0)) {
    throw new InputError(`--input-shape: expected positive integers like 32,128,128,1, got '${v}'`);
  }
  return s;
}

const fmtShape = (s: Array<number | null>) => `[${s.map((v) => (v == null ? '?' : v)).join(', ')}]`;

export function register(program: Command): void {
  const model = program.command('model').description('RA-UNet network configurations');
  model
    .command('summary')
    .description('print the layer table and parameter counts of a configuration')
    .requiredOption('--arch <name>', `configuration: ${Object.keys(ARCHS).join(' | ')}`)
    .option('--width <w>', 'channel width multiplier', parseWidth, 1)
    .option(
      '--input-shape <shape>',
      'input shape without batch, [(z,) y, x, c], e.g. 32,128,128,1',
      parseShape,
    )
    .option('--json', 'print { arch, params, trainableParams, inputShape, outputShape } as JSON')
    .action(async (opts: { arch: string; width: number; inputShape?: number[]; json?: boolean }) => {
      await startQuietBackend();
      const { summary, layers } = summarize(opts.arch, opts.width, opts.inputShape);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(summary)}\n`);
        return;
      }
      const out: string[] = [];
      out.push(
        `${'layer'.padEnd(28)} ${'class'.padEnd(18)} ${'output shape'.padEnd(26)} ${'params'.padStart(10)}  inputs`,
      );
      for (const l of layers) {
        out.push(
          `${l.name.padEnd(28)} ${l.className.padEnd(18)} ${fmtShape(l.outputShape).padEnd(26)} ${String(l.params).padStart(10)}  ${l.inputs.join(', ')}`,
        );
      }
      out.push('');
      out.push(
        `arch: ${summary.arch} (width ${opts.width}): ${ARCHS[summary.arch as keyof typeof ARCHS].description}`,
      );
      out.push(`layers: ${layers.length}`);
      out.push(`input: ${fmtShape(summary.inputShape)}  output: ${fmtShape(summary.outputShape)}`);
      out.push(
        `params: ${summary.params} (trainable ${summary.trainableParams}, non-trainable ${summary.params - summary.trainableParams})`,
      );
      process.stdout.write(`${out.join('\n')}\n`);
    });
}
