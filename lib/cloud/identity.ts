/**
 * Deterministic ids. A job id is a hash of the object's identity (bucket, key, version), so the same
 * object version always maps to the same job and the same Step Functions execution name, and the id itself
 * reveals nothing of the key.
 */
import { createHash } from 'node:crypto';

export interface ObjectIdentity {
  bucket: string;
  key: string;
  /** S3 version id; absent (or null) for unversioned buckets. */
  versionId?: string | null;
  /** Used only when there is no version id: a new upload under the same key is a new job. */
  etag?: string | null;
}

/** 32 hex characters (128 bits of SHA-256). */
export function jobIdFor(o: ObjectIdentity): string {
  const version = o.versionId ? `v:${o.versionId}` : `e:${o.etag ?? ''}`;
  return createHash('sha256').update(`${o.bucket}\u0000${o.key}\u0000${version}`).digest('hex').slice(0, 32);
}

/**
 * Step Functions execution names: at most 80 characters of [A-Za-z0-9-_]. The first run of a job is
 * `seg-<jobId>`, its N-th re-run `seg-<jobId>-a<N>`.
 */
export function executionNameFor(jobId: string, attempt = 1): string {
  return attempt <= 1 ? `seg-${jobId}` : `seg-${jobId}-a${attempt}`;
}

/** The job id and attempt an execution name stands for; undefined for a name of another form. */
export function jobOfExecution(name: string): { jobId: string; attempt: number } | undefined {
  const m = /^seg-([0-9a-f]{32})(?:-a(\d{1,4}))?$/.exec(name);
  return m ? { jobId: m[1], attempt: m[2] ? Number(m[2]) : 1 } : undefined;
}

/** `20260301T020000Z`: the sortable UTC stamp that starts a run id. */
function runStamp(at: Date): string {
  return at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

/** A training run id: UTC time (sortable) plus a short random suffix. */
export function newRunId(now: Date, random: () => number = Math.random): string {
  const suffix = Math.floor(random() * 0xffffff)
    .toString(16)
    .padStart(6, '0');
  return `${runStamp(now)}-${suffix}`;
}

/**
 * The run id of a training execution that failed before its plan named one: the execution's start time
 * plus a hash of its name, so a retried failure step records the same run once.
 */
export function runIdForExecution(startTime: string, executionName: string): string {
  const at = new Date(startTime);
  if (Number.isNaN(at.getTime())) throw new RangeError(`not a timestamp: ${startTime}`);
  return `${runStamp(at)}-${createHash('sha256').update(executionName).digest('hex').slice(0, 6)}`;
}
