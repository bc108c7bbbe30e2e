/**
 * Runs `bin/raunet.js` in a child process (where signals, hangs and memory matter) and reports its exit
 * code, output, wall time and peak resident memory (through `rss-wrapper.mjs`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { CLI_LAUNCHER } from '../../lib/cli/paths.ts';

const WRAPPER = join(import.meta.dirname, 'rss-wrapper.mjs');

export interface ChildResult {
  code: number | null;
  signal: string | null;
  out: string;
  /** stderr without the wrapper's peak-RSS line. */
  err: string;
  ms: number;
  peakMiB: number;
  timedOut: boolean;
}

export function runRaunet(
  args: string[],
  opts: {
    timeoutMs?: number;
    cwd?: string;
    env?: NodeJS.ProcessEnv;
    onStart?: (c: ChildProcess) => void;
  } = {},
): Promise<ChildResult> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [WRAPPER, CLI_LAUNCHER, ...args], {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (b) => {
      out += b;
    });
    child.stderr.on('data', (b) => {
      err += b;
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 30_000);
    opts.onStart?.(child);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const m = /\[peak-rss-kib (\d+)\]\n?/.exec(err);
      resolve({
        code,
        signal,
        out,
        err: err.replace(/\n?\[peak-rss-kib \d+\]\n?/, ''),
        ms: performance.now() - t0,
        peakMiB: m ? Number(m[1]) / 1024 : Number.NaN,
        timedOut,
      });
    });
  });
}
