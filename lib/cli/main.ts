/**
 * The `raunet` command line: a thin shell over `lib/`. Each sub-command lives in `commands/<name>.ts`
 * and exports `register(program)`; this file only wires them and turns errors into exit codes.
 */
import { Command, CommanderError } from 'commander';
import { describeFailure } from '../errors.ts';

type Registrar = (program: Command) => void;

/** Sub-command modules, loaded lazily so that `raunet info` does not pay for TensorFlow or the CDK. */
const COMMANDS: Array<() => Promise<{ register: Registrar }>> = [
  () => import('./commands/evaluate.ts'),
  () => import('./commands/info.ts'),
  () => import('./commands/convert.ts'),
  () => import('./commands/phantom.ts'),
  () => import('./commands/model.ts'),
  () => import('./commands/train.ts'),
  () => import('./commands/export.ts'),
  () => import('./commands/bench.ts'),
  () => import('./commands/segment.ts'),
  () => import('./commands/demo.ts'),
  () => import('./commands/models.ts'),
  () => import('./commands/dataset.ts'),
  () => import('./commands/view.ts'),
  () => import('./commands/report.ts'),
];

export async function buildProgram(): Promise<Command> {
  const program = new Command('raunet')
    .description('RA-UNet liver and liver-tumor segmentation of CT volumes')
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride();
  for (const load of COMMANDS) (await load()).register(program);
  return program;
}

/** Run the CLI; resolves to the process exit code (0 ok, 1 failure, 2 bad input or usage). */
export async function main(argv: string[]): Promise<number> {
  const program = await buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    const { line, exitCode } = describeFailure(e);
    process.stderr.write(`error: ${line}\n`);
    return exitCode;
  }
}
