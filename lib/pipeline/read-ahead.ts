/**
 * Reading the next case while the current one is segmented (issue 16: overlap the next case's input work
 * with inference). ONNX Runtime runs the forward passes off the JS thread, so while case k waits for its
 * passes the JS thread is free to read and decode case k+1.
 *
 * One case ahead only: item k+1's read starts once item k's read has settled, and the next read (k+2)
 * only once item k+1 is taken, so at most two inputs are held at a time (the one being segmented and the
 * next). A failed read is the taker's to report: `raunet segment` keeps it in the read's result
 * (`lib/cli/case-reads.ts`) and fails that case when it reaches it, so a bad next case cannot abort the
 * current one. No I/O here: the caller's `read` does it.
 */

export interface ReadAhead<T> {
  /**
   * Item `index`'s read: the one started ahead when there is one, else a new one. Once it has settled,
   * the read of the next item that `skip` does not exclude begins. Take items in increasing order.
   */
  take(index: number): Promise<T>;
}

export interface ReadAheadOptions {
  /** Items never read (their case is refused before reading, e.g. a repeated output name). */
  skip?: (index: number) => boolean;
  /** False: read each item only when taken (the sequential behaviour, kept for measurements). */
  enabled?: boolean;
}

/**
 * Reads of items 0..count-1 through `read`, one item ahead of the caller. A read started ahead that
 * rejects is seen by whoever takes that item, not before.
 */
export function readAhead<T>(
  count: number,
  read: (index: number) => Promise<T>,
  opts: ReadAheadOptions = {},
): ReadAhead<T> {
  const skip = opts.skip ?? (() => false);
  const enabled = opts.enabled ?? true;
  let ahead: { index: number; result: Promise<T> } | undefined;
  let lastTaken = -1;
  const nextAfter = (index: number) => {
    let j = index + 1;
    while (j < count && skip(j)) j++;
    return j < count ? j : undefined;
  };
  return {
    take(index) {
      const result = ahead?.index === index ? ahead.result : read(index);
      // drop the reference: a read started for another item (never taken) must not stay in memory
      ahead = undefined;
      lastTaken = index;
      const next = enabled ? nextAfter(index) : undefined;
      if (next !== undefined) {
        const readNext = () => {
          // not if the caller has moved past this item meanwhile (it then reads the next one itself)
          if (lastTaken !== index) return;
          const early = read(next);
          // a rejection waits for its taker (an unhandled one would end the process meanwhile)
          early.catch(() => {});
          ahead = { index: next, result: early };
        };
        void result.then(readNext, readNext);
      }
      return result;
    },
  };
}
