/**
 * The three data buckets and their access-log bucket.
 *
 * - input: the drop zone. EventBridge notifications are on (the segmentation workflow listens to scans
 *   under `incoming/`); dropped scans expire after `inputExpirationDays`. Nothing of ours writes here.
 * - work: intermediate files of each job (`work/<jobId>/`), expired after `workExpirationDays`. No event
 *   notifications: what the workflow writes can never start another workflow.
 * - results: label maps, reports and previews, under `results/<jobId>/`.
 * - models: trained models (versioned, so a promotion never loses the previous model).
 * All of them block public access, are encrypted at rest, deny non-TLS requests and log access to the
 * log bucket.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { DeploymentConfig } from './config.ts';

export function removalPolicyOf(config: DeploymentConfig): RemovalPolicy {
  return config.retention.removalPolicy === 'retain' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
}

export class Storage extends Construct {
  readonly logBucket: s3.Bucket;
  readonly inputBucket: s3.Bucket;
  readonly workBucket: s3.Bucket;
  readonly resultsBucket: s3.Bucket;
  readonly modelsBucket: s3.Bucket;

  constructor(scope: Construct, id: string, config: DeploymentConfig) {
    super(scope, id);
    const removalPolicy = removalPolicyOf(config);
    const common: s3.BucketProps = {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy,
    };

    this.logBucket = new s3.Bucket(this, 'AccessLogs', {
      ...common,
      // S3 server access logging delivers with the bucket owner's permissions only under SSE-S3.
      // Access logs carry object keys, which may hold patient identifiers: kept only as long as configured.
      lifecycleRules: [
        { id: 'expire-access-logs', expiration: Duration.days(config.retention.accessLogExpirationDays) },
      ],
    });
    const logged = (prefix: string): s3.BucketProps => ({
      ...common,
      serverAccessLogsBucket: this.logBucket,
      serverAccessLogsPrefix: `${prefix}/`,
    });

    this.inputBucket = new s3.Bucket(this, 'Input', {
      ...logged('input'),
      eventBridgeEnabled: true,
      lifecycleRules: [
        { id: 'expire-dropped-scans', expiration: Duration.days(config.retention.inputExpirationDays) },
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(2) },
      ],
    });

    this.workBucket = new s3.Bucket(this, 'Work', {
      ...logged('work'),
      lifecycleRules: [
        { id: 'expire-intermediates', expiration: Duration.days(config.retention.workExpirationDays) },
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
    });

    const resultsDays = config.retention.resultsExpirationDays;
    this.resultsBucket = new s3.Bucket(this, 'Results', {
      ...logged('results'),
      lifecycleRules: [
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(2) },
        ...(resultsDays === null ? [] : [{ id: 'expire-results', expiration: Duration.days(resultsDays) }]),
      ],
    });

    this.modelsBucket = new s3.Bucket(this, 'Models', {
      ...logged('models'),
      versioned: true,
      lifecycleRules: [
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(2) },
        {
          id: 'expire-old-model-versions',
          noncurrentVersionExpiration: Duration.days(config.retention.noncurrentModelVersionDays),
        },
      ],
    });
  }
}
