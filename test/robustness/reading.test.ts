/**
 * Reading never hangs and never materialises a bomb: device files, FIFOs, gzip and zip bombs end at once
 * with exit 2 and one line. Time and peak memory of each read are measured in a child process
 * (`read-bombs.ts`); the bounds here are the targets, the measured numbers are in
 * `BENCH_ONLY=robustness npm run bench`.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../cli.ts';
import { BOMBS, writeBomb } from './bombs.ts';
import { runRaunet } from './child.ts';

const dir = mkdtempSync(join(tmpdir(), 'raunet-reading-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const fifo = join(dir, 'scan.nii.gz');
execFileSync('mkfifo', [fifo]);

interface Probe {
  file: string;
  code: string;
  message: string;
  ms: number;
  peakMiB: number;
}

/** Read `files` in a child process (a FIFO that blocked would hang it, not the test worker). */
async function probe(files: string[]): Promise<Probe[]> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', join(import.meta.dirname, 'read-bombs.ts'), ...files],
    { timeout: 60_000 },
  );
  return stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Probe);
}

describe('files that are not regular files', () => {
  it('the CLI refuses a character device and a FIFO with one line and exit 2, without waiting', async () => {
    const cases = [
      ['/dev/zero', /^error: \/dev\/zero: is a character device, expected a regular file\n$/],
      [fifo, /^error: .*scan\.nii\.gz: is a FIFO \(named pipe\), expected a regular file\n$/],
    ] as const;
    const runs = await Promise.all(cases.map(([path]) => runRaunet(['info', path], { timeoutMs: 60_000 })));
    for (const [i, r] of runs.entries()) {
      expect(r.timedOut, cases[i]?.[0]).toBe(false);
      expect(r.err).toMatch(cases[i]?.[1] ?? /^$/);
      expect(r.code).toBe(2);
    }
  });
});

describe('bombs and endless files', () => {
  const files = BOMBS.map((b) => writeBomb(dir, b));

  it('are small on disk (a few MB for GiB of output)', () => {
    for (const f of files) expect(statSync(f).size, f).toBeLessThan(16 * 1024 ** 2);
  });

  it('each read ends in under 5 s with a named refusal, peak memory under 500 MB', async () => {
    const results = await probe(['/dev/zero', fifo, ...files]);
    expect(results.map((r) => r.code)).toEqual([
      'BAD_ARGUMENT',
      'BAD_ARGUMENT',
      'BAD_MAGIC',
      'SIZE_MISMATCH',
      'TOO_LARGE',
      'BAD_HEADER',
      'BAD_SERIES',
    ]);
    for (const [i, b] of BOMBS.entries()) expect(results[i + 2]?.message, b.what).toMatch(b.message);
    for (const r of results) {
      expect(r.ms, r.file).toBeLessThan(5000);
      expect(r.peakMiB, r.file).toBeLessThan(500);
    }
  });

  it('the CLI prints each refusal as one line and exits 2', async () => {
    for (const [i, f] of files.entries()) {
      const r = await runCli(['info', f]);
      expect(r.code, f).toBe(2);
      expect(r.err).toMatch(new RegExp(`^error: [^\\n]*${BOMBS[i]?.message.source}[^\\n]*\\n$`));
    }
  });
});
