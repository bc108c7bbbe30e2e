/**
 * Narrow grants. The CDK's `bucket.grantRead`/`table.grant` add wildcard actions (`s3:GetObject*`,
 * `s3:List*`) and index ARNs the pipeline never needs; these helpers name each action and resource.
 */
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';

/** Object-level actions on the keys matching `keyPattern` (e.g. `work/*`). */
export function allowObjects(
  role: iam.IGrantable,
  bucket: s3.IBucket,
  actions: string[],
  keyPattern = '*',
): void {
  role.grantPrincipal.addToPrincipalPolicy(
    new iam.PolicyStatement({ actions, resources: [bucket.arnForObjects(keyPattern)] }),
  );
}

export const READ_OBJECT = ['s3:GetObject', 's3:GetObjectVersion'];
export const WRITE_OBJECT = ['s3:PutObject', 's3:AbortMultipartUpload'];

/** `s3:ListBucket` limited to keys under `prefix`. */
export function allowList(role: iam.IGrantable, bucket: s3.IBucket, prefix: string): void {
  role.grantPrincipal.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['s3:ListBucket'],
      resources: [bucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': [`${prefix}*`] } },
    }),
  );
}

/** Item-level actions on the table itself (no index ARNs unless asked). */
export function allowTable(
  role: iam.IGrantable,
  table: dynamodb.ITableV2,
  actions: string[],
  indexes: string[] = [],
): void {
  role.grantPrincipal.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions,
      resources: [table.tableArn, ...indexes.map((i) => `${table.tableArn}/index/${i}`)],
    }),
  );
}
