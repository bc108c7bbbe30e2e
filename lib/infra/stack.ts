/**
 * The RA-UNet stack: storage, tables, network, Batch GPU compute, the two workflows and observability,
 * composed from one validated config. Outputs: bucket names and state machine ARNs.
 */
import { CfnOutput, Stack, type StackProps, Tags } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { BatchCompute } from './batch-compute.ts';
import type { DeploymentConfig } from './config.ts';
import { Network } from './network.ts';
import { Observability } from './observability.ts';
import { SegmentationWorkflow } from './segmentation-workflow.ts';
import { Storage } from './storage.ts';
import { Tables } from './tables.ts';
import { TrainingWorkflow } from './training-workflow.ts';

export class RaunetStack extends Stack {
  readonly storage: Storage;
  readonly tables: Tables;
  readonly compute: BatchCompute;
  readonly segmentation: SegmentationWorkflow;
  readonly training: TrainingWorkflow;
  readonly observability: Observability;

  constructor(scope: Construct, id: string, config: DeploymentConfig, props: StackProps = {}) {
    super(scope, id, {
      ...props,
      env: { account: config.account, region: config.region },
      description: `RA-UNet liver and tumor segmentation pipeline (${config.envName})`,
    });
    Tags.of(this).add('project', 'raunet');
    Tags.of(this).add('environment', config.envName);

    this.storage = new Storage(this, 'Storage', config);
    this.tables = new Tables(this, 'Tables', config);
    const network = new Network(this, 'Network', config);
    this.compute = new BatchCompute(this, 'Compute', { config, vpc: network.vpc, subnets: network.subnets });
    const parts = { config, storage: this.storage, tables: this.tables, compute: this.compute };
    this.segmentation = new SegmentationWorkflow(this, 'Segmentation', parts);
    this.training = new TrainingWorkflow(this, 'Training', parts);
    const functions = Object.fromEntries(
      [...Object.entries(this.segmentation.functions), ...Object.entries(this.training.functions)].map(
        ([name, f]) => [name, f.fn],
      ),
    );
    this.observability = new Observability(this, 'Observability', {
      config,
      compute: this.compute,
      stateMachines: {
        Segmentation: this.segmentation.stateMachine,
        Training: this.training.stateMachine,
      },
      functions,
      deadLetters: this.segmentation.deadLetters,
      rules: {
        ObjectCreated: this.segmentation.objectCreated,
        ExecutionEnded: this.segmentation.executionEnded,
      },
    });

    const out = (id: string, value: string, description: string) =>
      new CfnOutput(this, id, { value, description });
    out(
      'InputBucketName',
      this.storage.inputBucket.bucketName,
      'Drop .nii, .nii.gz or .zip (DICOM) scans here',
    );
    out('WorkBucketName', this.storage.workBucket.bucketName, 'Intermediate files of running jobs (expire)');
    out('ResultsBucketName', this.storage.resultsBucket.bucketName, 'Label maps, reports and previews');
    out('ModelsBucketName', this.storage.modelsBucket.bucketName, 'Datasets, training runs and models');
    out('JobsTableName', this.tables.jobs.tableName, 'Segmentation job records');
    out('ModelsTableName', this.tables.models.tableName, 'Trained models and the current ensembles');
    out(
      'SegmentationStateMachineArn',
      this.segmentation.stateMachine.stateMachineArn,
      'Segmentation workflow',
    );
    out('TrainingStateMachineArn', this.training.stateMachine.stateMachineArn, 'Training workflow');
    out('AlarmTopicArn', this.observability.topic.topicArn, 'Alarm notifications');
  }
}
