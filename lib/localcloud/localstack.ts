/**
 * The LocalStack run (`npm run e2e:localstack`, a thin shell in `scripts/`): check that LocalStack is
 * reachable and offers every service the app uses, deploy the app with `cdklocal`, then run scenario 1 (a
 * phantom CT dropped into the input bucket -> job SUCCEEDED with label map, report and preview).
 * Everything outside this process (LocalStack's health endpoint, the cdklocal CLI, the AWS clients, the
 * clock) comes in through `LocalStackDeps`, so each step is unit-tested with mocked clients.
 */
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { jobIdFor } from '../cloud/identity.ts';
import { generatePhantom } from '../phantom/phantom.ts';
import { encodeNifti } from '../volume/nifti.ts';
import { LOCAL_ACCOUNT, LOCAL_REGION } from './template.ts';

/** A failure with the process exit code it maps to: 2 = LocalStack or cdklocal unusable, 1 = the run failed. */
export class LocalStackRunError extends Error {
  override readonly name = 'LocalStackRunError';
  constructor(
    message: string,
    readonly exitCode: 1 | 2,
  ) {
    super(message);
  }
}

/** The services the deployed app uses (Batch is in LocalStack's paid tier only). */
export const REQUIRED_SERVICES = ['s3', 'dynamodb', 'lambda', 'stepfunctions', 'events', 'batch'] as const;

/** The stack outputs the run reads (declared in lib/infra/stack.ts). */
export const REQUIRED_OUTPUTS = [
  'InputBucketName',
  'ResultsBucketName',
  'ModelsBucketName',
  'JobsTableName',
  'ModelsTableName',
] as const;
export type StackOutputs = Record<(typeof REQUIRED_OUTPUTS)[number], string>;

/** The result files of a segmentation job (`results/<jobId>/`; the viewer folder's page stands for it). */
export const RESULT_FILES = ['labels.nii.gz', 'preview.png', 'report.json', 'viewer/index.html'] as const;

export interface LocalStackDeps {
  endpoint: string;
  fetch: (url: string, init?: { signal?: AbortSignal }) => Promise<{ json(): Promise<unknown> }>;
  /** True when the `cdklocal` CLI runs (`cdklocal --version`). */
  hasCdkLocal(): boolean;
  /** Run `cdklocal <args>` in the repository with `env`; throws when it exits non-zero. */
  cdkLocal(args: string[], env: Record<string, string>): void;
  /** A fresh temp file path for `--outputs-file`, and a reader of what cdk wrote there. */
  outputsFile(): string;
  readJson(file: string): unknown;
  s3: S3Client;
  ddb: DynamoDBClient;
  /** Put promoted models in the models bucket and table (`seedModels` of ./models.ts). */
  seedModels(opts: { bucket: string; table: string }): Promise<unknown>;
  sleep(ms: number): Promise<void>;
  now(): number;
  log(line: string): void;
  /** How long to wait for the job (default 30 minutes). */
  timeoutMs?: number;
  pollMs?: number;
}

/**
 * The environment pointing the AWS SDK and cdklocal at LocalStack (dummy credentials unless set). S3 gets
 * `localhost` spelled as 127.0.0.1: the SDK addresses buckets path-style on an IP endpoint, while on a host
 * name it would ask for `<bucket>.localhost`, which not every resolver knows (the code that builds its own
 * S3 clients from the environment, such as model seeding, cannot be told to force path style).
 */
export function localStackEnv(endpoint: string, base: NodeJS.ProcessEnv): Record<string, string> {
  const region = base.AWS_REGION ?? LOCAL_REGION;
  const s3 = new URL(endpoint);
  if (s3.hostname === 'localhost') s3.hostname = '127.0.0.1';
  return {
    AWS_ENDPOINT_URL: endpoint,
    AWS_ENDPOINT_URL_S3: s3.origin,
    AWS_ENDPOINT_URL_DYNAMODB: endpoint,
    AWS_ACCESS_KEY_ID: base.AWS_ACCESS_KEY_ID ?? 'test',
    AWS_SECRET_ACCESS_KEY: base.AWS_SECRET_ACCESS_KEY ?? 'test',
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    CDK_DEFAULT_ACCOUNT: LOCAL_ACCOUNT,
    CDK_DEFAULT_REGION: region,
  };
}

/** Fails (exit code 2) unless LocalStack answers its health check with every required service. */
export async function checkLocalStack(deps: Pick<LocalStackDeps, 'endpoint' | 'fetch'>): Promise<void> {
  let health: { services?: Record<string, string> };
  try {
    const res = await deps.fetch(`${deps.endpoint}/_localstack/health`, {
      signal: AbortSignal.timeout(5000),
    });
    health = (await res.json()) as typeof health;
  } catch (e) {
    throw new LocalStackRunError(
      `LocalStack is not reachable at ${deps.endpoint} (${(e as Error).message}). Start it first ` +
        '(see docs/local-cloud.md) or set LOCALSTACK_ENDPOINT.',
      2,
    );
  }
  const services = health?.services ?? {};
  const missing = REQUIRED_SERVICES.filter((s) => !(s in services) || services[s] === 'disabled');
  if (missing.length > 0) {
    throw new LocalStackRunError(
      `LocalStack at ${deps.endpoint} does not offer: ${missing.join(', ')} (Batch needs its paid tier)`,
      2,
    );
  }
}

/** Bootstrap and deploy the dev stage with cdklocal; resolves to the stack outputs the run needs. */
export function deployWithCdkLocal(
  deps: Pick<LocalStackDeps, 'hasCdkLocal' | 'cdkLocal' | 'outputsFile' | 'readJson' | 'log'>,
  env: Record<string, string>,
): StackOutputs {
  if (!deps.hasCdkLocal()) {
    throw new LocalStackRunError('cdklocal is not installed: npm i -g aws-cdk-local aws-cdk', 2);
  }
  const file = deps.outputsFile();
  deps.log('bootstrapping and deploying the dev stage with cdklocal');
  deps.cdkLocal(['bootstrap', '-c', 'env=dev'], env);
  deps.cdkLocal(['deploy', '-c', 'env=dev', '--require-approval', 'never', '--outputs-file', file], env);
  const stacks = Object.values((deps.readJson(file) ?? {}) as Record<string, Record<string, string>>);
  if (stacks.length !== 1) {
    throw new LocalStackRunError(`expected the outputs of one stack in ${file}, found ${stacks.length}`, 1);
  }
  const missing = REQUIRED_OUTPUTS.filter((k) => !stacks[0][k]);
  if (missing.length > 0) throw new LocalStackRunError(`stack outputs missing: ${missing.join(', ')}`, 1);
  return Object.fromEntries(REQUIRED_OUTPUTS.map((k) => [k, stacks[0][k]])) as StackOutputs;
}

/**
 * Scenario 1 on the deployed stack: seed models, upload a 96x96x48 phantom, wait for its job record to end
 * and check the three result files. Resolves to the job id; fails (exit code 1) saying what went wrong.
 */
export async function runScenario1(deps: LocalStackDeps, out: StackOutputs): Promise<string> {
  await deps.seedModels({ bucket: out.ModelsBucketName, table: out.ModelsTableName });
  const bucket = out.InputBucketName;
  const key = 'incoming/localstack-case.nii.gz';
  const { ct } = generatePhantom({ seed: 11, dims: [96, 96, 48], tumors: 1 });
  await deps.s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: key, Body: encodeNifti(ct, { gzip: true }) }),
  );
  const head = await deps.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  const jobId = jobIdFor({
    bucket,
    key,
    versionId: head.VersionId && head.VersionId !== 'null' ? head.VersionId : null,
    etag: (head.ETag ?? '').replace(/"/g, ''),
  });
  deps.log(`scan uploaded, waiting for job ${jobId}`);
  const deadline = deps.now() + (deps.timeoutMs ?? 30 * 60_000);
  let status = '';
  let reason = '';
  for (;;) {
    const item = await deps.ddb.send(
      new GetItemCommand({ TableName: out.JobsTableName, Key: { jobId: { S: jobId } } }),
    );
    status = item.Item?.status?.S ?? '';
    reason = item.Item?.reason?.S ?? '';
    if (status === 'SUCCEEDED' || status === 'FAILED' || deps.now() >= deadline) break;
    await deps.sleep(deps.pollMs ?? 5000);
  }
  if (status !== 'SUCCEEDED') {
    const how = status === 'FAILED' ? `FAILED: ${reason}` : `not finished (${status || 'no job record'})`;
    throw new LocalStackRunError(`job ${jobId} ${how}`, 1);
  }
  const listed = await deps.s3.send(
    new ListObjectsV2Command({ Bucket: out.ResultsBucketName, Prefix: `results/${jobId}/` }),
  );
  const files = (listed.Contents ?? []).map((o) => (o.Key ?? '').slice(`results/${jobId}/`.length)).sort();
  if (!RESULT_FILES.every((f) => files.includes(f))) {
    throw new LocalStackRunError(`results of job ${jobId}: ${files.join(', ') || 'none'}`, 1);
  }
  deps.log(`job ${jobId} SUCCEEDED with ${files.join(', ')}`);
  return jobId;
}

/** The whole run: check, deploy, scenario 1. */
export async function runLocalStackE2E(deps: LocalStackDeps, env: Record<string, string>): Promise<string> {
  await checkLocalStack(deps);
  return runScenario1(deps, deployWithCdkLocal(deps, env));
}

/** SDK clients for LocalStack (path-style S3: LocalStack's endpoint is not a bucket domain). */
export function localStackClients(env: Record<string, string>) {
  const common = {
    region: env.AWS_REGION,
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY },
  };
  return {
    s3: new S3Client({ ...common, endpoint: env.AWS_ENDPOINT_URL_S3, forcePathStyle: true }),
    ddb: new DynamoDBClient({ ...common, endpoint: env.AWS_ENDPOINT_URL_DYNAMODB }),
  };
}
