/**
 * Trained ensembles and the "current" pointer per stage: the registry interface and its DynamoDB
 * implementation (table `models`, key (stage, runId), GSI `byDice` on stage + valDice).
 *
 * Promotion is a conditional write of the stage's CURRENT item: it succeeds only when there is no current
 * ensemble or the current one's validation Dice is lower, so two runs finishing together cannot promote
 * the worse one.
 */
import { BatchGetCommand, type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { FoldOutcome } from './events.ts';
import { writeIfCondition } from './job-store.ts';
import { CURRENT_RUN_ID } from './table-schema.ts';

export interface ModelRun {
  stage: string;
  runId: string;
  /** Models root holding `<stage>/fold-<k>/` (an s3:// URI). */
  models: string;
  valDice: number;
  variant: string;
  createdAt: string;
  hyper?: Record<string, number>;
  /** How each fold job of the run ended (the ensemble is made of the succeeded folds of `variant`). */
  folds?: FoldOutcome[];
}

/** A training run that failed: its own item (stage, runId), no valDice (so not in the `byDice` index). */
export interface FailedRun {
  stage: string;
  runId: string;
  status: 'FAILED';
  reason: string;
  /** The Step Functions error name (`States.TaskFailed`, `InputError`, ...). */
  error: string;
  /** The training execution's name. */
  execution: string;
  failedAt: string;
  /** The fold outcomes, when the run got past its fold jobs. */
  folds?: FoldOutcome[];
  batchJob?: {
    jobId: string;
    jobName?: string;
    status?: string;
    statusReason?: string;
    exitCode?: number;
    attempts?: number;
  };
}

export interface CurrentModel {
  stage: string;
  runId: string;
  models: string;
  valDice: number;
}

export interface ModelRegistry {
  putRun(run: ModelRun): Promise<void>;
  /** True when `run` became the stage's current ensemble. */
  promoteIfBetter(run: ModelRun, at: string): Promise<boolean>;
  /** The current ensemble of each stage asked for (missing stages are absent from the result). */
  current(stages: readonly string[]): Promise<Record<string, CurrentModel>>;
  /** Record a failed run unless its item exists (then nothing is written); true when written. */
  recordFailedRun(run: FailedRun): Promise<boolean>;
}

export class DynamoModelRegistry implements ModelRegistry {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async putRun(run: ModelRun): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: run,
        // A run id is registered once; a retried Lambda rewrites the same item only.
        ConditionExpression: 'attribute_not_exists(runId) OR valDice = :dice',
        ExpressionAttributeValues: { ':dice': run.valDice },
      }),
    );
  }

  async promoteIfBetter(run: ModelRun, at: string): Promise<boolean> {
    return writeIfCondition(() =>
      this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            stage: run.stage,
            runId: CURRENT_RUN_ID,
            currentRunId: run.runId,
            currentDice: run.valDice,
            models: run.models,
            promotedAt: at,
          },
          ConditionExpression: 'attribute_not_exists(runId) OR currentDice < :dice',
          ExpressionAttributeValues: { ':dice': run.valDice },
        }),
      ),
    );
  }

  async recordFailedRun(run: FailedRun): Promise<boolean> {
    if (run.runId === CURRENT_RUN_ID) throw new RangeError('a run id cannot be the CURRENT pointer');
    return writeIfCondition(() =>
      this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: run,
          // Never over a stored item: a registered run keeps its record, CURRENT is never this key.
          ConditionExpression: 'attribute_not_exists(runId)',
        }),
      ),
    );
  }

  async current(stages: readonly string[]): Promise<Record<string, CurrentModel>> {
    const out = await this.doc.send(
      new BatchGetCommand({
        RequestItems: {
          [this.tableName]: {
            Keys: stages.map((stage) => ({ stage, runId: CURRENT_RUN_ID })),
            ConsistentRead: true,
          },
        },
      }),
    );
    const result: Record<string, CurrentModel> = {};
    for (const item of out.Responses?.[this.tableName] ?? []) {
      result[item.stage as string] = {
        stage: item.stage as string,
        runId: item.currentRunId as string,
        models: item.models as string,
        valDice: item.currentDice as number,
      };
    }
    return result;
  }
}
