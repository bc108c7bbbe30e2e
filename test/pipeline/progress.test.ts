import { describe, expect, it } from 'vitest';
import { createProgress, formatDuration, renderBar } from '../../lib/cli/progress.ts';

function sink(isTTY: boolean) {
  const out: string[] = [];
  return { out, stream: { isTTY, columns: 100, write: (s: string) => out.push(s) } };
}

describe('progress', () => {
  it('formats durations', () => {
    expect(formatDuration(0)).toBe('0:00');
    expect(formatDuration(75)).toBe('1:15');
    expect(formatDuration(3725)).toBe('1:02:05');
  });

  it('estimates the remaining time from the rate so far', () => {
    // 10 of 40 in 5 s -> 15 s to go
    const s = renderBar('liver', 10, 40, 5000, 100);
    expect(s).toContain(' 25% 10/40 0:05 ETA 0:15');
    expect(s).toMatch(/^liver \[#+-+\]/);
    expect(renderBar('x', 40, 40, 5000)).not.toContain('ETA');
  });

  it('redraws a bar on a TTY and ends the task with a line', () => {
    let t = 0;
    const { out, stream } = sink(true);
    const p = createProgress({ stream, now: () => t });
    p.start('tumor', 4);
    t = 1000;
    p.update(1);
    t = 1050; // within the redraw interval: no redraw
    p.update(2);
    t = 2000;
    p.update(4);
    p.finish('3 windows');
    expect(out).toHaveLength(4);
    expect(out[1]).toContain('1/4');
    expect(out[2]).toContain('100% 4/4');
    expect(out[3]).toBe('\r\x1b[Ktumor: done in 2.0 s (3 windows)\n');
  });

  it('writes one plain line per task when not a TTY, and nothing when quiet', () => {
    let t = 0;
    const { out, stream } = sink(false);
    const p = createProgress({ stream, now: () => t });
    p.start('liver', 3);
    p.update(1);
    t = 1500;
    p.update(3);
    p.finish();
    p.log('case-1: ok');
    expect(out).toEqual(['liver: done in 1.5 s\n', 'case-1: ok\n']);
    const q = sink(true);
    const quiet = createProgress({ stream: q.stream, quiet: true });
    quiet.start('a', 1);
    quiet.update(1);
    quiet.finish();
    quiet.log('x');
    expect(q.out).toEqual([]);
  });
});
