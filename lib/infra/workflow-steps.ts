/**
 * Step Functions building blocks shared by the two workflows (JSONPath query language).
 * Every task keeps only a few small fields of its result (ResultSelector / payload-only Lambda results
 * under a ResultPath), so the execution state stays S3 pointers and small JSON.
 */
import { Duration as D, Stack } from 'aws-cdk-lib';
import type * as batch from 'aws-cdk-lib/aws-batch';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import type { DeploymentConfig } from './config.ts';
import { removalPolicyOf } from './storage.ts';

/** Lambda errors worth retrying: the service's own transient failures, not the handler's errors. */
const LAMBDA_TRANSIENT = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
];

export function lambdaStep(
  scope: Construct,
  id: string,
  fn: lambda.IFunction,
  payload: Record<string, unknown>,
  resultPath: string | typeof sfn.JsonPath.DISCARD,
): tasks.LambdaInvoke {
  const task = new tasks.LambdaInvoke(scope, id, {
    lambdaFunction: fn,
    payload: sfn.TaskInput.fromObject(payload),
    payloadResponseOnly: true,
    retryOnServiceExceptions: false,
    resultPath,
  });
  // Throttles and service errors of Lambda itself, retried with full jitter so a burst spreads out.
  task.addRetry({
    errors: LAMBDA_TRANSIENT,
    interval: D.seconds(2),
    maxAttempts: 6,
    backoffRate: 2,
    maxDelay: D.seconds(60),
    jitterStrategy: sfn.JitterType.FULL,
  });
  return task;
}

/** The error names of a throttled or failed SubmitJob call (worth retrying; the job's own failure is not). */
const BATCH_TRANSIENT = [
  'Batch.AWSBatchException',
  'Batch.ServerException',
  'Batch.TooManyRequestsException',
];

/**
 * A Batch job run to completion (`.sync`). The object at `argsPath` (prepared by the Lambda step before)
 * becomes the job's `args` parameter, a JSON string the entrypoint validates. Batch itself retries host
 * failures (see the job definition); the state machine retries only a throttled or failed SubmitJob call
 * and lets `Catch` handle the job's own failure. `timeout` bounds the whole task: when it fires, Step
 * Functions stops the job (TerminateJob) and the Catch sees `States.Timeout`.
 *
 * Written as the States Language task itself (not `tasks.BatchSubmitJob`, whose grant covers every job
 * definition of the account): `grantBatchSync` gives the state machine exactly what this needs.
 */
export function batchStep(
  scope: Construct,
  id: string,
  queue: batch.IJobQueue,
  definition: batch.IJobDefinition,
  argsPath: string,
  resultPath: string,
  timeout?: D,
): sfn.CustomState {
  const task = new sfn.CustomState(scope, id, {
    stateJson: {
      Type: 'Task',
      Resource: `arn:${Stack.of(scope).partition}:states:::batch:submitJob.sync`,
      Parameters: {
        JobName: id,
        JobQueue: queue.jobQueueArn,
        JobDefinition: definition.jobDefinitionArn,
        Parameters: { 'args.$': `States.JsonToString(${argsPath})` },
      },
      // Ids and numbers only: the job's run (epoch ms) gives the report its stage times.
      ResultSelector: {
        'batchJobId.$': '$.JobId',
        'status.$': '$.Status',
        'startedAt.$': '$.StartedAt',
        'stoppedAt.$': '$.StoppedAt',
      },
      ResultPath: resultPath,
      ...(timeout ? { TimeoutSeconds: timeout.toSeconds() } : {}),
    },
  });
  task.addRetry({
    errors: BATCH_TRANSIENT,
    interval: D.seconds(5),
    maxAttempts: 3,
    backoffRate: 2,
    jitterStrategy: sfn.JitterType.FULL,
  });
  return task;
}

/**
 * What Step Functions' Batch `.sync` integration needs (AWS Step Functions developer guide, "IAM policies
 * for AWS Batch"): SubmitJob on our job definitions (any revision) and queues, DescribeJobs (no resource-level
 * permissions) and TerminateJob to follow and to stop the job when the task times out or the execution
 * stops, and the managed EventBridge rule through which Step Functions learns that a job ended.
 */
export function grantBatchSync(
  stateMachine: sfn.StateMachine,
  queues: batch.IJobQueue[],
  definitionNames: string[],
): void {
  const stack = Stack.of(stateMachine);
  const arn = (service: string, resource: string, resourceName: string) =>
    stack.formatArn({ service, resource, resourceName });
  const role = stateMachine.role;
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['batch:SubmitJob'],
      resources: [
        ...definitionNames.map((n) => arn('batch', 'job-definition', `${n}:*`)),
        ...queues.map((q) => q.jobQueueArn),
      ],
    }),
  );
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({ actions: ['batch:TerminateJob'], resources: [arn('batch', 'job', '*')] }),
  );
  role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['batch:DescribeJobs'], resources: ['*'] }));
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
      resources: [arn('events', 'rule', 'StepFunctionsGetEventsForBatchJobsRule')],
    }),
  );
}

/**
 * A JSONPath state machine with X-Ray tracing and an execution log group (construct ids `ExecutionLogs`
 * and `StateMachine` under `scope`). Execution data holds object keys, so it stays out of the logs.
 */
export function loggedStateMachine(
  scope: Construct,
  config: DeploymentConfig,
  definition: sfn.IChainable,
  props: { timeout: D; comment: string },
): sfn.StateMachine {
  const logGroup = new logs.LogGroup(scope, 'ExecutionLogs', {
    retention: config.retention.logRetentionDays as logs.RetentionDays,
    removalPolicy: removalPolicyOf(config),
  });
  return new sfn.StateMachine(scope, 'StateMachine', {
    definitionBody: sfn.DefinitionBody.fromChainable(definition),
    queryLanguage: sfn.QueryLanguage.JSON_PATH,
    timeout: props.timeout,
    tracingEnabled: true,
    logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
    comment: props.comment,
  });
}
