import { describe, expect, it } from 'vitest';
import { runProcesses } from '../../lib/training/processes.ts';

/** A child that prints its label, waits `ms`, prints again and exits with `code`. */
const child = (label: string, ms: number, code = 0) => ({
  label,
  args: [
    '-e',
    `console.log('start ' + Date.now()); console.error('warn'); setTimeout(() => { console.log('end ' + Date.now()); process.exit(${code}); }, ${ms});`,
  ],
});

/** [start, end] times of each label, from its relayed lines. */
function spans(lines: string[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const l of lines) {
    const m = /^\[(\w+)\] (start|end) (\d+)$/.exec(l);
    if (m) out.set(m[1]!, [...(out.get(m[1]!) ?? []), Number(m[3])]);
  }
  return out;
}

describe('runProcesses', () => {
  it('relays every line with its label and runs at most `jobs` at once', async () => {
    const lines: string[] = [];
    const outcomes = await runProcesses([child('a', 400), child('b', 400), child('c', 50)], {
      jobs: 2,
      log: (l) => lines.push(l),
    });
    expect(outcomes.map((o) => [o.label, o.code])).toEqual([
      ['a', 0],
      ['b', 0],
      ['c', 0],
    ]);
    expect(lines.filter((l) => l === '[b] warn')).toHaveLength(1);
    const s = spans(lines);
    // a and b overlap; c starts only after one of them ended
    expect(s.get('a')![0]!).toBeLessThan(s.get('b')![1]!);
    expect(s.get('b')![0]!).toBeLessThan(s.get('a')![1]!);
    expect(s.get('c')![0]!).toBeGreaterThanOrEqual(Math.min(s.get('a')![1]!, s.get('b')![1]!));
  });

  it('waits for all and names each failed task with its exit code', async () => {
    const lines: string[] = [];
    await expect(
      runProcesses([child('ok', 10), child('liver', 10, 3), child('tumor', 10, 1)], {
        jobs: 3,
        log: (l) => lines.push(l),
      }),
    ).rejects.toThrow('failed: liver (exit code 3), tumor (exit code 1) (their own messages are above)');
    expect(lines.some((l) => l.startsWith('[ok] end'))).toBe(true);
  });

  it('stops the running children and starts no more when aborted', async () => {
    const ctl = new AbortController();
    const lines: string[] = [];
    const started = Date.now();
    const run = runProcesses([child('slow', 20_000), child('next', 10)], {
      jobs: 1,
      log: (l) => {
        lines.push(l);
        if (l.startsWith('[slow] start')) ctl.abort();
      },
      signal: ctl.signal,
    });
    const outcomes = await run;
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(outcomes[0]).toMatchObject({ label: 'slow', code: null, signal: 'SIGINT' });
    expect(outcomes[1]).toBeUndefined();
    expect(lines.some((l) => l.startsWith('[next]'))).toBe(false);
  });

  it('refuses a job count below one', async () => {
    await expect(runProcesses([child('a', 1)], { jobs: 0, log: () => {} })).rejects.toThrow(
      /jobs must be >= 1/,
    );
  });
});
