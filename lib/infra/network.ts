/**
 * The VPC the Batch GPU instances run in: created (private subnets with NAT egress, S3 and DynamoDB
 * gateway endpoints, flow logs) or imported by id. Import is the only path that performs a context
 * lookup, so synth stays offline for the created default.
 */
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { DeploymentConfig } from './config.ts';
import { removalPolicyOf } from './storage.ts';

export class Network extends Construct {
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SubnetSelection = { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };

  constructor(scope: Construct, id: string, config: DeploymentConfig) {
    super(scope, id);
    const vpcConfig = config.vpc;
    if (vpcConfig.mode === 'import') {
      this.vpc = ec2.Vpc.fromLookup(this, 'Vpc', { vpcId: vpcConfig.vpcId });
      return;
    }
    const flowLogs = new logs.LogGroup(this, 'FlowLogs', {
      retention: config.retention.logRetentionDays as logs.RetentionDays,
      removalPolicy: removalPolicyOf(config),
    });
    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: vpcConfig.maxAzs,
      natGateways: vpcConfig.natGateways,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'compute', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
      ],
      flowLogs: {
        all: {
          destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs),
          trafficType: ec2.FlowLogTrafficType.ALL,
        },
      },
      gatewayEndpoints: {
        s3: { service: ec2.GatewayVpcEndpointAwsService.S3 },
        dynamodb: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB },
      },
    });
    this.vpc = vpc;
  }
}
