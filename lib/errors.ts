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
