/**
 * The one Powertools logger of the Lambdas and the Batch entrypoint.
 *
 * What may be logged: job ids, run ids, stage names, sizes, dims, durations, error codes. What may not:
 * object keys (users name files after patients), NIfTI/DICOM header fields, error messages that embed a
 * file name (`InputError` messages do; log their `code` instead). `safeError` turns an error into
 * loggable fields under those rules.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { isInputError } from '../errors.ts';

export const logger = new Logger({
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'raunet',
  logLevel: (process.env.POWERTOOLS_LOG_LEVEL as 'INFO' | undefined) ?? 'INFO',
});

/** Loggable description of an error: its name and code, never its message (which may name a file). */
export function safeError(e: unknown): { errorName: string; errorCode?: string } {
  if (isInputError(e)) return { errorName: e.name, errorCode: e.code };
  if (e instanceof Error) return { errorName: e.name };
  return { errorName: typeof e };
}
