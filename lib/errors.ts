/**
 * Errors the user can act on: bad input files, bad options, bad events.
 * Their message names the file (or field) and the problem; callers print it as is
 * (CLI: `error: <message>`, exit code 2; workflows: the job's FAILED reason).
 */
export type InputErrorCode =
  | 'NOT_FOUND'
  | 'TRUNCATED'
  | 'BAD_MAGIC'
  | 'BAD_HEADER'
  | 'UNSUPPORTED'
  | 'SIZE_MISMATCH'
  | 'TOO_LARGE'
  | 'BAD_SERIES'
  | 'BAD_ARGUMENT'
  | 'BAD_VALUES'
  | 'NOT_CT';

export class InputError extends Error {
  override readonly name = 'InputError';
  constructor(
    message: string,
    readonly code: InputErrorCode = 'BAD_ARGUMENT',
    readonly file?: string,
  ) {
    super(file ? `${file}: ${message}` : message);
  }
}

export function isInputError(e: unknown): e is InputError {
  return e instanceof InputError;
}

/**
 * A command that ran but failed as a whole (for example `segment` with failed cases): `exitCode` is 2
 * when every failure was bad input, 1 otherwise. The CLI prints the message as one line.
 */
export class CommandFailed extends Error {
  override readonly name = 'CommandFailed';
  constructor(
    message: string,
    readonly exitCode: 1 | 2,
  ) {
    super(message);
  }
}

/** File-system error codes that mean the user named a path that cannot be used (exit 2, not a crash). */
const BAD_PATH_CODES = new Set([
  'ENOENT',
  'ENOTDIR',
  'EISDIR',
  'ELOOP',
  'ENAMETOOLONG',
  'EACCES',
  'EPERM',
  'EROFS',
  'EEXIST',
  'ENXIO',
]);

/**
 * How the CLI reports an error: one line and an exit code (2 bad input or arguments, 1 other failures).
 * Only errors that are none of these (bugs) keep their stack trace.
 */
export function describeFailure(e: unknown): { line: string; exitCode: 1 | 2 } {
  if (isInputError(e)) return { line: e.message, exitCode: 2 };
  if (e instanceof CommandFailed) return { line: e.message, exitCode: e.exitCode };
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (e instanceof Error && typeof code === 'string' && /^E[A-Z]+$/.test(code)) {
    return { line: e.message.split('\n')[0], exitCode: BAD_PATH_CODES.has(code) ? 2 : 1 };
  }
  return { line: e instanceof Error ? (e.stack ?? e.message) : String(e), exitCode: 1 };
}
