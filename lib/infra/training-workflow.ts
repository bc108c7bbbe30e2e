/**
 * The training workflow: EventBridge Scheduler (per configured stage) or a manual StartExecution ->
 *
 *   Plan (dataset manifest, K-fold split, sweep variants; writes the manifest to S3)
 *   -> Map over (variant, fold) items, MaxConcurrency from config -> Batch train-fold (Spot or on-demand
 *      queue by config; a retried job resumes from the fold's S3 checkpoint), each iteration ending in
 *      the fold's outcome (a failed job is caught and described, the other folds carry on)
 *   -> CheckFolds (outcomes to runs/<runId>/folds.json; fails the run unless some variant has minFolds
 *      succeeded folds)
 *   -> Batch evaluate-ensemble over the succeeded folds (picks the best variant, writes its metrics)
 *   -> Register (models table; promotes the ensemble to CURRENT only when its validation Dice beats the
 *      current one, with a conditional write)
 *
 * Every step (the fold Map included, for failures outside a fold job) catches into RunFailed: the run is
 * recorded FAILED with its reason in the models table (the failed Batch job described with DescribeJobs),
 * with a conditional write that never overwrites a stored item, then the execution fails.
 *
 * Manual start input: `{ "stage": "liver" | "tumor" | "localize" | "brats", "dataset"?: "lits", "folds"?: 5,
 * "sweep"?: { "lr"?: number[], "width"?: number[], "epochs"?: number[] } }`.
 */
import { Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { DATASETS_PREFIX, RUNS_PREFIX } from '../cloud/layout.ts';
import { type BatchCompute, jobDefinitionName, stageTaskTimeout } from './batch-compute.ts';
import type { DeploymentConfig } from './config.ts';
import { allowList, allowObjects, allowTable, READ_OBJECT, WRITE_OBJECT } from './grants.ts';
import { PipelineFunction } from './pipeline-function.ts';
import type { Storage } from './storage.ts';
import type { Tables } from './tables.ts';
import { batchStep, grantBatchSync, lambdaStep, loggedStateMachine } from './workflow-steps.ts';

export interface TrainingWorkflowProps {
  config: DeploymentConfig;
  storage: Storage;
  tables: Tables;
  compute: BatchCompute;
}

export class TrainingWorkflow extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly functions: Record<
    'plan' | 'register' | 'runFailed' | 'foldFailed' | 'checkFolds',
    PipelineFunction
  >;
  readonly schedules: scheduler.Schedule[] = [];

  constructor(scope: Construct, id: string, props: TrainingWorkflowProps) {
    super(scope, id);
    const { config, storage, tables, compute } = props;
    const environment = {
      MODELS_BUCKET: storage.modelsBucket.bucketName,
      MODELS_TABLE: tables.models.tableName,
      DEFAULT_DATASET: config.training.dataset,
      DEFAULT_BRATS_DATASET: config.training.bratsDataset ?? 'brats',
      DEFAULT_FOLDS: String(config.training.folds),
      DEFAULT_CHECKPOINT_EVERY: String(config.training.checkpointEveryEpochs),
      // Empty: every fold of a run must succeed.
      DEFAULT_MIN_FOLDS: config.training.minFolds === null ? '' : String(config.training.minFolds),
    };
    const plan = new PipelineFunction(this, 'plan', {
      config,
      handler: 'plan',
      description: 'Plan a training run: manifest, K-fold split, sweep variants',
      environment,
      timeout: Duration.minutes(2),
    });
    const register = new PipelineFunction(this, 'register', {
      config,
      handler: 'register',
      description: 'Register a trained ensemble and promote it when it beats the current one',
      environment,
    });
    // The Catch target: its own function, so the segmentation workflow's failure recorder has no access
    // to the models table and Batch, nor this one to the jobs table.
    const runFailed = new PipelineFunction(this, 'run-failed', {
      config,
      handler: 'run-failed',
      description: 'Record a failed training run with its reason in the models table',
      environment: { MODELS_TABLE: tables.models.tableName },
    });
    const foldFailed = new PipelineFunction(this, 'fold-failed', {
      config,
      handler: 'fold-failed',
      description: 'Describe a failed fold job: its reason, so the other folds carry on',
    });
    const checkFolds = new PipelineFunction(this, 'check-folds', {
      config,
      handler: 'check-folds',
      description: 'Record the fold outcomes of a training run and apply its minFolds rule',
      environment,
    });
    // DescribeJobs supports no resource-level permissions: Resource must be "*" (it only reads).
    foldFailed.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['batch:DescribeJobs'], resources: ['*'] }),
    );
    allowObjects(checkFolds.role, storage.modelsBucket, WRITE_OBJECT, `${RUNS_PREFIX}*`);
    // A failed run is recorded in the models table (conditional PutItem of the run's own item).
    allowTable(runFailed.role, tables.models, ['dynamodb:PutItem']);
    // DescribeJobs supports no resource-level permissions: Resource must be "*" (it only reads).
    runFailed.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['batch:DescribeJobs'], resources: ['*'] }),
    );
    allowList(plan.role, storage.modelsBucket, DATASETS_PREFIX);
    // The brats stage reads an MSD dataset's `dataset.json` (is it Task01, the four sequences?); nothing else.
    allowObjects(plan.role, storage.modelsBucket, ['s3:GetObject'], `${DATASETS_PREFIX}*/dataset.json`);
    allowObjects(plan.role, storage.modelsBucket, WRITE_OBJECT, `${RUNS_PREFIX}*`);
    allowObjects(register.role, storage.modelsBucket, READ_OBJECT, `${RUNS_PREFIX}*`);
    allowTable(register.role, tables.models, ['dynamodb:PutItem', 'dynamodb:GetItem']);
    // Training containers read datasets and write run outputs (fold models, ensemble metrics).
    allowObjects(compute.jobRole, storage.modelsBucket, READ_OBJECT, `${DATASETS_PREFIX}*`);
    allowObjects(compute.jobRole, storage.modelsBucket, WRITE_OBJECT, `${RUNS_PREFIX}*`);
    allowList(compute.jobRole, storage.modelsBucket, DATASETS_PREFIX);
    // A retried fold job reads its checkpoints back from `runs/<runId>/checkpoints/`: the job role reads
    // `runs/*` already (the inference stages' models, segmentation-workflow.ts).

    // Spot first (cheaper; a lost fold resumes from its checkpoint) or on-demand only, by config.
    const q = config.training.queue === 'on-demand' ? compute.onDemandQueue : compute.queue;
    const defs = compute.jobDefinitions;
    const fail = new sfn.Fail(this, 'TrainingFailed', {
      error: 'TrainingFailed',
      causePath: '$.failure.reason',
    });
    // The whole state (request, plan once there, the caught error) and the execution's name and start:
    // the run id is the plan's, or derived from the execution when Plan itself failed.
    const runFailedStep = lambdaStep(
      this,
      'RunFailed',
      runFailed.fn,
      {
        execution: {
          name: sfn.JsonPath.stringAt('$$.Execution.Name'),
          startTime: sfn.JsonPath.stringAt('$$.Execution.StartTime'),
        },
        state: sfn.JsonPath.objectAt('$'),
      },
      '$.failure',
    ).next(fail);

    const planStep = lambdaStep(this, 'Plan', plan.fn, { request: sfn.JsonPath.objectAt('$') }, '$.plan');
    // Each iteration ends in the fold's outcome (variant, fold, status, reason): a failed fold job is
    // caught there, so one lost fold never discards the others; CheckFolds applies the minFolds rule.
    const trainFold = batchStep(
      this,
      'TrainFold',
      q,
      defs['train-fold'],
      '$.item.args',
      '$.batch',
      stageTaskTimeout(config, 'train-fold'),
    );
    const foldSucceeded = new sfn.Pass(this, 'FoldSucceeded', {
      parameters: {
        variant: sfn.JsonPath.stringAt('$.item.args.variant'),
        fold: sfn.JsonPath.numberAt('$.item.args.fold'),
        status: 'SUCCEEDED',
      },
    });
    const foldFailedStep = lambdaStep(
      this,
      'FoldFailed',
      foldFailed.fn,
      {
        variant: sfn.JsonPath.stringAt('$.item.args.variant'),
        fold: sfn.JsonPath.numberAt('$.item.args.fold'),
        error: sfn.JsonPath.objectAt('$.error'),
      },
      '$.outcome',
    );
    // The iteration's output is the outcome alone (a ResultPath of '$' would do in AWS; this also runs
    // in the local interpreter, which keeps the input there).
    foldFailedStep.next(new sfn.Pass(this, 'FoldFailedOutcome', { inputPath: '$.outcome' }));
    trainFold.addCatch(foldFailedStep, { errors: [sfn.Errors.ALL], resultPath: '$.error' });
    const folds = new sfn.Map(this, 'Folds', {
      itemsPath: '$.plan.items',
      maxConcurrency: config.training.maxConcurrency,
      itemSelector: { item: sfn.JsonPath.objectAt('$$.Map.Item.Value') },
      // The models are in S3; the state keeps each fold's outcome only.
      resultPath: '$.foldResults',
    });
    folds.itemProcessor(trainFold.next(foldSucceeded));
    const checkFoldsStep = lambdaStep(
      this,
      'CheckFolds',
      checkFolds.fn,
      {
        runId: sfn.JsonPath.stringAt('$.plan.runId'),
        stage: sfn.JsonPath.stringAt('$.plan.stage'),
        minFolds: sfn.JsonPath.numberAt('$.plan.minFolds'),
        evaluate: sfn.JsonPath.objectAt('$.plan.evaluate'),
        outcomes: sfn.JsonPath.objectAt('$.foldResults'),
      },
      '$.checked',
    );
    const evaluate = batchStep(
      this,
      'EvaluateEnsemble',
      q,
      defs['evaluate-ensemble'],
      '$.checked.evaluate',
      '$.batch',
      stageTaskTimeout(config, 'evaluate-ensemble'),
    );
    const registerStep = lambdaStep(
      this,
      'Register',
      register.fn,
      {
        runId: sfn.JsonPath.stringAt('$.plan.runId'),
        stage: sfn.JsonPath.stringAt('$.plan.stage'),
        metrics: sfn.JsonPath.stringAt('$.plan.metrics'),
        folds: sfn.JsonPath.objectAt('$.foldResults'),
      },
      '$.registered',
    );
    for (const step of [planStep, folds, checkFoldsStep, evaluate, registerStep]) {
      step.addCatch(runFailedStep, { errors: [sfn.Errors.ALL], resultPath: '$.error' });
    }
    const definition = planStep
      .next(folds)
      .next(checkFoldsStep)
      .next(evaluate)
      .next(registerStep)
      .next(new sfn.Succeed(this, 'Trained'));

    this.stateMachine = loggedStateMachine(this, config, definition, {
      timeout: Duration.days(7),
      comment: 'RA-UNet K-fold training, ensemble evaluation and promotion',
    });

    grantBatchSync(
      this.stateMachine,
      [q],
      (['train-fold', 'evaluate-ensemble'] as const).map((stage) => jobDefinitionName(config, stage)),
    );

    if (config.training.schedule) {
      for (const stage of config.training.scheduledStages) {
        this.schedules.push(
          new scheduler.Schedule(this, `Schedule-${stage}`, {
            description: `Scheduled RA-UNet training of the ${stage} stage`,
            schedule: scheduler.ScheduleExpression.expression(config.training.schedule),
            target: new schedulerTargets.StepFunctionsStartExecution(this.stateMachine, {
              input: scheduler.ScheduleTargetInput.fromObject({ stage, trigger: 'schedule' }),
              retryAttempts: 3,
            }),
          }),
        );
      }
    }
    this.functions = { plan, register, runFailed, foldFailed, checkFolds };
  }
}
