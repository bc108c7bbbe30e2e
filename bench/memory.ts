/**
 * Peak resident memory of one measurement, not of the whole `npm run bench` process: on Linux, writing
 * `5` to `/proc/self/clear_refs` resets the process's peak RSS (VmHWM) to its current RSS, so the peak
 * read after a measurement is the peak during it (memory still held from earlier rows counts in the
 * baseline). Elsewhere the reset is unavailable and the peak is the process's peak so far.
 */
import { readFileSync, writeFileSync } from 'node:fs';

let resettable: boolean | undefined;

/** Starts a new peak-RSS window; false when the platform cannot (the peak is then cumulative). */
export function resetPeakRss(): boolean {
  if (resettable === false) return false;
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    resettable = true;
  } catch {
    resettable = false;
  }
  return resettable;
}

/** Peak resident set size in MiB since the last `resetPeakRss` (or since the process started). */
export function peakRssMiB(): number {
  try {
    const m = /VmHWM:\s+(\d+)\s*kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch {
    // not Linux: fall through
  }
  return process.resourceUsage().maxRSS / 1024;
}
