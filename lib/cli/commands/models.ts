/**
 * `raunet models publish --stage <s> <model-dir> (--env <env> | --bucket <b> --table <t>)`: upload a
 * trained stage ensemble to a deployment's models bucket and register + promote it as the training
 * workflow does (`lib/cloud/publish.ts`). The bucket and table come from the deployed stack's outputs
 * (`ModelsBucketName`, `ModelsTableName` of `Raunet-<env>`: CloudFormation DescribeStacks through the
 * AWS CLI, or a `cdk deploy --outputs-file` JSON), or from the explicit flags.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import type { S3Client } from '@aws-sdk/client-s3';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Command } from 'commander';
import { InputError } from '../../errors.ts';

/** The stack outputs publishing needs (declared in lib/infra/stack.ts). */
export const PUBLISH_OUTPUTS = ['ModelsBucketName', 'ModelsTableName'] as const;
const ENVS = ['dev', 'staging', 'prod'];
const STAGES = ['localize', 'liver', 'tumor', 'brats'] as const;

/** Reads a stack's outputs (key -> value). */
export type StackOutputsReader = (stackName: string, region?: string) => Promise<Record<string, string>>;

/** DescribeStacks through the AWS CLI (the project has no CloudFormation SDK client). */
export const describeStackOutputs: StackOutputsReader = async (stackName, region) => {
  const args = ['cloudformation', 'describe-stacks', '--stack-name', stackName, '--output', 'json'];
  if (region) args.push('--region', region);
  let stdout: string;
  try {
    ({ stdout } = await promisify(execFile)('aws', args, { maxBuffer: 16 * 1024 * 1024 }));
  } catch (e) {
    const err = e as { code?: string; stderr?: string; message?: string };
    if (err.code === 'ENOENT') {
      throw new InputError(
        'the AWS CLI (aws) is not installed: pass --outputs-file <cdk outputs JSON> or --bucket and --table',
        'BAD_ARGUMENT',
      );
    }
    throw new InputError(
      `cannot describe stack ${stackName}: ${(err.stderr || err.message || '').trim().split('\n')[0]}`,
      'NOT_FOUND',
    );
  }
  const parsed = JSON.parse(stdout) as {
    Stacks?: Array<{ Outputs?: Array<{ OutputKey?: string; OutputValue?: string }> }>;
  };
  const out: Record<string, string> = {};
  for (const o of parsed.Stacks?.[0]?.Outputs ?? []) {
    if (o.OutputKey && o.OutputValue) out[o.OutputKey] = o.OutputValue;
  }
  return out;
};

export interface PublishTargetOptions {
  env?: string;
  bucket?: string;
  table?: string;
  region?: string;
  outputsFile?: string;
}

/** The models bucket and table to publish to: the explicit flags, else the `Raunet-<env>` stack's outputs. */
export async function resolvePublishTarget(
  opts: PublishTargetOptions,
  readOutputs: StackOutputsReader = describeStackOutputs,
): Promise<{ bucket: string; table: string }> {
  if (opts.bucket || opts.table) {
    if (!opts.bucket || !opts.table) throw new InputError('--bucket and --table go together', 'BAD_ARGUMENT');
    return { bucket: opts.bucket, table: opts.table };
  }
  if (!opts.env)
    throw new InputError('pass --env <dev|staging|prod> or --bucket and --table', 'BAD_ARGUMENT');
  if (!ENVS.includes(opts.env)) {
    throw new InputError(`--env must be one of ${ENVS.join(', ')} (got ${opts.env})`, 'BAD_ARGUMENT');
  }
  const stackName = `Raunet-${opts.env}`;
  let outputs: Record<string, string>;
  if (opts.outputsFile) {
    let all: Record<string, Record<string, string>>;
    try {
      all = JSON.parse(await readFile(opts.outputsFile, 'utf8'));
    } catch {
      throw new InputError('is not a readable cdk outputs JSON file', 'BAD_ARGUMENT', opts.outputsFile);
    }
    outputs = all[stackName] ?? {};
  } else {
    outputs = await readOutputs(stackName, opts.region);
  }
  const missing = PUBLISH_OUTPUTS.filter((k) => !outputs[k]);
  if (missing.length > 0) {
    throw new InputError(`stack ${stackName} has no output ${missing.join(', ')} (deployed?)`, 'NOT_FOUND');
  }
  return { bucket: outputs.ModelsBucketName!, table: outputs.ModelsTableName! };
}

/** Clients and the outputs reader, injectable (tests, the local cloud). */
export interface PublishClients {
  s3?: S3Client;
  doc?: DynamoDBDocumentClient;
  readOutputs?: StackOutputsReader;
}

export async function runPublish(
  dir: string,
  opts: PublishTargetOptions & { stage: string },
  clients: PublishClients = {},
  log: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): Promise<string> {
  if (!(STAGES as readonly string[]).includes(opts.stage)) {
    throw new InputError(`--stage must be one of ${STAGES.join(', ')} (got ${opts.stage})`, 'BAD_ARGUMENT');
  }
  const stage = opts.stage as (typeof STAGES)[number];
  const { checkModelFolder, publishModels } = await import('../../cloud/publish.ts');
  // A bad folder is refused before anything is looked up or uploaded.
  await checkModelFolder(dir, stage);
  const target = await resolvePublishTarget(opts, clients.readOutputs);
  const { S3Client } = await import('@aws-sdk/client-s3');
  const { DynamoDBClient } = await import('@aws-sdk/client-dynamodb');
  const { DynamoDBDocumentClient } = await import('@aws-sdk/lib-dynamodb');
  const { DynamoModelRegistry } = await import('../../cloud/model-registry.ts');
  const { logger } = await import('../../cloud/logger.ts');
  // The registry's JSON log lines are for Lambdas; the command prints its own summary on stdout.
  logger.setLogLevel((process.env.POWERTOOLS_LOG_LEVEL as 'INFO' | undefined) ?? 'WARN');
  const region = opts.region ? { region: opts.region } : {};
  const s3 = clients.s3 ?? new S3Client(region);
  const doc =
    clients.doc ??
    DynamoDBDocumentClient.from(new DynamoDBClient(region), {
      marshallOptions: { removeUndefinedValues: true },
    });
  const r = await publishModels(
    { s3, registry: new DynamoModelRegistry(doc, target.table), modelsBucket: target.bucket },
    { stage, dir, log },
  );
  return (
    `${stage}: published ${r.folds} fold(s) as run ${r.runId} (${r.models}), validation Dice ${r.valDice.toFixed(4)}, ` +
    (r.promoted ? 'promoted to current' : 'registered, not promoted (the current ensemble scores higher)')
  );
}

export function register(program: Command): void {
  const models = program.command('models').description('models of a deployed pipeline');
  models
    .command('publish')
    .description(
      "upload a trained stage ensemble (<dir>/<stage>/fold-<k>/) to a deployment's models bucket, register it and promote it when it beats the current one",
    )
    .argument(
      '<model-dir>',
      'models folder holding <stage>/fold-<k>/ (e.g. models/demo), or the stage folder itself',
    )
    .requiredOption('--stage <stage>', 'localize, liver, tumor or brats')
    .option(
      '--env <env>',
      'deployment (dev, staging, prod): bucket and table from the Raunet-<env> stack outputs',
    )
    .option('--bucket <name>', 'models bucket (instead of the stack outputs; with --table)')
    .option('--table <name>', 'models table (with --bucket)')
    .option('--outputs-file <file>', 'read the stack outputs from this `cdk deploy --outputs-file` JSON')
    .option('--region <region>', 'AWS region (default: the environment/profile)')
    .action(async (dir: string, opts: PublishTargetOptions & { stage: string }) => {
      process.stdout.write(`${await runPublish(dir, opts)}\n`);
    });
}
