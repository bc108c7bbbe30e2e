/**
 * cdk-nag (v3) acknowledgments of the stack, each with its reason. Findings are acknowledged on the
 * narrowest construct that owns them and, for the IAM wildcard rule, per finding (`RuleId[finding]`), so a
 * new wildcard elsewhere still fails the checks.
 */
import { type CfnResource, Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { BATCH_STAGES, INFERENCE_STAGES, jobDefinitionName } from './batch-compute.ts';
import type { DeploymentConfig } from './config.ts';
import type { PipelineFunction } from './pipeline-function.ts';
import type { RaunetStack } from './stack.ts';

function ack(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
}

/** How cdk-nag prints a `Fn::GetAtt <resource>.Arn` inside a finding. */
function arnOf(scope: IConstruct): string {
  const cfn = scope.node.defaultChild as CfnResource;
  return `<${Stack.of(scope).getLogicalId(cfn)}.Arn>`;
}

const REASONS = {
  xray: 'X-Ray PutTraceSegments/PutTelemetryRecords (and sampling reads) support no resource-level permissions',
  objects:
    'Object-level access to a bucket prefix: object keys are chosen by users, so the ARN ends in a wildcard',
  lambdaVersions: 'Step Functions may invoke any published version of our own function (ARN suffix :*)',
  jobDefinitionRevisions:
    'SubmitJob names a job definition ARN with its revision (name:N); the grant names our definition and allows its revisions only',
  batchJobs:
    'TerminateJob acts on jobs whose ids Batch assigns at submit time; Step Functions stops its own timed-out or stopped jobs',
  sfnLogs:
    'Vended log delivery (logs:*LogDelivery, DescribeLogGroups) supports no resource-level permissions',
  ecrToken: 'ecr:GetAuthorizationToken supports no resource-level permissions',
  batchDescribe: 'batch:DescribeJobs supports no resource-level permissions (read-only, job records)',
  nodeRuntime:
    'The project targets Node.js 22 for Lambdas (DEVELOPERS.md); moving to 24 is a separate decision',
};

export function applyNagSuppressions(stack: RaunetStack, config: DeploymentConfig): void {
  const { storage, compute, segmentation, training } = stack;

  // The log bucket does not log access to itself (that would loop).
  ack(storage.logBucket, 'AwsSolutions-S1', 'This is the server access log bucket; it cannot log to itself');

  const fns: PipelineFunction[] = [
    ...Object.values(segmentation.functions),
    ...Object.values(training.functions),
  ];
  for (const f of fns) {
    ack(f.fn, 'AwsSolutions-L1', REASONS.nodeRuntime);
    const describes = f === training.functions.runFailed || f === training.functions.foldFailed;
    ack(
      f.role,
      'AwsSolutions-IAM5[Resource::*]',
      describes ? `${REASONS.xray}; ${REASONS.batchDescribe}` : REASONS.xray,
    );
  }

  const input = arnOf(storage.inputBucket);
  const work = arnOf(storage.workBucket);
  const results = arnOf(storage.resultsBucket);
  const models = arnOf(storage.modelsBucket);
  const f = segmentation.functions;
  for (const role of [f.ingest.role, f.window.role, f.finalize.role]) {
    ack(role, `AwsSolutions-IAM5[Resource::${input}/incoming/*]`, REASONS.objects);
  }
  for (const role of [f.window.role, f.finalize.role]) {
    ack(role, `AwsSolutions-IAM5[Resource::${work}/work/*]`, REASONS.objects);
  }
  ack(f.finalize.role, `AwsSolutions-IAM5[Resource::${results}/results/*]`, REASONS.objects);
  ack(training.functions.plan.role, `AwsSolutions-IAM5[Resource::${models}/runs/*]`, REASONS.objects);
  // the brats stage's plan reads MSD Task01's dataset.json of whichever dataset a run names
  ack(
    training.functions.plan.role,
    `AwsSolutions-IAM5[Resource::${models}/datasets/*/dataset.json]`,
    REASONS.objects,
  );
  ack(training.functions.register.role, `AwsSolutions-IAM5[Resource::${models}/runs/*]`, REASONS.objects);
  ack(training.functions.checkFolds.role, `AwsSolutions-IAM5[Resource::${models}/runs/*]`, REASONS.objects);
  // the brain-tumour job reads its subject zip and writes its results itself (segment-brats)
  for (const pattern of [
    `${work}/work/*`,
    `${models}/runs/*`,
    `${models}/datasets/*`,
    `${input}/incoming/brats/*`,
    `${results}/results/*`,
  ]) {
    ack(compute.jobRole, `AwsSolutions-IAM5[Resource::${pattern}]`, REASONS.objects);
  }

  const trainingStages = BATCH_STAGES.filter((st) => !INFERENCE_STAGES.includes(st));
  const batchArn = (resource: string) =>
    `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:batch:${stack.region}:<AWS::AccountId>:${resource}]`;
  for (const [workflow, fnsOf, stages] of [
    [segmentation, Object.values(segmentation.functions), INFERENCE_STAGES],
    [training, Object.values(training.functions), trainingStages],
  ] as const) {
    const sm = workflow.stateMachine;
    ack(
      sm.role,
      'AwsSolutions-IAM5[Resource::*]',
      `${REASONS.sfnLogs}; ${REASONS.xray}; ${REASONS.batchDescribe}`,
    );
    for (const stage of stages) {
      ack(
        sm.role,
        batchArn(`job-definition/${jobDefinitionName(config, stage)}:*`),
        REASONS.jobDefinitionRevisions,
      );
    }
    ack(sm.role, batchArn('job/*'), REASONS.batchJobs);
    for (const fn of fnsOf)
      ack(sm.role, `AwsSolutions-IAM5[Resource::${arnOf(fn.fn)}:*]`, REASONS.lambdaVersions);
  }

  for (const def of Object.values(compute.jobDefinitions)) {
    ack(def.container.executionRole, 'AwsSolutions-IAM5[Resource::*]', REASONS.ecrToken);
  }
  ack(
    compute,
    'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role]',
    'The AWS-maintained instance role policy of ECS container instances, which Batch EC2 compute environments require',
  );

  // Singleton Lambdas the CDK adds for bucket notifications and the VPC default security group.
  const singletons = stack.node.children.filter((c) =>
    /^(BucketNotificationsHandler|Custom::VpcRestrictDefaultSG)/.test(c.node.id),
  );
  for (const singleton of singletons) {
    ack(
      singleton,
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      'A CDK-provided custom-resource Lambda (S3 EventBridge notifications or default security group lock-down)',
    );
  }
}
