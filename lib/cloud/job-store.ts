/**
 * Segmentation job records: the store interface the stage logic uses, and its DynamoDB implementation
 * (table `jobs`, key `jobId`, no secondary index; see `lib/infra/tables.ts`).
 *
 * Every state change is a conditional write, so two deliveries of one event never create two jobs, a
 * finished job is never reopened, and a SUCCEEDED job is never turned into FAILED by a late error.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';

export type JobStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED';

export interface LiverJobSummary {
  dims: [number, number, number];
  spacing: [number, number, number];
  liverVoxels: number;
  tumorVoxels: number;
  liverVolumeMl: number;
  tumorVolumeMl: number;
  tumorCount: number;
}

/** A brain-tumour job's summary (`task: 'brats'`): the whole tumour. */
export interface BratsJobSummary {
  task: 'brats';
  dims: [number, number, number];
  spacing: [number, number, number];
  wholeTumourVoxels: number;
  wholeTumourVolumeMl: number;
  components: number;
}

export type JobSummary = LiverJobSummary | BratsJobSummary;

export interface JobRecord {
  jobId: string;
  status: JobStatus;
  createdAt: string;
  updatedAt: string;
  /** The dropped object (the key is stored, never logged). */
  source: { bucket: string; key: string; versionId?: string | null; size: number; sequencer?: string };
  /** The Step Functions execution that owns the job now (`seg-<jobId>` or `seg-<jobId>-a<N>`). */
  execution?: string;
  /** 1 for the first run, N for the N-th re-run of the same object version. */
  attempt?: number;
  /** Models root per stage used by this job (from the models table at ingest). */
  models?: Record<string, string>;
  /** Last step started (for operators). */
  step?: string;
  reason?: string;
  summary?: JobSummary;
  results?: JobResults;
}

/**
 * S3 URIs of a finished job's files. `dicomSeg` when the scan was a DICOM series, else `dicomSegSkipped`
 * says why there is none (see `lib/cloud/dicom-seg-result.ts`).
 */
export interface JobResults {
  labels: string;
  report: string;
  preview: string;
  dicomSeg?: string;
  dicomSegSkipped?: string;
  /** The job's viewer page (`viewer/index.html`, see job-viewer.ts). */
  viewer?: string;
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
  /**
   * FAILED -> RUNNING for a re-run with a higher attempt number, owned by `execution` from now on; false
   * (nothing written) when the job is not FAILED or already had that attempt.
   */
  reopen(
    jobId: string,
    run: { attempt: number; execution: string; source: JobRecord['source'] },
    at: string,
  ): Promise<boolean>;
  /**
   * RUNNING -> FAILED only while `execution` owns the job (an execution that ended outside its Catch:
   * timed out, aborted); 'not-running' when the job finished, or belongs to another attempt, or is absent.
   */
  failExecution(
    jobId: string,
    execution: string,
    reason: string,
    at: string,
  ): Promise<'failed' | 'not-running'>;
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

  async reopen(
    jobId: string,
    run: { attempt: number; execution: string; source: JobRecord['source'] },
    at: string,
  ): Promise<boolean> {
    return writeIfCondition(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { jobId },
          UpdateExpression:
            'SET #status = :running, attempt = :attempt, execution = :execution, #source = :source, #step = :step, updatedAt = :at REMOVE reason',
          ConditionExpression: '#status = :failed AND (attribute_not_exists(attempt) OR attempt < :attempt)',
          ExpressionAttributeNames: { '#status': 'status', '#source': 'source', '#step': 'step' },
          ExpressionAttributeValues: {
            ':running': 'RUNNING',
            ':failed': 'FAILED',
            ':attempt': run.attempt,
            ':execution': run.execution,
            ':source': run.source,
            ':step': 'ingest',
            ':at': at,
          },
        }),
      ),
    );
  }

  async failExecution(
    jobId: string,
    execution: string,
    reason: string,
    at: string,
  ): Promise<'failed' | 'not-running'> {
    const failed = await writeIfCondition(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { jobId },
          UpdateExpression: 'SET #status = :failed, reason = :reason, updatedAt = :at',
          ConditionExpression: '#status = :running AND execution = :execution',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':failed': 'FAILED',
            ':running': 'RUNNING',
            ':execution': execution,
            ':reason': reason,
            ':at': at,
          },
        }),
      ),
    );
    return failed ? 'failed' : 'not-running';
  }
}
