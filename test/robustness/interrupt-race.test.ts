/**
 * An interrupt that lands while an output operation is in flight leaves nothing behind: the case's
 * temporary file, its lock, the folders the run created. interrupt.test.ts sends a real SIGTERM at a
 * moment seen from outside, and once found a `.part` file left over that way (the file's create was
 * still in libuv's thread pool when the handler cleaned up). Here the child makes that moment certain
 * (interrupt-race-child.ts), so each case goes red whenever the operation is asynchronous again.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const CHILD = join(import.meta.dirname, 'interrupt-race-child.ts');
const root = mkdtempSync(join(tmpdir(), 'raunet-interrupt-race-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Everything under `dir`, as relative paths (hidden files included). */
function listAll(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? [`${prefix}${e.name}/`, ...listAll(join(dir, e.name), `${prefix}${e.name}/`)]
      : [`${prefix}${e.name}`],
  );
}

describe('SIGTERM while an output operation is queued in the thread pool', () => {
  it.each([
    ['write', 'a case file being created under its temporary name'],
    ['lock', 'the case lock being taken'],
    ['folder', 'the output folders being made'],
  ])(
    '%s: %s leaves nothing, exit 143',
    (mode) => {
      const dir = join(root, mode);
      mkdirSync(dir);
      const r = spawnSync(process.execPath, ['--import', 'tsx', CHILD, mode, dir], {
        env: { ...process.env, UV_THREADPOOL_SIZE: '1' },
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(r.stderr).toMatch(/interrupted \(SIGTERM\): removed this run's unfinished outputs/);
      expect(r.status, r.stderr).toBe(143);
      expect(listAll(dir)).toEqual([]);
    },
    90_000,
  );
});
