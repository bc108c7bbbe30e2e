/**
 * Segmentation job records: the store interface the stage logic uses, and its DynamoDB implementation
 * (table `jobs`, key `jobId`, GSI `byStatus` on status + createdAt; see `lib/infra/tables.ts`).
 *
 * Every state change is a conditional write, so two deliveries of one event never create two jobs, a
 * finished job is never reopened, and a SUCCEEDED job is never turned into FAILED by a late error.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { JOBS_BY_STATUS_INDEX } from './table-schema.ts';

export type JobStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED';

export interface JobSummary {
  dims: [number, number, number];
  spacing: [number, number, number];
  liverVoxels: number;
  tumorVoxels: number;
  liverVolumeMl: number;
  tumorVolumeMl: number;
  tumorCount: number;
}

export interface JobRecord {
  jobId: string;
  status: JobStatus;
  createdAt: string;
  updatedAt: string;
  /** The dropped object (the key is stored, never logged). */
  source: { bucket: string; key: string; versionId?: string | null; size: number };
  /** Models root per stage used by this job (from the models table at ingest). */
  models?: Record<string, string>;
  /** Last step started (for operators). */
  step?: string;
  reason?: string;
  summary?: JobSummary;
  results?: { labels: string; report: string; preview: string };
}

/** A write lost a race with another writer (the condition did not hold). */
export class JobConflictError extends Error {
  override readonly name = 'JobConflictError';
}

export interface JobStore {
  /** 'exists' when a record with this id is already there (nothing is written then). */
  create(job: JobRecord): Promise<'created' | 'exists'>;
  get(jobId: string): Promise<JobRecord | undefined>;
  /** Record the step a RUNNING job entered; JobConflictError when the job is not RUNNING. */
  setStep(jobId: string, step: string, at: string): Promise<void>;
  /** RUNNING -> SUCCEEDED; JobConflictError when the job is not RUNNING. */
  succeed(jobId: string, summary: JobSummary, results: JobRecord['results'], at: string): Promise<void>;
  /** Anything but SUCCEEDED -> FAILED (creates the record if ingest never did); 'already-succeeded' otherwise. */
  fail(jobId: string, reason: string, at: string): Promise<'failed' | 'already-succeeded'>;
  listByStatus(status: JobStatus, limit?: number): Promise<JobRecord[]>;
}

/** True when a DynamoDB write failed its condition (the item was not what the write required). */
function conditionFailed(e: unknown): boolean {
  return (
    e instanceof ConditionalCheckFailedException ||
    (e as { name?: string })?.name === 'ConditionalCheckFailedException'
  );
}

/**
 * Runs a conditional DynamoDB write: true when it was written, false when its condition failed (nothing
 * written); any other error is thrown.
 */
export async function writeIfCondition(write: () => Promise<unknown>): Promise<boolean> {
  try {
    await write();
    return true;
  } catch (e) {
    if (conditionFailed(e)) return false;
    throw e;
  }
}

export class DynamoJobStore implements JobStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async create(job: JobRecord): Promise<'created' | 'exists'> {
    const created = await writeIfCondition(() =>
      this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: job,
          ConditionExpression: 'attribute_not_exists(jobId)',
        }),
      ),
    );
    return created ? 'created' : 'exists';
  }

  async get(jobId: string): Promise<JobRecord | undefined> {
    const out = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: { jobId }, ConsistentRead: true }),
    );
    return out.Item as JobRecord | undefined;
  }

  async setStep(jobId: string, step: string, at: string): Promise<void> {
    await this.update(
      jobId,
      'SET #step = :step, updatedAt = :at',
      { ':step': step, ':at': at },
      { '#step': 'step' },
    );
  }

  async succeed(
    jobId: string,
    summary: JobSummary,
    results: JobRecord['results'],
    at: string,
  ): Promise<void> {
    await this.update(
      jobId,
      'SET #status = :succeeded, summary = :summary, results = :results, updatedAt = :at',
      { ':succeeded': 'SUCCEEDED', ':summary': summary, ':results': results, ':at': at },
    );
  }

  private async update(
    jobId: string,
    expression: string,
    values: Record<string, unknown>,
    names: Record<string, string> = {},
  ): Promise<void> {
    const updated = await writeIfCondition(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { jobId },
          UpdateExpression: expression,
          ConditionExpression: 'attribute_exists(jobId) AND #status = :running',
          ExpressionAttributeNames: { '#status': 'status', ...names },
          ExpressionAttributeValues: { ':running': 'RUNNING', ...values },
        }),
      ),
    );
    if (!updated) throw new JobConflictError(`job ${jobId} is not RUNNING`);
  }

  async fail(jobId: string, reason: string, at: string): Promise<'failed' | 'already-succeeded'> {
    const failed = await writeIfCondition(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { jobId },
          UpdateExpression:
            'SET #status = :failed, reason = :reason, updatedAt = :at, createdAt = if_not_exists(createdAt, :at)',
          ConditionExpression: 'attribute_not_exists(jobId) OR #status <> :succeeded',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':failed': 'FAILED',
            ':succeeded': 'SUCCEEDED',
            ':reason': reason,
            ':at': at,
          },
        }),
      ),
    );
    return failed ? 'failed' : 'already-succeeded';
  }

  async listByStatus(status: JobStatus, limit = 50): Promise<JobRecord[]> {
    const out = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: JOBS_BY_STATUS_INDEX,
        KeyConditionExpression: '#status = :status',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':status': status },
        ScanIndexForward: false,
        Limit: limit,
      }),
    );
    return (out.Items ?? []) as JobRecord[];
  }
}
