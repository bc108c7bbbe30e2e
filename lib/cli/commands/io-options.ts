/** Shared parsing of the volume-reading options of CLI commands. */
import { InputError } from '../../errors.ts';
import type { ReadOptions } from '../../volume/read.ts';

export function readOptionsFrom(opts: { maxDecompressedBytes?: string }): ReadOptions {
  if (opts.maxDecompressedBytes === undefined) return {};
  const n = Number(opts.maxDecompressedBytes);
  if (!(n > 0)) {
    throw new InputError(
      `--max-decompressed-bytes must be a positive number, got "${opts.maxDecompressedBytes}"`,
    );
  }
  return { maxDecompressedBytes: n };
}
