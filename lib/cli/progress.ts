/**
 * Progress reporting for long CLI commands, on stderr: a redrawn bar with ETA when the stream is a TTY,
 * one plain line per finished task otherwise (logs, CI), nothing when quiet.
 */

export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressReporter {
  /** Begin a task (for example one stage of one input) with `total` units of work. */
  start(label: string, total: number): void;
  /** Units done so far in the current task (a new total may be given when it becomes known). */
  update(done: number, total?: number): void;
  /** End the current task; `note` is appended to its line. */
  finish(note?: string): void;
  /** Print a line of its own (the bar, if any, is redrawn after it). */
  log(line: string): void;
}

export interface ProgressOptions {
  stream?: ProgressStream;
  quiet?: boolean;
  /** Milliseconds clock (tests inject one). */
  now?: () => number;
  /** Minimum milliseconds between two redraws of the bar (default 100). */
  redrawMs?: number;
}

/** 75 -> "1:15", 3725 -> "1:02:05". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** The text of the bar for `done` of `total` after `elapsedMs`, fitted to `width` columns. */
export function renderBar(label: string, done: number, total: number, elapsedMs: number, width = 80): string {
  const frac = total > 0 ? Math.min(1, done / total) : 0;
  const pct = `${Math.floor(frac * 100)}%`.padStart(4);
  const eta =
    done > 0 && done < total ? ` ETA ${formatDuration(((elapsedMs / done) * (total - done)) / 1000)}` : '';
  const tail = ` ${pct} ${done}/${total} ${formatDuration(elapsedMs / 1000)}${eta}`;
  const barWidth = Math.max(5, Math.min(30, width - label.length - tail.length - 4));
  const filled = Math.round(frac * barWidth);
  return `${label} [${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}]${tail}`.slice(
    0,
    Math.max(1, width - 1),
  );
}

export function createProgress(opts: ProgressOptions = {}): ProgressReporter {
  const stream = opts.stream ?? process.stderr;
  const now = opts.now ?? Date.now;
  const redrawMs = opts.redrawMs ?? 100;
  const tty = Boolean(stream.isTTY);
  let label = '';
  let total = 0;
  let done = 0;
  let t0 = 0;
  let lastDraw = -Infinity;
  let active = false;

  const draw = (force: boolean) => {
    if (!tty || !active) return;
    const t = now();
    if (!force && t - lastDraw < redrawMs) return;
    lastDraw = t;
    stream.write(`\r\x1b[K${renderBar(label, done, total, t - t0, stream.columns ?? 80)}`);
  };

  if (opts.quiet) {
    return { start() {}, update() {}, finish() {}, log() {} };
  }
  return {
    start(l, n) {
      label = l;
      total = n;
      done = 0;
      t0 = now();
      active = true;
      lastDraw = -Infinity;
      draw(true);
    },
    update(d, n) {
      done = d;
      if (n !== undefined) total = n;
      draw(done >= total);
    },
    finish(note) {
      if (!active) return;
      active = false;
      const secs = ((now() - t0) / 1000).toFixed(1);
      const line = `${label}: done in ${secs} s${note ? ` (${note})` : ''}\n`;
      stream.write(tty ? `\r\x1b[K${line}` : line);
    },
    log(line) {
      stream.write(tty && active ? `\r\x1b[K${line}\n` : `${line}\n`);
      draw(true);
    },
  };
}
