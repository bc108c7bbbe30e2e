/**
 * Scanner over a synthesized template's IAM policies (AWS::IAM::Policy, AWS::IAM::ManagedPolicy and the
 * inline policies of AWS::IAM::Role): reports every Allow statement with a wildcard action (`*`, `s3:*`,
 * `s3:Get*`) and every one whose resource is the bare `*`, unless all its actions are on the allow-list
 * below: actions AWS does not authorize per resource, so `*` is the only possible resource.
 * Resource policies (bucket, key, topic policies) are not IAM identity policies and are not scanned.
 */

/** Actions that support no resource-level permissions (Resource must be `*`), with why we need them. */
export const STAR_RESOURCE_ALLOW_LIST: Record<string, string> = {
  'xray:PutTraceSegments': 'X-Ray tracing of Lambdas and state machines',
  'xray:PutTelemetryRecords': 'X-Ray tracing of Lambdas and state machines',
  'xray:GetSamplingRules': 'X-Ray tracing of state machines',
  'xray:GetSamplingTargets': 'X-Ray tracing of state machines',
  'ecr:GetAuthorizationToken': 'Batch containers pull their image from ECR',
  'logs:CreateLogDelivery': 'Step Functions execution logging (vended logs)',
  'logs:GetLogDelivery': 'Step Functions execution logging (vended logs)',
  'logs:UpdateLogDelivery': 'Step Functions execution logging (vended logs)',
  'logs:DeleteLogDelivery': 'Step Functions execution logging (vended logs)',
  'logs:ListLogDeliveries': 'Step Functions execution logging (vended logs)',
  'logs:PutResourcePolicy': 'Step Functions execution logging (vended logs)',
  'logs:DescribeResourcePolicies': 'Step Functions execution logging (vended logs)',
  'logs:DescribeLogGroups': 'Step Functions execution logging (vended logs)',
  'cloudwatch:PutMetricData': 'custom metrics (namespaces are not resources)',
  'ec2:DescribeSecurityGroups': 'CDK custom resource locking down the default security group',
  'batch:DescribeJobs': "the training workflow's RunFailed step reads the failed job's final record",
};

export interface IamFinding {
  resource: string;
  problem: string;
  actions: string[];
}

type Statement = { Effect?: string; Action?: string | string[]; Resource?: unknown };
type Doc = { Statement?: Statement[] };

const asList = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

interface IamProperties {
  PolicyDocument?: Doc;
  Policies?: Array<{ PolicyDocument: Doc }>;
}

export function scanIamPolicies(template: {
  Resources?: Record<string, { Type: string; Properties?: IamProperties }>;
}): IamFinding[] {
  const findings: IamFinding[] = [];
  for (const [id, r] of Object.entries(template.Resources ?? {})) {
    const docs: Doc[] = [];
    const own = r.Properties?.PolicyDocument;
    if ((r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') && own) docs.push(own);
    if (r.Type === 'AWS::IAM::Role')
      for (const p of r.Properties?.Policies ?? []) docs.push(p.PolicyDocument);
    for (const doc of docs) {
      for (const st of doc?.Statement ?? []) {
        if (st.Effect !== 'Allow') continue;
        const actions = asList(st.Action);
        const wildcardActions = actions.filter((a) => a.includes('*'));
        if (wildcardActions.length > 0) {
          findings.push({ resource: id, problem: `wildcard action ${wildcardActions.join(', ')}`, actions });
        }
        const starResource = asList(st.Resource as unknown[]).some((x) => x === '*');
        if (starResource && !actions.every((a) => a in STAR_RESOURCE_ALLOW_LIST)) {
          const offending = actions.filter((a) => !(a in STAR_RESOURCE_ALLOW_LIST));
          findings.push({ resource: id, problem: `Resource "*" for ${offending.join(', ')}`, actions });
        }
      }
    }
  }
  return findings;
}
