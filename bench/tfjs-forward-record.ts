/**
 * tfjs forward times already measured in this `npm run bench` process: a full-width 3D tfjs forward
 * pass takes minutes on the CPU backends, so when the engines bench has timed one, the model bench
 * reports that measurement (saying so) instead of running the same pass again.
 */

export interface TfjsForwardRecord {
  seconds: number;
  backend: string;
  /** Peak RSS during the measurement, MiB. */
  peakMiB: number;
  /** How it was timed, e.g. "1 run, no warm-up". */
  how: string;
}

const records = new Map<string, TfjsForwardRecord>();

/** `size` is x by y (by z), channels excluded, as `raunet bench --size` takes it. */
const key = (arch: string, size: readonly number[], backend: string) =>
  `${arch} ${size.join('x')} ${backend}`;

export function rememberTfjsForward(arch: string, size: readonly number[], record: TfjsForwardRecord): void {
  records.set(key(arch, size, record.backend), record);
}

export function recallTfjsForward(
  arch: string,
  size: readonly number[],
  backend: string,
): TfjsForwardRecord | undefined {
  return records.get(key(arch, size, backend));
}
