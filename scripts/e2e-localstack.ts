/**
 * `npm run e2e:localstack`: deploy the app with `cdklocal` to a running LocalStack and run scenario 1 of
 * the local-cloud run there (a phantom CT dropped into the input bucket -> job SUCCEEDED with label map,
 * report and preview). Needs LocalStack (with Batch, i.e. its paid tier) and `cdklocal` on the PATH
 * (`npm i -g aws-cdk-local aws-cdk`); see docs/local-cloud.md. Exits non-zero, saying why, when either is
 * missing: it never pretends.
 *
 * Env: LOCALSTACK_ENDPOINT (default http://localhost:4566), RAUNET_E2E_TIMEOUT_MIN (default 30).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { jobIdFor } from '../lib/cloud/identity.ts';
import { REPO_ROOT } from '../lib/infra/paths.ts';
import { seedModels } from '../lib/localcloud/models.ts';
import { generatePhantom } from '../lib/phantom/phantom.ts';
import { encodeNifti } from '../lib/volume/nifti.ts';

const endpoint = process.env.LOCALSTACK_ENDPOINT ?? 'http://localhost:4566';
const timeoutMin = Number(process.env.RAUNET_E2E_TIMEOUT_MIN ?? '30');

function fail(message: string, code = 2): never {
  process.stderr.write(`e2e:localstack: ${message}\n`);
  process.exit(code);
}

async function main(): Promise<void> {
  let health: { services?: Record<string, string>; edition?: string };
  try {
    const res = await fetch(`${endpoint}/_localstack/health`, { signal: AbortSignal.timeout(5000) });
    health = (await res.json()) as typeof health;
  } catch (e) {
    fail(
      `LocalStack is not reachable at ${endpoint} (${(e as Error).message}). Start it first ` +
        '(see docs/local-cloud.md) or set LOCALSTACK_ENDPOINT.',
    );
  }
  const services = health.services ?? {};
  const missing = ['s3', 'dynamodb', 'lambda', 'stepfunctions', 'events', 'batch'].filter(
    (s) => !(s in services) || services[s] === 'disabled',
  );
  if (missing.length > 0) {
    fail(`LocalStack at ${endpoint} does not offer: ${missing.join(', ')} (Batch needs the paid tier)`);
  }
  if (spawnSync('cdklocal', ['--version'], { stdio: 'ignore' }).status !== 0) {
    fail('cdklocal is not installed: npm i -g aws-cdk-local aws-cdk');
  }

  const env = {
    ...process.env,
    AWS_ENDPOINT_URL: endpoint,
    AWS_ENDPOINT_URL_S3: endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: endpoint,
    AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? 'test',
    AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? 'test',
    AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
    AWS_DEFAULT_REGION: process.env.AWS_REGION ?? 'us-east-1',
    CDK_DEFAULT_ACCOUNT: '000000000000',
    CDK_DEFAULT_REGION: process.env.AWS_REGION ?? 'us-east-1',
  };
  Object.assign(process.env, env);
  const outputsFile = path.join(mkdtempSync(path.join(tmpdir(), 'raunet-ls-')), 'outputs.json');
  const cdk = (args: string[]) => execFileSync('cdklocal', args, { cwd: REPO_ROOT, env, stdio: 'inherit' });
  process.stderr.write('e2e:localstack: bootstrapping and deploying Raunet-dev with cdklocal\n');
  cdk(['bootstrap', '-c', 'env=dev']);
  cdk(['deploy', '-c', 'env=dev', '--require-approval', 'never', '--outputs-file', outputsFile]);
  const outputs = Object.values(
    JSON.parse(readFileSync(outputsFile, 'utf8')) as Record<string, Record<string, string>>,
  )[0];
  const need = (k: string) => outputs[k] ?? fail(`stack output ${k} missing`, 1);

  const s3 = new S3Client({ forcePathStyle: true });
  await seedModels({ bucket: need('ModelsBucketName'), table: need('ModelsTableName') });
  const input = need('InputBucketName');
  const key = 'incoming/localstack-case.nii.gz';
  const { ct } = generatePhantom({ seed: 11, dims: [96, 96, 48], tumors: 1 });
  await s3.send(new PutObjectCommand({ Bucket: input, Key: key, Body: encodeNifti(ct, { gzip: true }) }));
  const head = await s3.send(new HeadObjectCommand({ Bucket: input, Key: key }));
  const jobId = jobIdFor({
    bucket: input,
    key,
    versionId: head.VersionId && head.VersionId !== 'null' ? head.VersionId : null,
    etag: (head.ETag ?? '').replace(/"/g, ''),
  });
  process.stderr.write(`e2e:localstack: scan uploaded, waiting for job ${jobId}\n`);
  const ddb = new DynamoDBClient({});
  const deadline = Date.now() + timeoutMin * 60_000;
  let status = '';
  let reason = '';
  while (Date.now() < deadline) {
    const item = await ddb.send(
      new GetItemCommand({ TableName: need('JobsTableName'), Key: { jobId: { S: jobId } } }),
    );
    status = item.Item?.status?.S ?? '';
    reason = item.Item?.reason?.S ?? '';
    if (status === 'SUCCEEDED' || status === 'FAILED') break;
    await new Promise((r) => setTimeout(r, 5000));
  }
  if (status !== 'SUCCEEDED') fail(`job ${jobId} ended ${status || 'without a record'} ${reason}`, 1);
  const listed = await s3.send(
    new ListObjectsV2Command({ Bucket: need('ResultsBucketName'), Prefix: `results/${jobId}/` }),
  );
  const files = (listed.Contents ?? []).map((o) => path.basename(o.Key ?? '')).sort();
  if (files.join(',') !== 'labels.nii.gz,preview.png,report.json') {
    fail(`results of job ${jobId}: ${files.join(', ') || 'none'}`, 1);
  }
  process.stderr.write(`e2e:localstack: job ${jobId} SUCCEEDED with ${files.join(', ')}\n`);
}

await main();
