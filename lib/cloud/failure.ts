/**
 * Readable failure reasons from what a Step Functions `Catch` hands over (`{ Error, Cause }`), shared by
 * the segmentation workflow's MarkFailed and the training workflow's RunFailed steps.
 */

const MAX_REASON = 2000;

/** What an exit code of the Batch entrypoint means (see containers/batch-entrypoint.ts). */
const EXIT_MEANINGS: Record<number, string> = {
  1: 'application error',
  2: 'bad input',
  3: 'GPU not available',
};

/** The parts of a Batch job description a reason is made of (DescribeJobs or a `.sync` task's Cause). */
export interface BatchJobFacts {
  jobName?: string;
  statusReason?: string;
  exitCode?: number;
  containerReason?: string;
  logStream?: string;
}

/** "Batch job X failed: <status reason>; exit code N (meaning); <container reason>; log stream S". */
export function batchJobReason(job: BatchJobFacts): string {
  const parts = [`Batch job ${job.jobName ?? ''} failed: ${job.statusReason ?? 'no status reason'}`];
  if (job.exitCode !== undefined) {
    const meaning = EXIT_MEANINGS[job.exitCode];
    parts.push(`exit code ${job.exitCode}${meaning ? ` (${meaning})` : ''}`);
  }
  if (job.containerReason) parts.push(job.containerReason);
  if (job.logStream) parts.push(`log stream ${job.logStream}`);
  return parts.join('; ');
}

/** A `.sync` Batch task's Cause is the job's DescribeJobs record with PascalCase keys. */
function factsOfCause(c: Record<string, unknown>): BatchJobFacts {
  const container = (c.Container ?? {}) as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  return {
    jobName: str(c.JobName),
    statusReason: str(c.StatusReason),
    exitCode: typeof container.ExitCode === 'number' ? container.ExitCode : undefined,
    containerReason: str(container.Reason),
    logStream: str(container.LogStreamName),
  };
}

function parseCause(cause: string | undefined): unknown {
  try {
    return cause ? JSON.parse(cause) : undefined;
  } catch {
    return undefined;
  }
}

export const clip = (reason: string): string =>
  reason.length > MAX_REASON ? `${reason.slice(0, MAX_REASON - 1)}…` : reason;

/**
 * A readable reason from a Step Functions error: a Lambda's `errorMessage` (an `InputError` message names
 * the file and the problem), a Batch job's status reason and exit code, or the error name.
 */
export function failureReason(error: { Error: string; Cause?: string }): string {
  let reason = error.Error;
  const cause = parseCause(error.Cause);
  if (cause && typeof cause === 'object') {
    const c = cause as Record<string, unknown>;
    if (typeof c.errorMessage === 'string') {
      reason =
        c.errorType === 'InputError'
          ? c.errorMessage
          : `${String(c.errorType ?? error.Error)}: ${c.errorMessage}`;
    } else if (typeof c.JobName === 'string' || typeof c.StatusReason === 'string') {
      reason = batchJobReason(factsOfCause(c));
    }
  } else if (error.Cause) {
    reason = `${error.Error}: ${error.Cause}`;
  }
  return clip(reason);
}

/**
 * The Batch job id in a Catch's Cause: the `JobId` of a `.sync` task's job record, found in the text
 * itself so a Cause cut short (not valid JSON any more) still names its job.
 */
export function batchJobIdOf(error: { Cause?: string }): string | undefined {
  const m = /"JobId"\s*:\s*"([0-9A-Za-z-]{1,128})"/.exec(error.Cause ?? '');
  return m?.[1];
}
