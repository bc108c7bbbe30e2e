/**
 * Run independent jobs (e.g. the three demo stages, which each train from ground truth) as child Node
 * processes, at most `jobs` at a time: tfjs's CPU backends use one core per process, so separate
 * processes are how training uses every core. Each child's output lines are relayed with its label.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface ProcessTask {
  /** Shown before each relayed line and in errors, e.g. `liver`. */
  label: string;
  /** Arguments after the Node executable (script first). */
  args: string[];
}

export interface RunProcessesOptions {
  /** Most tasks running at once (>= 1). */
  jobs: number;
  log: (line: string) => void;
  /** Aborting sends SIGINT to the running children (they stop cleanly) and starts no new ones. */
  signal?: AbortSignal;
  /** Extra environment for the children. */
  env?: NodeJS.ProcessEnv;
}

export interface ProcessOutcome {
  label: string;
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
}

function runOne(task: ProcessTask, opts: RunProcessesOptions): Promise<ProcessOutcome> {
  return new Promise((resolve, reject) => {
    // A process group of its own: a Ctrl-C at the terminal reaches the parent only, which forwards one
    // SIGINT (a second one would make the child quit at once instead of after its current step).
    const child = spawn(process.execPath, task.args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...opts.env },
      detached: true,
    });
    const killOnExit = () => child.kill('SIGTERM');
    process.once('exit', killOnExit);
    const relay = (stream: NodeJS.ReadableStream) =>
      createInterface({ input: stream }).on('line', (line) => {
        if (line.trim()) opts.log(`[${task.label}] ${line}`);
      });
    relay(child.stdout);
    relay(child.stderr);
    const stop = () => child.kill('SIGINT');
    opts.signal?.addEventListener('abort', stop, { once: true });
    child.on('error', (err) => {
      opts.signal?.removeEventListener('abort', stop);
      process.off('exit', killOnExit);
      reject(new Error(`${task.label}: could not start ${process.execPath}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      opts.signal?.removeEventListener('abort', stop);
      process.off('exit', killOnExit);
      resolve({ label: task.label, code, signal });
    });
  });
}

/**
 * Runs every task (in order, `jobs` at a time) and resolves with each outcome in task order once all
 * have ended. Throws when any task failed, naming each failed label with its exit code or signal.
 */
export async function runProcesses(
  tasks: readonly ProcessTask[],
  opts: RunProcessesOptions,
): Promise<ProcessOutcome[]> {
  if (!Number.isInteger(opts.jobs) || opts.jobs < 1)
    throw new RangeError(`jobs must be >= 1, got ${opts.jobs}`);
  const outcomes: ProcessOutcome[] = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length && !opts.signal?.aborted) {
      const i = next++;
      outcomes[i] = await runOne(tasks[i]!, opts);
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.jobs, tasks.length) }, worker));
  const failed = outcomes.filter(
    (o) => o && o.code !== 0 && !(opts.signal?.aborted && o.signal === 'SIGINT'),
  );
  if (failed.length > 0) {
    const why = failed.map(
      (o) => `${o.label} (${o.code === null ? `killed by ${o.signal}` : `exit code ${o.code}`})`,
    );
    const error = new Error(`failed: ${why.join(', ')} (their own messages are above)`);
    error.stack = error.message; // the children's output says why; the parent's stack adds nothing
    throw error;
  }
  return outcomes;
}
