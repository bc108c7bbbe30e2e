/**
 * A local stand-in for `arn:aws:states:::batch:submitJob.sync`: runs the job definition's container command
 * as a child process (`containers/batch-entrypoint.ts` via tsx, CPU backend), applies the job definition's
 * RetryStrategy (Attempts, EvaluateOnExit) as AWS Batch does, and returns a DescribeJobs-shaped job. A
 * failed job throws `States.TaskFailed` whose Cause is that job as JSON, as the real integration does.
 *
 * Each container runs in its own process group; `stop()` kills every running group (the container and
 * anything it started) and fails the jobs as terminated, as `TerminateJob` does. Groups still running when
 * this process exits are killed too, so no run leaves processes behind.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { REPO_ROOT } from '../infra/paths.ts';
import type { LocalNames } from './template.ts';

export interface SubmitJobParams {
  JobName: string;
  JobQueue: string;
  JobDefinition: string;
  Parameters?: Record<string, string>;
}

interface EvaluateOnExit {
  Action: 'RETRY' | 'EXIT';
  OnStatusReason?: string;
  OnReason?: string;
  OnExitCode?: string;
}

export interface BatchAttempt {
  Container: { ExitCode?: number; Reason?: string; LogStreamName: string };
  StartedAt: number;
  StoppedAt: number;
  StatusReason: string;
}

export interface BatchJob {
  JobId: string;
  JobName: string;
  JobQueue: string;
  JobDefinition: string;
  Status: 'SUCCEEDED' | 'FAILED';
  StatusReason?: string;
  Attempts: BatchAttempt[];
  Container: { Command: string[]; ExitCode?: number; Reason?: string; LogStreamName: string };
  Parameters: Record<string, string>;
  CreatedAt: number;
  StartedAt: number;
  StoppedAt: number;
}

/**
 * A fault injected into one attempt. Without `killWhen` the attempt ends before its container starts,
 * with `statusReason` (and `exitCode`, to stand for an application's exit); with `killWhen` the container
 * starts and is killed (its whole process group) once `killWhen` resolves true, as when Spot reclaims the
 * host mid-run. `match` picks the job by its `args` parameter (default: the next attempt of the stage).
 */
export type HostFault = {
  statusReason: string;
  exitCode?: number;
  killWhen?: () => Promise<boolean>;
  match?: (args: unknown) => boolean;
};

export interface LocalBatchOptions {
  names: LocalNames;
  /** Environment of the containers besides the job definition's (emulator endpoints, credentials). */
  env: Record<string, string>;
  /** Faults to inject, consumed in order, per job definition stage (its command's first word). */
  faults?: Map<string, HostFault[]>;
  /** Called with every finished job (for assertions). */
  onJob?: (job: BatchJob) => void;
  /**
   * The container image's entrypoint: program and leading arguments, the job's command is appended
   * (default: `node --import tsx containers/batch-entrypoint.ts`).
   */
  container?: readonly string[];
  /**
   * Job definition timeouts (`Timeout.AttemptDurationSeconds`) are multiplied by this (default 1), so a test
   * can watch a hung attempt time out in a second.
   */
  timeScale?: number;
}

/** AWS Batch's status reason of an attempt stopped by the job definition's timeout. */
export const TIMEOUT_REASON = 'Job attempt duration exceeded timeout';

/** The status reason of the attempts of a job stopped with the local cloud (AWS: TerminateJob's reason). */
export const STOPPED_REASON = 'Job terminated: the local cloud was stopped';

/** Process groups of running containers, across instances: killed when this process exits. */
const runningGroups = new Set<number>();
let exitHookInstalled = false;

function killGroup(pid: number): void {
  try {
    // A negative pid addresses the process group the detached child leads.
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const pid of runningGroups) killGroup(pid);
  });
}

/**
 * Batch's glob: `*` only at the end; otherwise an exact match. An absent reason (an application's non-zero
 * exit has none) matches as the empty string, so `OnReason: '*'` catches every remaining failure.
 */
function globMatch(pattern: string | undefined, given: string | undefined): boolean {
  if (pattern === undefined) return true;
  const value = given ?? '';
  return pattern.endsWith('*') ? value.startsWith(pattern.slice(0, -1)) : value === pattern;
}

export function retryAction(
  rules: readonly EvaluateOnExit[],
  attempt: { statusReason: string; reason?: string; exitCode?: number },
): 'RETRY' | 'EXIT' {
  for (const r of rules) {
    if (
      globMatch(r.OnStatusReason, attempt.statusReason) &&
      globMatch(r.OnReason, attempt.reason) &&
      globMatch(r.OnExitCode, attempt.exitCode === undefined ? undefined : String(attempt.exitCode))
    ) {
      return r.Action;
    }
  }
  return 'RETRY';
}

export class LocalBatch {
  readonly jobs: BatchJob[] = [];
  private readonly running = new Map<number, { command: string[]; exited: Promise<void> }>();
  private stopped = false;
  constructor(private readonly opts: LocalBatchOptions) {}

  /** The containers running now: pid (= process group id) and the job's command. */
  get runningContainers(): Array<{ pid: number; command: string[] }> {
    return [...this.running.entries()].map(([pid, r]) => ({ pid, command: r.command }));
  }

  /** Kill every running container's process group, wait until each has exited, and refuse new jobs. */
  async stop(): Promise<void> {
    this.stopped = true;
    const exits = [...this.running.values()].map((r) => r.exited);
    for (const pid of this.running.keys()) killGroup(pid);
    await Promise.all(exits);
  }

  async submitJobSync(p: SubmitJobParams): Promise<BatchJob> {
    const { names } = this.opts;
    const defId = names.logicalIdOf(p.JobDefinition);
    if (!defId || !names.logicalIdOf(p.JobQueue)) {
      throw Object.assign(new Error(`unknown job queue or definition: ${p.JobQueue} ${p.JobDefinition}`), {
        name: 'Batch.ClientException',
      });
    }
    const def = names.resolve(names.resource(defId).Properties) as {
      ContainerProperties: { Command: string[]; Environment?: Array<{ Name: string; Value: string }> };
      Parameters?: Record<string, string>;
      RetryStrategy?: { Attempts?: number; EvaluateOnExit?: EvaluateOnExit[] };
      Timeout?: { AttemptDurationSeconds?: number };
    };
    const limitSeconds = def.Timeout?.AttemptDurationSeconds;
    const limitMs = limitSeconds === undefined ? undefined : limitSeconds * 1000 * (this.opts.timeScale ?? 1);
    const params = { ...(def.Parameters ?? {}), ...(p.Parameters ?? {}) };
    const command = def.ContainerProperties.Command.map((c) =>
      c.startsWith('Ref::') && c.slice(5) in params ? params[c.slice(5)] : c,
    );
    const env: Record<string, string> = {};
    for (const e of def.ContainerProperties.Environment ?? []) env[e.Name] = e.Value;
    // The local compute environment has no GPU: the entrypoint runs on the CPU backend.
    env.RAUNET_REQUIRE_GPU = '0';
    const maxAttempts = def.RetryStrategy?.Attempts ?? 1;
    const rules = def.RetryStrategy?.EvaluateOnExit ?? [];
    const jobId = randomUUID();
    const created = Date.now();
    const attempts: BatchAttempt[] = [];
    let last: { exitCode?: number; reason?: string; statusReason: string } = { statusReason: '' };
    for (let n = 1; n <= maxAttempts; n++) {
      const started = Date.now();
      const logStream = `${command[0]}/default/${jobId}-${n}`;
      const fault = this.takeFault(command[0], params.args);
      if (this.stopped) {
        last = { statusReason: STOPPED_REASON };
      } else if (fault && !fault.killWhen) {
        last = { statusReason: fault.statusReason, exitCode: fault.exitCode };
      } else {
        const killed = { yes: false };
        const { code, timedOut } = await this.runContainer(command, env, limitMs, fault?.killWhen, killed);
        last = this.stopped
          ? { exitCode: code, statusReason: STOPPED_REASON }
          : killed.yes && fault
            ? { statusReason: fault.statusReason }
            : timedOut
              ? { exitCode: code, statusReason: TIMEOUT_REASON }
              : { exitCode: code, statusReason: 'Essential container in task exited' };
      }
      attempts.push({
        Container: { ExitCode: last.exitCode, Reason: last.reason, LogStreamName: logStream },
        StartedAt: started,
        StoppedAt: Date.now(),
        StatusReason: last.statusReason,
      });
      // Batch does not retry an attempt stopped by its timeout or by TerminateJob.
      if (
        last.exitCode === 0 ||
        last.statusReason === STOPPED_REASON ||
        last.statusReason === TIMEOUT_REASON
      ) {
        break;
      }
      if (retryAction(rules, last) === 'EXIT') break;
    }
    const ok = last.exitCode === 0;
    const lastAttempt = attempts[attempts.length - 1];
    const job: BatchJob = {
      JobId: jobId,
      JobName: p.JobName,
      JobQueue: p.JobQueue,
      JobDefinition: p.JobDefinition,
      Status: ok ? 'SUCCEEDED' : 'FAILED',
      StatusReason: last.statusReason,
      Attempts: attempts,
      Container: { Command: command, ...lastAttempt.Container },
      Parameters: params,
      CreatedAt: created,
      StartedAt: attempts[0].StartedAt,
      StoppedAt: lastAttempt.StoppedAt,
    };
    this.jobs.push(job);
    this.opts.onJob?.(job);
    if (!ok) {
      throw Object.assign(new Error(JSON.stringify(job)), { name: 'States.TaskFailed' });
    }
    return job;
  }

  /** The first injected fault of the stage that matches the job's args (removed from the list). */
  private takeFault(stage: string | undefined, rawArgs: string | undefined): HostFault | undefined {
    const list = stage === undefined ? undefined : this.opts.faults?.get(stage);
    if (!list || list.length === 0) return undefined;
    let args: unknown;
    try {
      args = rawArgs === undefined ? undefined : JSON.parse(rawArgs);
    } catch {
      args = undefined;
    }
    const i = list.findIndex((f) => !f.match || f.match(args));
    return i < 0 ? undefined : list.splice(i, 1)[0];
  }

  private runContainer(
    command: string[],
    env: Record<string, string>,
    limitMs?: number,
    killWhen?: () => Promise<boolean>,
    killed: { yes: boolean } = { yes: false },
  ): Promise<{ code: number; timedOut: boolean }> {
    const [program, ...args] = this.opts.container ?? [
      process.execPath,
      '--import',
      'tsx',
      path.join(REPO_ROOT, 'containers', 'batch-entrypoint.ts'),
    ];
    installExitHook();
    return new Promise((resolve, reject) => {
      let child: ChildProcess;
      try {
        child = spawn(program, [...args, ...command], {
          cwd: REPO_ROOT,
          env: { ...process.env, ...this.opts.env, ...env },
          stdio: ['ignore', 'ignore', process.env.RAUNET_E2E_VERBOSE ? 'inherit' : 'ignore'],
          // Its own process group, so that stopping kills whatever the container started as well.
          detached: true,
        });
      } catch (e) {
        reject(e);
        return;
      }
      // A container that cannot start (spawn error) fails the attempt's promise; after a start, 'close'
      // always follows, so a later error changes nothing.
      child.on('error', reject);
      const pid = child.pid;
      if (pid === undefined) return;
      runningGroups.add(pid);
      let timedOut = false;
      const timer =
        limitMs === undefined
          ? undefined
          : setTimeout(() => {
              timedOut = true;
              killGroup(pid);
            }, limitMs);
      const exited = new Promise<void>((done) => {
        child.once('close', (code, signal) => {
          // The container is gone; whatever it left in its group goes with it (as with a task's cgroup).
          clearTimeout(timer);
          killGroup(pid);
          runningGroups.delete(pid);
          this.running.delete(pid);
          done();
          resolve({ code: code ?? (signal ? 137 : 1), timedOut });
        });
      });
      this.running.set(pid, { command, exited });
      if (killWhen) {
        // Poll the condition while the container runs; when it holds, the host "goes away".
        const poll = async () => {
          if (!this.running.has(pid)) return;
          if (await killWhen().catch(() => false)) {
            killed.yes = true;
            killGroup(pid);
            return;
          }
          setTimeout(poll, 200);
        };
        setTimeout(poll, 200);
      }
    });
  }
}
