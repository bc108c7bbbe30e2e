/**
 * Bombs and endless files (`BENCH_ONLY=robustness`): time and peak resident memory of reading each case
 * of `test/robustness/bombs.ts`, plus `/dev/zero` and a FIFO, in a child process (each read alone:
 * the peak is reset before it). Target (issue #14): every case refused in under 5 s with a peak under
 * 500 MB; the child's baseline (Node.js, tsx and the volume readers) is part of the peak.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BOMBS, writeBomb } from '../test/robustness/bombs.ts';
import type { BenchRow } from './index.ts';

export const name = 'robustness: bombs and device files (child process)';

export async function run(): Promise<BenchRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'raunet-bench-bombs-'));
  try {
    const fifo = join(dir, 'fifo.nii.gz');
    execFileSync('mkfifo', [fifo]);
    const cases = [
      { what: 'info /dev/zero', file: '/dev/zero' },
      { what: 'a FIFO', file: fifo },
      ...BOMBS.map((b) => ({ what: b.what, file: writeBomb(dir, b) })),
    ];
    const probe = join(import.meta.dirname, '../test/robustness/read-bombs.ts');
    const out = execFileSync(process.execPath, ['--import', 'tsx', probe, ...cases.map((c) => c.file)], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    const results = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { code: string; ms: number; peakMiB: number });
    return cases.map((c, i) => {
      const r = results[i];
      return { what: c.what, value: r?.ms ?? Number.NaN, unit: 'ms', peakMiB: r?.peakMiB, note: r?.code };
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
