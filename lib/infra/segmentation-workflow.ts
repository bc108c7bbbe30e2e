/**
 * The segmentation workflow: an object dropped into the input bucket (`.nii`, `.nii.gz`, `.zip`) ->
 * EventBridge rule -> starter Lambda (execution name and job id derived from bucket/key/version, so a
 * duplicate event starts nothing) -> state machine:
 *
 *   Ingest (validate, create the job record with a conditional write; duplicates stop here)
 *   -> Window (HU window + normalise, preprocessed volume to S3)
 *   -> Batch localize -> Batch segment-liver -> Batch segment-tumor (`.sync`)
 *   -> Finalize (label map, report, preview to the results bucket; job SUCCEEDED)
 *
 * Every step catches into MarkFailed (job FAILED with the reason taken from the error's Cause) -> Fail.
 */
import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { INPUT_SUFFIXES, RESULTS_PREFIX, RUNS_PREFIX, WORK_PREFIX } from '../cloud/layout.ts';
import type { BatchCompute } from './batch-compute.ts';
import type { DeploymentConfig } from './config.ts';
import { allowList, allowObjects, allowTable, READ_OBJECT, WRITE_OBJECT } from './grants.ts';
import { PipelineFunction } from './pipeline-function.ts';
import type { Storage } from './storage.ts';
import type { Tables } from './tables.ts';
import { batchStep, lambdaStep, loggedStateMachine } from './workflow-steps.ts';

export interface SegmentationWorkflowProps {
  config: DeploymentConfig;
  storage: Storage;
  tables: Tables;
  compute: BatchCompute;
}

export class SegmentationWorkflow extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly functions: Record<'starter' | 'ingest' | 'window' | 'finalize' | 'markFailed', PipelineFunction>;

  constructor(scope: Construct, id: string, props: SegmentationWorkflowProps) {
    super(scope, id);
    const { config, storage, tables, compute } = props;
    const env = {
      JOBS_TABLE: tables.jobs.tableName,
      MODELS_TABLE: tables.models.tableName,
      INPUT_BUCKET: storage.inputBucket.bucketName,
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
    const finalize = fn('finalize', 'Write label map, report and preview; mark the job SUCCEEDED', {
      memoryMiB: 6144,
      timeout: Duration.minutes(10),
      ephemeralStorageMiB: 2048,
    });
    const markFailed = fn('mark-failed', 'Mark a failed segmentation job FAILED with its reason');

    // Least privilege per function.
    allowObjects(ingest.role, storage.inputBucket, READ_OBJECT);
    allowTable(ingest.role, tables.jobs, ['dynamodb:PutItem', 'dynamodb:GetItem']);
    allowTable(ingest.role, tables.models, ['dynamodb:BatchGetItem']);
    allowObjects(window.role, storage.inputBucket, READ_OBJECT);
    allowObjects(window.role, storage.inputBucket, WRITE_OBJECT, `${WORK_PREFIX}*`);
    allowTable(window.role, tables.jobs, ['dynamodb:UpdateItem']);
    allowObjects(finalize.role, storage.inputBucket, READ_OBJECT);
    allowObjects(finalize.role, storage.resultsBucket, WRITE_OBJECT, `${RESULTS_PREFIX}*`);
    allowTable(finalize.role, tables.jobs, ['dynamodb:UpdateItem']);
    allowTable(markFailed.role, tables.jobs, ['dynamodb:UpdateItem']);
    // Batch containers: read the preprocessed volume and earlier outputs under work/, write theirs there,
    // and read the promoted models (listing a stage folder finds its folds).
    allowObjects(compute.jobRole, storage.inputBucket, [...READ_OBJECT, ...WRITE_OBJECT], `${WORK_PREFIX}*`);
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
    const catching = <T extends sfn.TaskStateBase>(task: T): T => {
      task.addCatch(markFailedStep, { errors: [sfn.Errors.ALL], resultPath: '$.error' });
      return task;
    };

    const ingestStep = catching(lambdaStep(this, 'Ingest', ingest.fn, { jobId, source }, '$.ingest'));
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
      batchStep(this, 'Localize', q, defs.localize, '$.ingest.plan.localize', '$.batch.localize'),
    );
    const liver = catching(
      batchStep(this, 'SegmentLiver', q, defs['segment-liver'], '$.ingest.plan.liver', '$.batch.liver'),
    );
    const tumor = catching(
      batchStep(this, 'SegmentTumor', q, defs['segment-tumor'], '$.ingest.plan.tumor', '$.batch.tumor'),
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

    const duplicate = new sfn.Succeed(this, 'Duplicate', {
      comment: 'The job for this object version exists',
    });
    const definition = ingestStep.next(
      new sfn.Choice(this, 'NewJob?')
        .when(sfn.Condition.stringEquals('$.ingest.status', 'DUPLICATE'), duplicate)
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

    const starter = fn('starter', 'Start the segmentation workflow once per object version', {
      environment: { ...env, STATE_MACHINE_ARN: this.stateMachine.stateMachineArn },
    });
    this.stateMachine.grantStartExecution(starter.role);
    new events.Rule(this, 'ObjectCreated', {
      description: 'Scans dropped into the input bucket start a segmentation',
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: {
          bucket: { name: [storage.inputBucket.bucketName] },
          object: { key: events.Match.anyOf(...INPUT_SUFFIXES.map((s) => events.Match.suffix(s))) },
        },
      },
      targets: [new targets.LambdaFunction(starter.fn, { retryAttempts: 8, maxEventAge: Duration.hours(6) })],
    });

    this.functions = { starter, ingest, window, finalize, markFailed };
  }
}
