/**
 * Alarms, the alarm topic and the dashboard.
 *
 * - SNS topic (KMS-encrypted, TLS-only) with the configured e-mail subscription.
 * - Alarms: failed executions of each state machine; failed Batch jobs of our queues (an EventBridge rule on
 *   `Batch Job State Change` with status FAILED notifies the topic directly, and its TriggeredRules metric
 *   drives an alarm); jobs cancelled after waiting in RUNNABLE (no capacity or quota); errors of each
 *   Lambda; messages in the ingestion dead-letter queue; failed invocations of the workflow's EventBridge
 *   rules; failed scheduled training starts.
 * - Dashboard: executions, Batch failures, Lambda errors and durations.
 * Notifications carry ids and status reasons only, never object keys.
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { BatchCompute } from './batch-compute.ts';
import type { DeploymentConfig } from './config.ts';

export interface ObservabilityProps {
  config: DeploymentConfig;
  compute: BatchCompute;
  stateMachines: Record<string, sfn.StateMachine>;
  functions: Record<string, lambda.IFunction>;
  /** Where messages go that could not be handled (any message there is an alarm). */
  deadLetters: sqs.IQueue;
  /** EventBridge rules whose failed target invocations raise an alarm. */
  rules: Record<string, events.IRule>;
}

export class Observability extends Construct {
  readonly topic: sns.Topic;
  readonly dashboard: cloudwatch.Dashboard;
  readonly batchFailures: events.Rule;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const { config, compute, stateMachines, functions, deadLetters, rules } = props;

    const key = new kms.Key(this, 'AlarmTopicKey', {
      enableKeyRotation: true,
      description: 'Encrypts the RA-UNet alarm topic',
    });
    // CloudWatch alarms and EventBridge publish to the encrypted topic.
    for (const service of ['cloudwatch.amazonaws.com', 'events.amazonaws.com']) {
      key.grant(new iam.ServicePrincipal(service), 'kms:Decrypt', 'kms:GenerateDataKey*');
    }
    this.topic = new sns.Topic(this, 'Alarms', {
      masterKey: key,
      enforceSSL: true,
      displayName: 'RA-UNet alarms',
    });
    // Validation requires an address outside dev (lib/infra/config.ts).
    if (config.alarmEmail) this.topic.addSubscription(new subscriptions.EmailSubscription(config.alarmEmail));
    const notify = new cwActions.SnsAction(this.topic);

    const alarm = (alarmId: string, metric: cloudwatch.IMetric, description: string) => {
      const a = new cloudwatch.Alarm(this, alarmId, {
        metric,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      a.addAlarmAction(notify);
      return a;
    };

    const executionWidgets: cloudwatch.IWidget[] = [];
    for (const [name, sm] of Object.entries(stateMachines)) {
      const period = Duration.minutes(5);
      alarm(`${name}ExecutionsFailed`, sm.metricFailed({ period }), `${name} workflow executions failed`);
      alarm(
        `${name}ExecutionsTimedOut`,
        sm.metricTimedOut({ period }),
        `${name} workflow executions timed out`,
      );
      executionWidgets.push(
        new cloudwatch.GraphWidget({
          title: `${name} executions`,
          left: [sm.metricStarted({ period }), sm.metricSucceeded({ period }), sm.metricFailed({ period })],
          width: 12,
        }),
      );
    }

    this.batchFailures = new events.Rule(this, 'BatchJobFailed', {
      description: 'A RA-UNet Batch job failed (after its retries)',
      eventPattern: {
        source: ['aws.batch'],
        detailType: ['Batch Job State Change'],
        detail: {
          status: ['FAILED'],
          jobQueue: [compute.queue.jobQueueArn, compute.onDemandQueue.jobQueueArn],
        },
      },
      targets: [
        new targets.SnsTopic(this.topic, {
          message: events.RuleTargetInput.fromObject({
            batchJobId: events.EventField.fromPath('$.detail.jobId'),
            jobName: events.EventField.fromPath('$.detail.jobName'),
            statusReason: events.EventField.fromPath('$.detail.statusReason'),
          }),
        }),
      ],
    });
    const batchFailedMetric = new cloudwatch.Metric({
      namespace: 'AWS/Events',
      metricName: 'TriggeredRules',
      dimensionsMap: { RuleName: this.batchFailures.ruleName },
      statistic: 'Sum',
      period: Duration.minutes(5),
      label: 'Failed Batch jobs',
    });
    alarm('BatchJobsFailed', batchFailedMetric, 'RA-UNet Batch jobs failed');

    // Jobs the queues cancelled after `runnableTimeoutMinutes` in RUNNABLE: no GPU quota or capacity.
    const runnableCancelled = new events.Rule(this, 'BatchJobRunnableTimeout', {
      description: 'A RA-UNet Batch job waited too long in RUNNABLE and was cancelled',
      eventPattern: {
        source: ['aws.batch'],
        detailType: ['Batch Job State Change'],
        detail: {
          status: ['FAILED'],
          jobQueue: [compute.queue.jobQueueArn, compute.onDemandQueue.jobQueueArn],
          statusReason: [{ prefix: 'CAPACITY:' }, { prefix: 'MISCONFIGURATION:' }],
        },
      },
    });
    alarm(
      'BatchJobsStuckRunnable',
      new cloudwatch.Metric({
        namespace: 'AWS/Events',
        metricName: 'TriggeredRules',
        dimensionsMap: { RuleName: runnableCancelled.ruleName },
        statistic: 'Sum',
        period: Duration.minutes(5),
      }),
      'RA-UNet Batch jobs were cancelled after waiting in RUNNABLE (GPU quota or capacity)',
    );
    alarm(
      'IngestionDeadLetters',
      deadLetters.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: 'Maximum',
      }),
      'S3 events or execution ends could not be handled: messages wait in the dead-letter queue',
    );
    for (const [name, rule] of Object.entries(rules)) {
      alarm(
        `${name}FailedInvocations`,
        new cloudwatch.Metric({
          namespace: 'AWS/Events',
          metricName: 'FailedInvocations',
          dimensionsMap: { RuleName: rule.ruleName },
          statistic: 'Sum',
          period: Duration.minutes(5),
        }),
        `EventBridge could not deliver ${name} events to their target`,
      );
    }
    if (config.training.schedule) {
      alarm(
        'ScheduledTrainingFailed',
        new cloudwatch.MathExpression({
          expression: 'errors + dropped',
          usingMetrics: {
            errors: new cloudwatch.Metric({
              namespace: 'AWS/Scheduler',
              metricName: 'TargetErrorCount',
              dimensionsMap: { ScheduleGroup: 'default' },
              statistic: 'Sum',
            }),
            dropped: new cloudwatch.Metric({
              namespace: 'AWS/Scheduler',
              metricName: 'InvocationDroppedCount',
              dimensionsMap: { ScheduleGroup: 'default' },
              statistic: 'Sum',
            }),
          },
          period: Duration.minutes(5),
        }),
        'EventBridge Scheduler could not start a scheduled training run',
      );
    }

    const errorMetrics: cloudwatch.IMetric[] = [];
    const durationMetrics: cloudwatch.IMetric[] = [];
    for (const [name, fn] of Object.entries(functions)) {
      const errors = fn.metricErrors({ period: Duration.minutes(5), label: name });
      alarm(`${name}Errors`, errors, `The ${name} Lambda raised errors`);
      errorMetrics.push(errors);
      durationMetrics.push(fn.metricDuration({ period: Duration.minutes(5), statistic: 'p90', label: name }));
    }

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `raunet-${config.envName}`,
      widgets: [
        executionWidgets,
        [
          new cloudwatch.GraphWidget({ title: 'Failed Batch jobs', left: [batchFailedMetric], width: 8 }),
          new cloudwatch.GraphWidget({ title: 'Lambda errors', left: errorMetrics, width: 8 }),
          new cloudwatch.GraphWidget({ title: 'Lambda duration p90', left: durationMetrics, width: 8 }),
        ],
      ],
    });
  }
}
