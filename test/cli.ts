/** Runs the `raunet` CLI in-process, capturing what it writes to stdout and stderr. */
import { vi } from 'vitest';
import { main } from '../lib/cli/main.ts';

export async function runCli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    out += String(s);
    return true;
  });
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    err += String(s);
    return true;
  });
  try {
    const code = await main(['node', 'raunet', ...args]);
    return { code, out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

/** A non-TTY output stream for `runSegment` and friends that keeps what is written, line by line. */
export function captureStream(): { out: string[]; stream: { isTTY: false; write: (s: string) => void } } {
  const out: string[] = [];
  return { out, stream: { isTTY: false, write: (s: string) => void out.push(s) } };
}
