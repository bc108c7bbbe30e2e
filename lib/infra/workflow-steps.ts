/**
 * Step Functions building blocks shared by the two workflows (JSONPath query language).
 * Every task keeps only a few small fields of its result (ResultSelector / payload-only Lambda results
 * under a ResultPath), so the execution state stays S3 pointers and small JSON.
 */
import { Duration } from 'aws-cdk-lib';
import type * as batch from 'aws-cdk-lib/aws-batch';
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
  task.addRetry({ errors: LAMBDA_TRANSIENT, interval: Duration.seconds(2), maxAttempts: 4, backoffRate: 2 });
  return task;
}

/**
 * A Batch job run to completion (`.sync`). The object at `argsPath` (prepared by the Lambda step before)
 * becomes the job's `args` parameter, a JSON string the entrypoint validates. Batch itself retries host
 * failures (see the job definition); the state machine retries only a throttled or failed SubmitJob call
 * and lets `Catch` handle the job's own failure.
 */
export function batchStep(
  scope: Construct,
  id: string,
  queue: batch.IJobQueue,
  definition: batch.IJobDefinition,
  argsPath: string,
  resultPath: string,
): tasks.BatchSubmitJob {
  const task = new tasks.BatchSubmitJob(scope, id, {
    jobName: id,
    jobQueueArn: queue.jobQueueArn,
    jobDefinitionArn: definition.jobDefinitionArn,
    payload: sfn.TaskInput.fromObject({ args: sfn.JsonPath.jsonToString(sfn.JsonPath.objectAt(argsPath)) }),
    // Ids and numbers only: the job's run (epoch ms) gives the report its stage times.
    resultSelector: {
      batchJobId: sfn.JsonPath.stringAt('$.JobId'),
      status: sfn.JsonPath.stringAt('$.Status'),
      startedAt: sfn.JsonPath.numberAt('$.StartedAt'),
      stoppedAt: sfn.JsonPath.numberAt('$.StoppedAt'),
    },
    resultPath,
  });
  task.addRetry({
    errors: ['Batch.AWSBatchException', 'Batch.ServerException', 'Batch.TooManyRequestsException'],
    interval: Duration.seconds(5),
    maxAttempts: 3,
    backoffRate: 2,
  });
  return task;
}

/**
 * A JSONPath state machine with X-Ray tracing and an execution log group (construct ids `ExecutionLogs`
 * and `StateMachine` under `scope`). Execution data holds object keys, so it stays out of the logs.
 */
export function loggedStateMachine(
  scope: Construct,
  config: DeploymentConfig,
  definition: sfn.IChainable,
  props: { timeout: Duration; comment: string },
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
