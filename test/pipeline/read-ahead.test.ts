import { describe, expect, it } from 'vitest';
import { readAhead } from '../../lib/pipeline/read-ahead.ts';

/** A reader whose reads the test settles by hand, recording which items were asked for. */
function manualReader() {
  const started: number[] = [];
  const settle = new Map<number, { ok: (v: string) => void; fail: (e: Error) => void }>();
  const read = (i: number) =>
    new Promise<string>((ok, fail) => {
      started.push(i);
      settle.set(i, { ok, fail });
    });
  return { started, read, settle: (i: number) => settle.get(i)! };
}

/** Let every pending promise reaction run. */
const flush = () => new Promise((r) => setTimeout(r, 0));

describe('readAhead', () => {
  it('reads the next item once the taken one is read, and never two ahead', async () => {
    const r = manualReader();
    const reads = readAhead(4, r.read);
    const first = reads.take(0);
    expect(r.started).toEqual([0]);
    await flush();
    expect(r.started).toEqual([0]); // item 1 waits for item 0's read
    r.settle(0).ok('v0');
    expect(await first).toBe('v0');
    await flush();
    expect(r.started).toEqual([0, 1]);
    r.settle(1).ok('v1');
    await flush();
    expect(r.started).toEqual([0, 1]); // item 2 waits until item 1 is taken
    expect(await reads.take(1)).toBe('v1');
    await flush();
    expect(r.started).toEqual([0, 1, 2]); // item 1 was read ahead: not read again
  });

  it('skips the items it is told to and stops at the end', async () => {
    const r = manualReader();
    const reads = readAhead(3, r.read, { skip: (i) => i === 1 });
    reads.take(0);
    r.settle(0).ok('v0');
    await flush();
    expect(r.started).toEqual([0, 2]);
    r.settle(2).ok('v2');
    expect(await reads.take(2)).toBe('v2');
    await flush();
    expect(r.started).toEqual([0, 2]);
  });

  it('reads nothing ahead when disabled', async () => {
    const r = manualReader();
    const reads = readAhead(2, r.read, { enabled: false });
    reads.take(0);
    r.settle(0).ok('v0');
    await flush();
    expect(r.started).toEqual([0]);
  });

  it('starts after a failed read too, and a failed read ahead reaches its taker only', async () => {
    const r = manualReader();
    const reads = readAhead(3, r.read);
    const first = reads.take(0);
    r.settle(0).fail(new Error('bad 0'));
    await expect(first).rejects.toThrow('bad 0');
    await flush();
    expect(r.started).toEqual([0, 1]);
    r.settle(1).fail(new Error('bad 1'));
    await flush(); // no unhandled rejection here: vitest would fail the run
    await expect(reads.take(1)).rejects.toThrow('bad 1');
  });

  it('does not read an item twice when the caller moves past a read still running', async () => {
    const r = manualReader();
    const reads = readAhead(3, r.read);
    reads.take(0);
    const second = reads.take(1); // item 0 not read yet: item 1 is read now
    expect(r.started).toEqual([0, 1]);
    r.settle(0).ok('v0');
    await flush();
    expect(r.started).toEqual([0, 1]);
    r.settle(1).ok('v1');
    expect(await second).toBe('v1');
    await flush();
    expect(r.started).toEqual([0, 1, 2]);
  });
});
