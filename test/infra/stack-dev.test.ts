// The dev environment, synthesized once (offline, no credentials, no Docker).
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BATCH_STAGES, INFERENCE_STAGES } from '../../lib/infra/batch-compute.ts';
import { scanIamPolicies } from './iam-scan.ts';
import { type Cfn, definitionOf, resourcesOf, type Synth, synthEnv } from './synth.ts';

let s: Synth;
beforeAll(async () => {
  s = await synthEnv('dev');
});
afterAll(() => s?.cleanup());

describe('dev stack: storage', () => {
  it('has five private, encrypted buckets that deny non-TLS requests', () => {
    const buckets = resourcesOf(s.json, 'AWS::S3::Bucket');
    expect(buckets).toHaveLength(5); // input, work, results, models, access logs
    for (const [, b] of buckets) {
      expect(b.Properties.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      expect(
        b.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault,
      ).toEqual({ SSEAlgorithm: 'AES256' });
      expect(b.Properties.LifecycleConfiguration.Rules.length).toBeGreaterThan(0);
    }
    const policies = resourcesOf(s.json, 'AWS::S3::BucketPolicy');
    expect(policies).toHaveLength(5);
    for (const [, p] of policies) {
      expect(p.Properties.PolicyDocument.Statement).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            Effect: 'Deny',
            Action: 's3:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      );
    }
  });

  it('sends only input-bucket events to EventBridge, versions the models bucket, logs access', () => {
    const notifications = resourcesOf(s.json, 'Custom::S3BucketNotifications');
    expect(notifications).toHaveLength(1);
    expect(notifications[0][1].Properties.NotificationConfiguration).toEqual({
      EventBridgeConfiguration: {},
    });
    const inputId = resourcesOf(s.json, 'AWS::S3::Bucket').find(([id]) => id.startsWith('StorageInput'))![0];
    expect(notifications[0][1].Properties.BucketName).toEqual({ Ref: inputId });
    s.template.hasResourceProperties('AWS::S3::Bucket', { VersioningConfiguration: { Status: 'Enabled' } });
    const logged = resourcesOf(s.json, 'AWS::S3::Bucket').filter(
      ([, b]) => b.Properties.LoggingConfiguration,
    );
    expect(logged).toHaveLength(4);
  });

  it('keeps intermediates in a work bucket that expires them; access logs expire by config', () => {
    const rules = (prefix: string) =>
      resourcesOf(s.json, 'AWS::S3::Bucket').find(([id]) => id.startsWith(prefix))![1].Properties
        .LifecycleConfiguration.Rules;
    expect(rules('StorageWork')).toContainEqual(
      expect.objectContaining({ Id: 'expire-intermediates', ExpirationInDays: 2, Status: 'Enabled' }),
    );
    expect(rules('StorageAccessLogs')).toContainEqual(
      expect.objectContaining({ Id: 'expire-access-logs', ExpirationInDays: 30 }),
    );
    // The segmentation Lambdas and Batch containers write intermediates there, never to the input bucket.
    const env = resourcesOf(s.json, 'AWS::Lambda::Function').find(([id]) =>
      id.startsWith('SegmentationwindowFn'),
    )![1].Properties.Environment.Variables;
    const workId = resourcesOf(s.json, 'AWS::S3::Bucket').find(([id]) => id.startsWith('StorageWork'))![0];
    expect(env.WORK_BUCKET).toEqual({ Ref: workId });
  });
});

describe('dev stack: tables', () => {
  it('jobs and models tables are on-demand with PITR; the jobs table has no hot status index', () => {
    const tables = resourcesOf(s.json, 'AWS::DynamoDB::GlobalTable');
    expect(tables).toHaveLength(2);
    for (const [, t] of tables) {
      expect(t.Properties.BillingMode).toBe('PAY_PER_REQUEST');
      expect(t.Properties.Replicas[0].PointInTimeRecoverySpecification).toEqual({
        PointInTimeRecoveryEnabled: true,
      });
    }
    const jobs = tables.find(([, t]) => t.Properties.KeySchema[0].AttributeName === 'jobId')![1];
    expect(jobs.Properties.KeySchema).toEqual([{ AttributeName: 'jobId', KeyType: 'HASH' }]);
    expect(jobs.Properties.GlobalSecondaryIndexes).toBeUndefined();
    s.template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: [
        { AttributeName: 'stage', KeyType: 'HASH' },
        { AttributeName: 'runId', KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        Match.objectLike({
          IndexName: 'byDice',
          KeySchema: [
            { AttributeName: 'stage', KeyType: 'HASH' },
            { AttributeName: 'valDice', KeyType: 'RANGE' },
          ],
        }),
      ],
    });
  });
});

describe('dev stack: Batch', () => {
  it('runs GPU instance types on the ECS GPU AMI, Spot first with on-demand fallback', () => {
    const envs = resourcesOf(s.json, 'AWS::Batch::ComputeEnvironment');
    expect(envs).toHaveLength(2);
    for (const [, e] of envs) {
      const res = e.Properties.ComputeResources;
      expect(res.InstanceTypes).toEqual(['g4dn.xlarge', 'g4dn.2xlarge', 'g5.xlarge']);
      expect(res.Ec2Configuration).toEqual([{ ImageType: 'ECS_AL2023_NVIDIA' }]);
      expect(res.MinvCpus).toBe(0);
    }
    expect(envs.map(([, e]) => e.Properties.ComputeResources.Type).sort()).toEqual(['EC2', 'SPOT']);
    const queues = resourcesOf(s.json, 'AWS::Batch::JobQueue');
    const orders = queues.map(([, q]) => q.Properties.ComputeEnvironmentOrder.map((o: Cfn) => o.Order));
    expect(orders).toContainEqual([1, 2]);
    const spotFirst = queues.find(([, q]) => q.Properties.ComputeEnvironmentOrder.length === 2)![1];
    const spotEnvId = envs.find(([, e]) => e.Properties.ComputeResources.Type === 'SPOT')![0];
    expect(spotFirst.Properties.ComputeEnvironmentOrder[0].ComputeEnvironment).toEqual({
      'Fn::GetAtt': [spotEnvId, 'ComputeEnvironmentArn'],
    });
  });

  it('has one job definition per stage, each asking for exactly one GPU', () => {
    const defs = resourcesOf(s.json, 'AWS::Batch::JobDefinition');
    expect(defs).toHaveLength(BATCH_STAGES.length);
    const commands = defs.map(([, d]) => d.Properties.ContainerProperties.Command[0]).sort();
    expect(commands).toEqual([...BATCH_STAGES].sort());
    for (const [, d] of defs) {
      const gpu = d.Properties.ContainerProperties.ResourceRequirements.filter((r: Cfn) => r.Type === 'GPU');
      expect(gpu).toEqual([{ Type: 'GPU', Value: '1' }]);
      expect(d.Properties.ContainerProperties.Environment).toContainEqual({
        Name: 'RAUNET_REQUIRE_GPU',
        Value: '1',
      });
    }
  });

  it('bounds every stage: attempt timeouts by config, RUNNABLE cancelled, IMDS hop limit 1, amd64 images', () => {
    const timeouts = Object.fromEntries(
      resourcesOf(s.json, 'AWS::Batch::JobDefinition').map(([, d]) => [
        d.Properties.ContainerProperties.Command[0],
        d.Properties.Timeout.AttemptDurationSeconds,
      ]),
    );
    expect(timeouts).toEqual({
      localize: 1800,
      'segment-brats': 1800,
      'segment-liver': 1800,
      'segment-tumor': 1800,
      'train-fold': 12 * 3600,
      'evaluate-ensemble': 12 * 3600,
    });
    const queues = resourcesOf(s.json, 'AWS::Batch::JobQueue');
    expect(queues).toHaveLength(2);
    for (const [, q] of queues) {
      expect(q.Properties.JobStateTimeLimitActions.map((a: Cfn) => a.Reason).sort()).toEqual([
        'CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY',
        'MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE',
        'MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT',
      ]);
      for (const a of q.Properties.JobStateTimeLimitActions) {
        expect(a).toMatchObject({ Action: 'CANCEL', State: 'RUNNABLE', MaxTimeSeconds: 3600 });
      }
    }
    const [, lt] = resourcesOf(s.json, 'AWS::EC2::LaunchTemplate')[0];
    expect(lt.Properties.LaunchTemplateData.MetadataOptions).toMatchObject({
      HttpTokens: 'required',
      HttpPutResponseHopLimit: 1,
    });
    const assets = JSON.parse(readFileSync(path.join(s.outdir, 'Raunet-dev.assets.json'), 'utf8'));
    for (const d of Object.values<Cfn>(assets.dockerImages)) expect(d.source.platform).toBe('linux/amd64');
  });

  it('retries only host and Spot terminations, and exits on everything else', () => {
    for (const [, d] of resourcesOf(s.json, 'AWS::Batch::JobDefinition')) {
      const rules = d.Properties.RetryStrategy.EvaluateOnExit as Array<Record<string, string>>;
      expect(rules[0]).toEqual({ Action: 'RETRY', OnStatusReason: 'Host EC2*' });
      expect(rules.at(-1)).toEqual({ Action: 'EXIT', OnReason: '*' });
      for (const r of rules.slice(0, -1)) {
        expect(r.Action).toBe('RETRY');
        expect(r.OnExitCode).toBeUndefined(); // an application's exit code never triggers a retry
      }
      expect(d.Properties.RetryStrategy.Attempts).toBeGreaterThan(1);
    }
  });

  it('points inference stages at the ONNX image and training stages at the WebGPU image with graphics', () => {
    const imageOf = (stage: string) =>
      JSON.stringify(
        resourcesOf(s.json, 'AWS::Batch::JobDefinition').find(
          ([, d]) => d.Properties.ContainerProperties.Command[0] === stage,
        )![1].Properties.ContainerProperties.Image,
      );
    const inference = new Set(INFERENCE_STAGES.map(imageOf));
    const training = new Set(['train-fold', 'evaluate-ensemble'].map(imageOf));
    expect(inference.size).toBe(1);
    expect(training.size).toBe(1);
    expect([...inference][0]).not.toBe([...training][0]);
    for (const [, d] of resourcesOf(s.json, 'AWS::Batch::JobDefinition')) {
      const env = d.Properties.ContainerProperties.Environment as Cfn[];
      const caps = env.find((e) => e.Name === 'NVIDIA_DRIVER_CAPABILITIES');
      if (INFERENCE_STAGES.includes(d.Properties.ContainerProperties.Command[0]))
        expect(caps).toBeUndefined();
      else expect(caps?.Value).toBe('compute,utility,graphics'); // Vulkan for WebGPU (Dawn)
    }
    const assets = JSON.parse(readFileSync(path.join(s.outdir, 'Raunet-dev.assets.json'), 'utf8'));
    const files = Object.values<Cfn>(assets.dockerImages)
      .map((d) => d.source.dockerFile)
      .sort();
    expect(files).toEqual(['containers/Dockerfile.infer', 'containers/Dockerfile.train']);
  });
});

describe('dev stack: workflows', () => {
  const machines = () =>
    resourcesOf(s.json, 'AWS::StepFunctions::StateMachine').map(([, m]) => definitionOf(m));
  const segmentation = () => machines().find((d) => d.States.Ingest)!;
  const training = () => machines().find((d) => d.States.Plan)!;

  it('segmentation runs ingest, window, three Batch stages and finalize in order', () => {
    const st = segmentation().States;
    expect(segmentation().StartAt).toBe('Ingest');
    expect(st.Ingest.Next).toBe('NewJob?');
    expect(st['NewJob?'].Choices[0].Next).toBe('Duplicate');
    expect(st['NewJob?'].Default).toBe('Window');
    expect(st.Window.Next).toBe('Localize');
    expect(st.Localize.Next).toBe('SegmentLiver');
    expect(st.SegmentLiver.Next).toBe('SegmentTumor');
    expect(st.SegmentTumor.Next).toBe('Finalize');
    for (const b of ['Localize', 'SegmentLiver', 'SegmentTumor']) {
      expect(st[b].Resource).toContain('batch:submitJob.sync');
      expect(st[b].ResultSelector).toEqual({
        'batchJobId.$': '$.JobId',
        'status.$': '$.Status',
        'startedAt.$': '$.StartedAt',
        'stoppedAt.$': '$.StoppedAt',
      });
    }
    // Finalize gets the step times (numbers) next to the plan's S3 pointers.
    expect(st.Finalize.Parameters).toMatchObject({
      'plan.$': '$.ingest.plan',
      'window.$': '$.window',
      'batch.$': '$.batch',
    });
  });

  it('catches every segmentation task into MarkFailed, then Fail; retries transient errors', () => {
    const st = segmentation().States;
    for (const name of ['Ingest', 'Window', 'Localize', 'SegmentLiver', 'SegmentTumor', 'Finalize']) {
      expect(st[name].Catch).toEqual([
        { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'MarkFailed' },
      ]);
      expect(st[name].Retry.length).toBeGreaterThan(0);
      expect(st[name].Retry.flatMap((r: Cfn) => r.ErrorEquals)).not.toContain('States.ALL');
    }
    expect(st.MarkFailed.Next).toBe('Failed');
    expect(st.Failed.Type).toBe('Fail');
  });

  it('training plans, maps folds with bounded concurrency, evaluates and registers', () => {
    const d = training();
    expect(d.StartAt).toBe('Plan');
    expect(d.States.Plan.Next).toBe('Folds');
    const map = d.States.Folds;
    expect(map.Type).toBe('Map');
    expect(map.MaxConcurrency).toBe(2);
    expect(map.ItemsPath).toBe('$.plan.items');
    expect(map.ItemProcessor.States.TrainFold.Resource).toContain('batch:submitJob.sync');
    expect(map.Next).toBe('CheckFolds');
    expect(d.States.CheckFolds.Next).toBe('EvaluateEnsemble');
    expect(d.States.EvaluateEnsemble.Next).toBe('Register');
    for (const name of ['Plan', 'Folds', 'CheckFolds', 'EvaluateEnsemble', 'Register']) {
      expect(d.States[name].Catch).toEqual([
        { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'RunFailed' },
      ]);
    }
  });

  it('records a failed training run through RunFailed (a Lambda), then fails the execution', () => {
    const st = training().States;
    expect(st.RunFailed.Type).toBe('Task');
    expect(st.RunFailed.Parameters).toEqual({
      execution: { 'name.$': '$$.Execution.Name', 'startTime.$': '$$.Execution.StartTime' },
      'state.$': '$',
    });
    expect(st.RunFailed.ResultPath).toBe('$.failure');
    expect(st.RunFailed.Next).toBe('TrainingFailed');
    expect(st.TrainingFailed).toMatchObject({
      Type: 'Fail',
      Error: 'TrainingFailed',
      CausePath: '$.failure.reason',
    });
    // Each workflow has its own failure recorder, each role with only what its records need:
    // run-failed writes the models table (conditional PutItem) and describes Batch jobs; segmentation's
    // mark-failed updates the jobs table. Neither can touch the other's table.
    const actionsOf = (prefix: string) => {
      const policies = resourcesOf(s.json, 'AWS::IAM::Policy').filter(([id]) => id.startsWith(prefix));
      expect(policies, prefix).toHaveLength(1);
      return policies[0][1].Properties.PolicyDocument.Statement as Cfn[];
    };
    const common = [
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      'xray:PutTelemetryRecords',
      'xray:PutTraceSegments',
    ];
    const sortedActions = (statements: Cfn[]) => statements.flatMap((x) => [x.Action].flat()).sort();
    const runFailed = actionsOf('TrainingrunfailedRole');
    expect(sortedActions(runFailed)).toEqual(['batch:DescribeJobs', 'dynamodb:PutItem', ...common].sort());
    const put = runFailed.find((x) => x.Action === 'dynamodb:PutItem')!;
    expect(JSON.stringify(put.Resource)).toContain('TablesModels');
    expect(JSON.stringify(put.Resource)).not.toContain('TablesJobs');
    const markFailed = actionsOf('SegmentationmarkfailedRole');
    expect(sortedActions(markFailed)).toEqual(['dynamodb:UpdateItem', ...common].sort());
    const update = markFailed.find((x) => x.Action === 'dynamodb:UpdateItem')!;
    expect(JSON.stringify(update.Resource)).toContain('TablesJobs');
    expect(JSON.stringify(update.Resource)).not.toContain('TablesModels');
    // The training workflow's Catch invokes run-failed.
    const raw = resourcesOf(s.json, 'AWS::StepFunctions::StateMachine')
      .map(([, m]) => JSON.stringify(m.Properties.DefinitionString))
      .find((d) => d.includes('RunFailed'))!;
    expect(raw).toMatch(/"Fn::GetAtt":\["TrainingrunfailedFn[0-9A-F]+","Arn"\]/);
    expect(raw).not.toMatch(/SegmentationmarkfailedFn/);
  });

  it('starts segmentations only for scans under incoming/ (in the rule pattern), through an SQS buffer', () => {
    const rules = resourcesOf(s.json, 'AWS::Events::Rule').filter(([, r]) =>
      JSON.stringify(r.Properties.EventPattern).includes('Object Created'),
    );
    expect(rules).toHaveLength(1);
    const [, rule] = rules[0];
    expect(rule.Properties.EventPattern.detail.object.key).toEqual([
      { wildcard: 'incoming/*.nii' },
      { wildcard: 'incoming/*.nii.gz' },
      { wildcard: 'incoming/*.zip' },
      { wildcard: 'incoming/brats/*.zip' },
    ]);
    const inputId = resourcesOf(s.json, 'AWS::S3::Bucket').find(([id]) => id.startsWith('StorageInput'))![0];
    expect(rule.Properties.EventPattern.detail.bucket.name).toEqual([{ Ref: inputId }]);
    // Its target is the queue (with a dead-letter queue for undeliverable events), not a Lambda.
    const queues = resourcesOf(s.json, 'AWS::SQS::Queue');
    const start = queues.find(([id]) => id.includes('StartQueue'))!;
    const dlq = queues.find(([id]) => id.includes('StartDeadLetters'))!;
    expect(rule.Properties.Targets).toEqual([
      expect.objectContaining({
        Arn: { 'Fn::GetAtt': [start[0], 'Arn'] },
        DeadLetterConfig: { Arn: { 'Fn::GetAtt': [dlq[0], 'Arn'] } },
      }),
    ]);
    expect(start[1].Properties.RedrivePolicy).toEqual({
      deadLetterTargetArn: { 'Fn::GetAtt': [dlq[0], 'Arn'] },
      maxReceiveCount: 5,
    });
    // The starter drains it with bounded concurrency and per-message failures.
    const [[, mapping]] = resourcesOf(s.json, 'AWS::Lambda::EventSourceMapping');
    expect(mapping.Properties).toMatchObject({
      EventSourceArn: { 'Fn::GetAtt': [start[0], 'Arn'] },
      ScalingConfig: { MaximumConcurrency: 5 },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    expect(JSON.stringify(mapping.Properties.FunctionName)).toContain('SegmentationstarterFn');
    // An alarm on the dead-letter queue.
    const dlqAlarm = resourcesOf(s.json, 'AWS::CloudWatch::Alarm').filter(([, a]) =>
      JSON.stringify(a.Properties.Dimensions ?? []).includes(dlq[0]),
    );
    expect(dlqAlarm).toHaveLength(1);
    expect(dlqAlarm[0][1].Properties.MetricName).toBe('ApproximateNumberOfMessagesVisible');
  });

  it('marks a job FAILED when its execution times out, is stopped or fails (EventBridge -> mark-failed)', () => {
    const [[, rule]] = resourcesOf(s.json, 'AWS::Events::Rule').filter(([, r]) =>
      JSON.stringify(r.Properties.EventPattern).includes('Execution Status Change'),
    );
    expect(rule.Properties.EventPattern.detail.status).toEqual(['TIMED_OUT', 'ABORTED', 'FAILED']);
    expect(JSON.stringify(rule.Properties.EventPattern.detail.stateMachineArn)).toContain(
      'SegmentationStateMachine',
    );
    expect(JSON.stringify(rule.Properties.Targets)).toContain('SegmentationmarkfailedFn');
  });

  it('gives the state machines what Batch .sync needs, scoped to our job definitions; stage timeouts', () => {
    for (const prefix of ['SegmentationStateMachineRole', 'TrainingStateMachineRole']) {
      const statements = resourcesOf(s.json, 'AWS::IAM::Policy')
        .filter(([id]) => id.startsWith(prefix))
        .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Cfn[]);
      const of = (action: string) => statements.filter((x) => [x.Action].flat().includes(action));
      expect(of('batch:TerminateJob'), prefix).toHaveLength(1);
      expect(of('batch:DescribeJobs')[0].Resource).toBe('*');
      expect(JSON.stringify(of('events:PutRule')[0].Resource)).toContain(
        'rule/StepFunctionsGetEventsForBatchJobsRule',
      );
      const submit = JSON.stringify(of('batch:SubmitJob').map((x) => x.Resource));
      expect(submit).not.toContain('job-definition/*');
      expect(submit).toMatch(/job-definition\/raunet-dev-[a-z-]+:\*/);
    }
    const st = segmentation().States;
    // 3 attempts x (30 min run + 60 min RUNNABLE).
    for (const b of ['Localize', 'SegmentLiver', 'SegmentTumor'])
      expect(st[b].TimeoutSeconds).toBe(3 * 90 * 60);
    for (const b of ['Window', 'Ingest']) {
      expect(st[b].Retry[0]).toMatchObject({ JitterStrategy: 'FULL', MaxDelaySeconds: 60 });
    }
  });

  it('state machines use JSONPath, log and trace', () => {
    for (const [, m] of resourcesOf(s.json, 'AWS::StepFunctions::StateMachine')) {
      expect(definitionOf(m).QueryLanguage ?? 'JSONPath').toBe('JSONPath');
      expect(m.Properties.TracingConfiguration).toEqual({ Enabled: true });
      expect(m.Properties.LoggingConfiguration.Level).toBe('ALL');
      expect(m.Properties.LoggingConfiguration.IncludeExecutionData).toBe(false);
    }
  });

  it('has no training schedule in dev (manual starts only)', () => {
    expect(resourcesOf(s.json, 'AWS::Scheduler::Schedule')).toHaveLength(0);
  });
});

describe('dev stack: Lambdas, observability, outputs', () => {
  it('runs every Lambda on Node.js 22 / ARM64 with X-Ray tracing', () => {
    const fns = resourcesOf(s.json, 'AWS::Lambda::Function').filter(
      ([, f]) => f.Properties.Runtime === 'nodejs22.x',
    );
    expect(fns).toHaveLength(10); // five segmentation, five training functions
    for (const [, f] of fns) {
      expect(f.Properties.TracingConfig).toEqual({ Mode: 'Active' });
      expect(f.Properties.Architectures).toEqual(['arm64']);
      expect(f.Properties.Handler).toBe('index.handler');
    }
  });

  it('alarms on failed executions and failed Batch jobs, notifies an encrypted topic by e-mail', () => {
    s.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({
        source: ['aws.batch'],
        'detail-type': ['Batch Job State Change'],
        detail: Match.objectLike({ status: ['FAILED'] }),
      }),
    });
    s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ExecutionsFailed',
      Namespace: 'AWS/States',
    });
    const batchAlarm = resourcesOf(s.json, 'AWS::CloudWatch::Alarm').filter(([, a]) =>
      JSON.stringify(a).includes('"MetricName":"TriggeredRules","Namespace":"AWS/Events"'),
    );
    expect(batchAlarm).toHaveLength(2); // failed jobs; jobs cancelled after waiting in RUNNABLE
    s.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'raunet-alarms@example.org',
    });
    s.template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    s.template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });

  it('outputs the bucket names and state machine ARNs', () => {
    const outputs = Object.keys(s.json.Outputs);
    for (const o of [
      'InputBucketName',
      'ResultsBucketName',
      'ModelsBucketName',
      'SegmentationStateMachineArn',
      'TrainingStateMachineArn',
    ]) {
      expect(outputs).toContain(o);
    }
  });
});

describe('dev stack: security checks', () => {
  it('passes cdk-nag AwsSolutions with no unacknowledged finding', () => {
    expect(
      s.nag.violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.resourceLogicalId)}`),
    ).toEqual([]);
    expect(s.nag.success).toBe(true);
  });

  it('gives every acknowledgment a written reason', () => {
    const acks = s.stack.node
      .findAll()
      .flatMap((c) => c.node.metadata.filter((m) => m.type === 'aws:cdk:acknowledged-rules'))
      .flatMap((m) => Object.entries(m.data as Record<string, string>))
      .filter(([id]) => id.includes('AwsSolutions-'));
    expect(acks.length).toBeGreaterThan(5);
    for (const [, reason] of acks) {
      expect(String(reason).length).toBeGreaterThan(20);
    }
  });

  it('grants no wildcard action and no "*" resource outside the documented allow-list', () => {
    expect(scanIamPolicies(s.json)).toEqual([]);
  });
});
