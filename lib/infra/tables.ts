/**
 * DynamoDB tables (on-demand, point-in-time recovery).
 *
 * - jobs: one item per segmentation job, key `jobId`. No status index: one on `status` would put every
 *   running job of a burst into one partition (a hot key), and nothing in the pipeline queries by status;
 *   operators list failed jobs with a filtered Scan (docs/aws.md).
 * - models: trained ensembles and training runs, key (`stage`, `runId`). GSI `byDice` (partition `stage`,
 *   sort `valDice`) lists a stage's models by validation Dice. The item with runId `CURRENT` points at the
 *   promoted ensemble of its stage.
 * Attribute names are shared with `lib/cloud/` through the constants below.
 */
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { MODELS_BY_DICE_INDEX } from '../cloud/table-schema.ts';
import type { DeploymentConfig } from './config.ts';
import { removalPolicyOf } from './storage.ts';

export class Tables extends Construct {
  readonly jobs: dynamodb.TableV2;
  readonly models: dynamodb.TableV2;

  constructor(scope: Construct, id: string, config: DeploymentConfig) {
    super(scope, id);
    const common = {
      billing: dynamodb.Billing.onDemand(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: removalPolicyOf(config),
      deletionProtection: config.retention.removalPolicy === 'retain',
    };
    this.jobs = new dynamodb.TableV2(this, 'Jobs', {
      ...common,
      partitionKey: { name: 'jobId', type: dynamodb.AttributeType.STRING },
    });
    this.models = new dynamodb.TableV2(this, 'Models', {
      ...common,
      partitionKey: { name: 'stage', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'runId', type: dynamodb.AttributeType.STRING },
      globalSecondaryIndexes: [
        {
          indexName: MODELS_BY_DICE_INDEX,
          partitionKey: { name: 'stage', type: dynamodb.AttributeType.STRING },
          sortKey: { name: 'valDice', type: dynamodb.AttributeType.NUMBER },
        },
      ],
    });
  }
}
