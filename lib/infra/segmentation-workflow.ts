/**
 * The segmentation workflow: an object dropped into the input bucket under `incoming/` (`.nii`,
 * `.nii.gz`, `.zip`) -> EventBridge rule (prefix and suffix in its pattern) -> SQS queue (the buffer; DLQ
 * after `ingestion.maxReceiveCount` deliveries) -> starter Lambda (at most `ingestion.maxConcurrency` at
 * once; execution name and job id derived from bucket/key/version, so a duplicate event starts nothing)
 * -> state machine:
 *
 *   Ingest (claim the job record with a conditional write; duplicates stop here, a retry continues)
 *   -> Window (HU window + normalise, preprocessed volume to S3)
 *   -> Batch localize -> Batch segment-liver -> Batch segment-tumor (`.sync`)
 *   -> Finalize (label map, report, preview to the results bucket; job SUCCEEDED)
 *
 * Every step catches into MarkFailed (job FAILED with the reason taken from the error's Cause) -> Fail.
 * An execution that ends outside the Catch (timed out, stopped) is caught by an EventBridge rule on its
 * status change, which runs the same mark-failed Lambda (idempotent with the Catch).
 *
 * Intermediate files go to the work bucket, which sends no events: nothing the workflow writes can start
 * another execution.
 */
import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as lambdaEvents from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import {
  BRATS_INCOMING_PREFIX,
  INCOMING_PREFIX,
  INPUT_SUFFIXES,
  RESULTS_PREFIX,
  RUNS_PREFIX,
  WORK_PREFIX,
} from '../cloud/layout.ts';
import { type BatchCompute, INFERENCE_STAGES, jobDefinitionName, stageTaskTimeout } from './batch-compute.ts';
import type { DeploymentConfig } from './config.ts';
import { allowList, allowObjects, allowTable, READ_OBJECT, WRITE_OBJECT } from './grants.ts';
import { PipelineFunction } from './pipeline-function.ts';
import type { Storage } from './storage.ts';
import type { Tables } from './tables.ts';
import { batchStep, grantBatchSync, lambdaStep, loggedStateMachine } from './workflow-steps.ts';

/**
 * The rule's key filter: under `incoming/` and ending in a scan suffix (EventBridge wildcard matching), and
 * brain-tumour subject zips under `incoming/brats/` (also matched by `incoming/*.zip`: listed so the rule
 * says which drops start which task; the starter reads the task from the key).
 */
export function incomingKeyPattern(): string[] {
  return [...INPUT_SUFFIXES.map((suffix) => `${INCOMING_PREFIX}*${suffix}`), `${BRATS_INCOMING_PREFIX}*.zip`];
}

/** The starter's timeout; the queue's visibility timeout is six times it, as Lambda's SQS guide advises. */
const STARTER_TIMEOUT = Duration.seconds(60);

export interface SegmentationWorkflowProps {
  config: DeploymentConfig;
  storage: Storage;
  tables: Tables;
  compute: BatchCompute;
}

export class SegmentationWorkflow extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly functions: Record<'starter' | 'ingest' | 'window' | 'finalize' | 'markFailed', PipelineFunction>;
  /** The buffer between S3 events and the starter, and where messages go that it could not handle. */
  readonly startQueue: sqs.Queue;
  readonly deadLetters: sqs.Queue;
  /** The EventBridge rules: scans dropped under `incoming/`, and executions that ended outside the Catch. */
  readonly objectCreated: events.Rule;
  readonly executionEnded: events.Rule;

  constructor(scope: Construct, id: string, props: SegmentationWorkflowProps) {
    super(scope, id);
    const { config, storage, tables, compute } = props;
    const env = {
      JOBS_TABLE: tables.jobs.tableName,
      MODELS_TABLE: tables.models.tableName,
      INPUT_BUCKET: storage.inputBucket.bucketName,
      WORK_BUCKET: storage.workBucket.bucketName,
      RESULTS_BUCKET: storage.resultsBucket.bucketName,
      MODELS_BUCKET: storage.modelsBucket.bucketName,
    };
    const fn = (
      handler: string,
      description: string,
      extra: Partial<ConstructorParameters<typeof PipelineFunction>[2]> = {},
    ) => new PipelineFunction(this, handler, { config, handler, description, environment: env, ...extra });

    const ingest = fn('ingest', 'Validate a dropped scan and create its job record', {
      memoryMiB: 6144,
      timeout: Duration.minutes(5),
    });
    const window = fn('window', 'HU window and normalise a CT, write the preprocessed volume', {
      memoryMiB: 10_240,
      timeout: Duration.minutes(10),
      ephemeralStorageMiB: 4096,
    });
    const finalize = fn('finalize', 'Write label map, report, preview and viewer; mark the job SUCCEEDED', {
      memoryMiB: 6144,
      viewerScript: true,
      timeout: Duration.minutes(10),
      ephemeralStorageMiB: 2048,
    });
    const markFailed = fn('mark-failed', 'Mark a failed segmentation job FAILED with its reason');

    // Least privilege per function.
    allowObjects(ingest.role, storage.inputBucket, READ_OBJECT, `${INCOMING_PREFIX}*`);
    // the brain job reads its subject zip and writes its results itself
    allowObjects(compute.jobRole, storage.inputBucket, READ_OBJECT, `${BRATS_INCOMING_PREFIX}*`);
    allowObjects(compute.jobRole, storage.resultsBucket, WRITE_OBJECT, `${RESULTS_PREFIX}*`);
    allowObjects(finalize.role, storage.resultsBucket, READ_OBJECT, `${RESULTS_PREFIX}*`);
    // PutItem creates the record, GetItem finds it on a retry, UpdateItem reopens a failed job for a re-run.
    allowTable(ingest.role, tables.jobs, ['dynamodb:PutItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem']);
    allowTable(ingest.role, tables.models, ['dynamodb:BatchGetItem']);
    allowObjects(window.role, storage.inputBucket, READ_OBJECT, `${INCOMING_PREFIX}*`);
    allowObjects(window.role, storage.workBucket, WRITE_OBJECT, `${WORK_PREFIX}*`);
    allowTable(window.role, tables.jobs, ['dynamodb:UpdateItem']);
    allowObjects(finalize.role, storage.inputBucket, READ_OBJECT, `${INCOMING_PREFIX}*`);
    allowObjects(finalize.role, storage.workBucket, READ_OBJECT, `${WORK_PREFIX}*`);
    allowObjects(finalize.role, storage.resultsBucket, WRITE_OBJECT, `${RESULTS_PREFIX}*`);
    allowTable(finalize.role, tables.jobs, ['dynamodb:UpdateItem']);
    allowTable(markFailed.role, tables.jobs, ['dynamodb:UpdateItem']);
    // Batch containers: read the preprocessed volume and earlier outputs under work/, write theirs there,
    // and read the promoted models (listing a stage folder finds its folds).
    allowObjects(compute.jobRole, storage.workBucket, [...READ_OBJECT, ...WRITE_OBJECT], `${WORK_PREFIX}*`);
    allowObjects(compute.jobRole, storage.modelsBucket, READ_OBJECT, `${RUNS_PREFIX}*`);
    allowList(compute.jobRole, storage.modelsBucket, RUNS_PREFIX);

    const q = compute.queue;
    const defs = compute.jobDefinitions;
    const jobId = sfn.JsonPath.stringAt('$.jobId');
    const source = sfn.JsonPath.objectAt('$.source');

    const fail = new sfn.Fail(this, 'Failed', { error: 'SegmentationFailed', causePath: '$.failure.reason' });
    const markFailedStep = lambdaStep(
      this,
      'MarkFailed',
      markFailed.fn,
      { jobId, error: sfn.JsonPath.objectAt('$.error') },
      '$.failure',
    ).next(fail);
    const catching = <T extends sfn.TaskStateBase | sfn.CustomState>(task: T): T => {
      task.addCatch(markFailedStep, { errors: [sfn.Errors.ALL], resultPath: '$.error' });
      return task;
    };

    const ingestStep = catching(
      lambdaStep(
        this,
        'Ingest',
        ingest.fn,
        {
          jobId,
          source,
          attempt: sfn.JsonPath.numberAt('$.attempt'),
          // Who owns the job: a retried Ingest of the same execution continues instead of stopping.
          execution: sfn.JsonPath.stringAt('$$.Execution.Name'),
        },
        '$.ingest',
      ),
    );
    const windowStep = catching(
      lambdaStep(
        this,
        'Window',
        window.fn,
        { jobId, source, plan: sfn.JsonPath.objectAt('$.ingest.plan') },
        '$.window',
      ),
    );
    const localize = catching(
      batchStep(
        this,
        'Localize',
        q,
        defs.localize,
        '$.ingest.plan.localize',
        '$.batch.localize',
        stageTaskTimeout(config, 'localize'),
      ),
    );
    const liver = catching(
      batchStep(
        this,
        'SegmentLiver',
        q,
        defs['segment-liver'],
        '$.ingest.plan.liver',
        '$.batch.liver',
        stageTaskTimeout(config, 'segment-liver'),
      ),
    );
    const tumor = catching(
      batchStep(
        this,
        'SegmentTumor',
        q,
        defs['segment-tumor'],
        '$.ingest.plan.tumor',
        '$.batch.tumor',
        stageTaskTimeout(config, 'segment-tumor'),
      ),
    );
    const finalizeStep = catching(
      lambdaStep(
        this,
        'Finalize',
        finalize.fn,
        {
          jobId,
          source,
          plan: sfn.JsonPath.objectAt('$.ingest.plan'),
          // Step times for the report: the window Lambda's and each Batch job's start and stop.
          window: sfn.JsonPath.objectAt('$.window'),
          batch: sfn.JsonPath.objectAt('$.batch'),
        },
        '$.result',
      ),
    );

    // The brain-tumour path (a subject zip under incoming/brats/): one Batch job writes the results, then
    // finalize records them (the finalize Lambda reads the job's report; no CT steps).
    const segmentBrats = catching(
      batchStep(
        this,
        'SegmentBrats',
        q,
        defs['segment-brats'],
        '$.ingest.plan.brats',
        '$.batch.brats',
        stageTaskTimeout(config, 'segment-brats'),
      ),
    );
    const finalizeBrats = catching(
      lambdaStep(
        this,
        'FinalizeBrats',
        finalize.fn,
        {
          jobId,
          source,
          task: 'brats',
          plan: sfn.JsonPath.objectAt('$.ingest.plan'),
          batch: sfn.JsonPath.objectAt('$.batch'),
        },
        '$.result',
      ),
    );
    const isBrats = sfn.Condition.and(
      sfn.Condition.isPresent('$.ingest.task'),
      sfn.Condition.stringEquals('$.ingest.task', 'brats'),
    );

    const duplicate = new sfn.Succeed(this, 'Duplicate', {
      comment: 'The job for this object version exists',
    });
    const definition = ingestStep.next(
      new sfn.Choice(this, 'NewJob?')
        .when(sfn.Condition.stringEquals('$.ingest.status', 'DUPLICATE'), duplicate)
        .when(isBrats, segmentBrats.next(finalizeBrats).next(new sfn.Succeed(this, 'DoneBrats')))
        .otherwise(
          windowStep
            .next(localize)
            .next(liver)
            .next(tumor)
            .next(finalizeStep)
            .next(new sfn.Succeed(this, 'Done')),
        ),
    );

    this.stateMachine = loggedStateMachine(this, config, definition, {
      timeout: Duration.hours(12),
      comment: 'RA-UNet segmentation of one CT dropped into the input bucket',
    });

    grantBatchSync(
      this.stateMachine,
      [compute.queue],
      INFERENCE_STAGES.map((stage) => jobDefinitionName(config, stage)),
    );

    const starter = fn('starter', 'Start the segmentation workflow once per object version', {
      environment: { ...env, STATE_MACHINE_ARN: this.stateMachine.stateMachineArn },
      timeout: STARTER_TIMEOUT,
    });
    this.stateMachine.grantStartExecution(starter.role);
    // Re-runs: the starter reads the job record of an object version that already ran.
    allowTable(starter.role, tables.jobs, ['dynamodb:GetItem']);

    // The buffer: EventBridge puts every matching event into the queue (no event is lost when Lambda or
    // Step Functions throttle), the starter drains it at a bounded concurrency and reports per-message
    // failures; a message that fails `maxReceiveCount` times goes to the dead-letter queue (alarmed).
    this.deadLetters = new sqs.Queue(this, 'StartDeadLetters', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.startQueue = new sqs.Queue(this, 'StartQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(STARTER_TIMEOUT.toSeconds() * 6),
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.deadLetters, maxReceiveCount: config.ingestion.maxReceiveCount },
    });
    starter.fn.addEventSource(
      new lambdaEvents.SqsEventSource(this.startQueue, {
        batchSize: 10,
        maxBatchingWindow: Duration.seconds(1),
        maxConcurrency: config.ingestion.maxConcurrency,
        reportBatchItemFailures: true,
      }),
    );

    this.objectCreated = new events.Rule(this, 'ObjectCreated', {
      description: 'Scans dropped under incoming/ in the input bucket start a segmentation',
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: {
          bucket: { name: [storage.inputBucket.bucketName] },
          // Prefix and suffix in the pattern itself: no other key of the bucket reaches the queue.
          object: { key: events.Match.anyOf(...incomingKeyPattern().map((p) => events.Match.wildcard(p))) },
        },
      },
      targets: [
        new targets.SqsQueue(this.startQueue, {
          deadLetterQueue: this.deadLetters,
          retryAttempts: 185,
          maxEventAge: Duration.hours(24),
        }),
      ],
    });

    // Executions that ended outside their Catch: the execution timeout, StopExecution (which also stops
    // the running Batch job), or a failure no Catch saw. Their job becomes FAILED with the reason.
    this.executionEnded = new events.Rule(this, 'ExecutionEnded', {
      description: 'A segmentation execution timed out, was stopped or failed: mark its job FAILED',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: {
          stateMachineArn: [this.stateMachine.stateMachineArn],
          status: ['TIMED_OUT', 'ABORTED', 'FAILED'],
        },
      },
      targets: [
        new targets.LambdaFunction(markFailed.fn, {
          deadLetterQueue: this.deadLetters,
          retryAttempts: 8,
          maxEventAge: Duration.hours(6),
        }),
      ],
    });

    this.functions = { starter, ingest, window, finalize, markFailed };
  }
}
