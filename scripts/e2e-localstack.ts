/**
 * `npm run e2e:localstack`: deploy the app with `cdklocal` to a running LocalStack and run scenario 1 of
 * the local-cloud run there (lib/localcloud/localstack.ts). Needs LocalStack with Batch (its paid tier)
 * and `cdklocal` on the PATH (`npm i -g aws-cdk-local aws-cdk`); see docs/local-cloud.md. Exits 2, saying
 * why, when either is missing, and 1 when the run fails: it never pretends.
 *
 * Env: LOCALSTACK_ENDPOINT (default http://localhost:4566), RAUNET_E2E_TIMEOUT_MIN (default 30).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from '../lib/infra/paths.ts';
import {
  LocalStackRunError,
  localStackClients,
  localStackEnv,
  runLocalStackE2E,
} from '../lib/localcloud/localstack.ts';

const endpoint = process.env.LOCALSTACK_ENDPOINT ?? 'http://localhost:4566';
const env = localStackEnv(endpoint, process.env);
// The seeding code builds its own SDK clients from the environment.
Object.assign(process.env, env);
const log = (line: string) => process.stderr.write(`e2e:localstack: ${line}\n`);
try {
  await runLocalStackE2E(
    {
      endpoint,
      fetch: (url, init) => fetch(url, init),
      hasCdkLocal: () => spawnSync('cdklocal', ['--version'], { stdio: 'ignore' }).status === 0,
      cdkLocal: (args, e) => {
        execFileSync('cdklocal', args, { cwd: REPO_ROOT, env: { ...process.env, ...e }, stdio: 'inherit' });
      },
      outputsFile: () => path.join(mkdtempSync(path.join(tmpdir(), 'raunet-ls-')), 'outputs.json'),
      readJson: (file) => JSON.parse(readFileSync(file, 'utf8')),
      ...localStackClients(env),
      // Loaded only when needed: TensorFlow.js and the ONNX writer are slow to import.
      seedModels: async (o) => (await import('../lib/localcloud/models.ts')).seedModels(o),
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      now: () => Date.now(),
      log,
      timeoutMs: Number(process.env.RAUNET_E2E_TIMEOUT_MIN ?? '30') * 60_000,
    },
    env,
  );
} catch (e) {
  log(e instanceof Error ? e.message : String(e));
  process.exitCode = e instanceof LocalStackRunError ? e.exitCode : 1;
}
