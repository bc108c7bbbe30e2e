/**
 * The synthesized CDK template as the local cloud sees it: local names for the physical resources, an
 * intrinsic-function resolver (Ref, Fn::GetAtt, Fn::Join, Fn::Select, Fn::Split, pseudo parameters), and the
 * Lambda function -> `functions/<name>.ts` handler table read from the construct tree.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { Stack } from 'aws-cdk-lib';
import { buildApp } from '../infra/app.ts';
import { FUNCTIONS_DIR } from '../infra/paths.ts';
import { PipelineFunction } from '../infra/pipeline-function.ts';

export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT = '000000000000';

export interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
  Metadata?: Record<string, unknown>;
}
export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
}

export interface SynthesizedApp {
  template: CfnTemplate;
  /** Lambda logical id -> handler file name in `functions/` (without `.ts`). */
  handlers: Record<string, string>;
  stackName: string;
}

/** Synthesize the app of one environment (no Lambda bundling, no cdk-nag: only the template is needed). */
export function synthesize(outdir: string, env = 'dev'): SynthesizedApp {
  const { app, stack } = buildApp(
    { env, 'aws:cdk:bundling-stacks': [] },
    { outdir, nag: false, treeMetadata: false, cfnValidation: false },
  );
  const assembly = app.synth();
  const template = assembly.getStackArtifact(stack.artifactId).template as CfnTemplate;
  const handlers: Record<string, string> = {};
  for (const c of stack.node.findAll()) {
    if (!(c instanceof PipelineFunction)) continue;
    const logicalId = Stack.of(c).getLogicalId(c.fn.node.defaultChild as never);
    handlers[logicalId] = c.node.id;
  }
  return { template, handlers, stackName: stack.stackName };
}

/**
 * The handler module of every Lambda the workflows use: functions named in a state machine definition,
 * targeted by an EventBridge rule or fed by an SQS event source mapping. Throws naming any such function without a `functions/*.ts` handler.
 * (CDK's own deploy-time custom-resource functions are not part of the workflows.)
 */
export function handlerFiles(
  app: SynthesizedApp,
  names = new LocalNames(app.template),
): Record<string, string> {
  const used = JSON.stringify(
    names.idsOfType('AWS::StepFunctions::StateMachine').map((id) => names.stateMachineDefinition(id)),
  ).concat(
    JSON.stringify(
      [...names.idsOfType('AWS::Events::Rule'), ...names.idsOfType('AWS::Lambda::EventSourceMapping')].map(
        (id) => names.resolve(names.resource(id)),
      ),
    ),
  );
  const out: Record<string, string> = {};
  const missing: string[] = [];
  for (const id of names.idsOfType('AWS::Lambda::Function')) {
    // State machines and rules name a function by ARN, event source mappings by name.
    if (!used.includes(names.arn(id)) && !used.includes(`"${names.physicalName(id)}"`)) continue;
    const name = app.handlers[id];
    const file = name ? path.join(FUNCTIONS_DIR, `${name}.ts`) : undefined;
    if (!file || !existsSync(file)) missing.push(id);
    else out[id] = file;
  }
  if (missing.length > 0) throw new Error(`no handler file for Lambda function(s) ${missing.join(', ')}`);
  return out;
}

/** Local physical names and ARNs of the template's resources. */
export class LocalNames {
  constructor(
    readonly template: CfnTemplate,
    private readonly prefix = 'raunet',
  ) {}

  /** Physical name (what `Ref` returns for buckets, tables, functions). */
  physicalName(logicalId: string): string {
    const r = this.resource(logicalId);
    switch (r.Type) {
      case 'AWS::S3::Bucket':
        // Bucket names: lower case, at most 63 characters.
        return `${this.prefix}-${logicalId.toLowerCase()}`.replace(/[^a-z0-9-]/g, '').slice(0, 63);
      default:
        return `${this.prefix}-${logicalId}`.slice(0, 64);
    }
  }

  arn(logicalId: string): string {
    const r = this.resource(logicalId);
    const name = this.physicalName(logicalId);
    const at = `${LOCAL_REGION}:${LOCAL_ACCOUNT}`;
    switch (r.Type) {
      case 'AWS::S3::Bucket':
        return `arn:aws:s3:::${name}`;
      case 'AWS::DynamoDB::Table':
      case 'AWS::DynamoDB::GlobalTable':
        return `arn:aws:dynamodb:${at}:table/${name}`;
      case 'AWS::Lambda::Function':
        return `arn:aws:lambda:${at}:function:${name}`;
      case 'AWS::Batch::JobQueue':
        return `arn:aws:batch:${at}:job-queue/${name}`;
      case 'AWS::Batch::JobDefinition':
        return `arn:aws:batch:${at}:job-definition/${name}:1`;
      case 'AWS::StepFunctions::StateMachine':
        return `arn:aws:states:${at}:stateMachine:${name}`;
      case 'AWS::SQS::Queue':
        return `arn:aws:sqs:${at}:${name}`;
      case 'AWS::IAM::Role':
        return `arn:aws:iam::${LOCAL_ACCOUNT}:role/${name}`;
      default:
        return `arn:aws:local:${at}:${r.Type.replace(/::/g, '-').toLowerCase()}/${name}`;
    }
  }

  /** What `Ref` returns for the resource type (ARN for queues, job definitions and state machines). */
  ref(logicalId: string): string {
    const t = this.resource(logicalId).Type;
    if (
      t === 'AWS::Batch::JobQueue' ||
      t === 'AWS::Batch::JobDefinition' ||
      t === 'AWS::StepFunctions::StateMachine'
    ) {
      return this.arn(logicalId);
    }
    return this.physicalName(logicalId);
  }

  resource(logicalId: string): CfnResource {
    const r = this.template.Resources[logicalId];
    if (!r) throw new Error(`template has no resource ${logicalId}`);
    return r;
  }

  /** Logical id of the resource whose `Ref` or ARN is `value`. */
  logicalIdOf(value: string): string | undefined {
    for (const id of Object.keys(this.template.Resources)) {
      if (this.ref(id) === value || this.arn(id) === value) return id;
    }
    return undefined;
  }

  /** Resolve CloudFormation intrinsics in `value` to local strings. */
  resolve(value: unknown): unknown {
    if (Array.isArray(value)) return value.map((v) => this.resolve(v));
    if (value === null || typeof value !== 'object') return value;
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj);
    if (keys.length === 1) {
      const [k] = keys;
      const arg = obj[k];
      if (k === 'Ref') return this.resolveRef(arg as string);
      if (k === 'Fn::GetAtt') {
        const [id, attr] = Array.isArray(arg) ? (arg as string[]) : String(arg).split('.');
        return this.getAtt(id, attr);
      }
      if (k === 'Fn::Join') {
        const [sep, parts] = arg as [string, unknown[]];
        return (this.resolve(parts) as unknown[]).map(String).join(sep);
      }
      if (k === 'Fn::Select') {
        const [i, list] = arg as [number, unknown];
        return (this.resolve(list) as unknown[])[Number(this.resolve(i))];
      }
      if (k === 'Fn::Split') {
        const [sep, s] = arg as [string, unknown];
        return String(this.resolve(s)).split(sep);
      }
      if (k === 'Fn::Sub') {
        const [tpl, vars] = (Array.isArray(arg) ? arg : [arg, {}]) as [string, Record<string, unknown>];
        const bound = this.resolve(vars) as Record<string, unknown>;
        return tpl.replace(/\$\{([^}!]+)\}/g, (_, name: string) => {
          if (name in bound) return String(bound[name]);
          const dot = name.indexOf('.');
          return dot > 0 ? this.getAtt(name.slice(0, dot), name.slice(dot + 1)) : this.resolveRef(name);
        });
      }
      if (k.startsWith('Fn::')) throw new Error(`unsupported intrinsic ${k}`);
    }
    return Object.fromEntries(keys.map((k) => [k, this.resolve(obj[k])]));
  }

  private resolveRef(name: string): string {
    switch (name) {
      case 'AWS::Partition':
        return 'aws';
      case 'AWS::Region':
        return LOCAL_REGION;
      case 'AWS::AccountId':
        return LOCAL_ACCOUNT;
      case 'AWS::URLSuffix':
        return 'amazonaws.com';
      case 'AWS::StackName':
        return `${this.prefix}-stack`;
      default:
        return this.ref(name);
    }
  }

  private getAtt(id: string, attr: string): string {
    if (attr === 'Arn' || attr.endsWith('Arn')) return this.arn(id);
    if (attr === 'Name' || attr.endsWith('Name')) return this.physicalName(id);
    throw new Error(`unsupported Fn::GetAtt ${id}.${attr}`);
  }

  /** The ASL definition of a state machine, tokens resolved to local names. */
  stateMachineDefinition(logicalId: string): Record<string, unknown> {
    const p = this.resource(logicalId).Properties ?? {};
    const body = this.resolve(p.DefinitionString ?? JSON.stringify(p.Definition));
    return JSON.parse(body as string) as Record<string, unknown>;
  }

  /** Logical ids of every resource of a type. */
  idsOfType(type: string): string[] {
    return Object.entries(this.template.Resources)
      .filter(([, r]) => r.Type === type)
      .map(([id]) => id);
  }
}
