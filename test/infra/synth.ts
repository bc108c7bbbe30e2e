/** Synthesizes one environment once per test file (synth is slow) and shares the results. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { buildApp } from '../../lib/infra/app.ts';

/** Let the test worker answer its RPCs between the long synchronous phases of a synth. */
const breathe = () => new Promise((resolve) => setTimeout(resolve, 10));

export type Synth = Awaited<ReturnType<typeof synthEnv>>;

export async function synthEnv(env: string, opts: { config?: unknown } = {}) {
  // Lambda bundling (local esbuild) is proven per function in bundling.test.ts; here it is skipped, as is
  // the CDK's own (slow, WASM) CloudFormation validation, to keep synth quick.
  const context: Record<string, unknown> = { env, 'aws:cdk:bundling-stacks': [] };
  // staging and prod require an explicit alarm address.
  if (env !== 'dev') context.alarmEmail = 'ops@example.org';
  if (opts.config) context.config = opts.config;
  const outdir = mkdtempSync(path.join(tmpdir(), `raunet-cdk-${env}-`));
  const { app, stack } = buildApp(context, { outdir, nag: false, treeMetadata: false, cfnValidation: false });
  await breathe();
  const assembly = app.synth();
  await breathe();
  const template = Template.fromStack(stack);
  await breathe();
  const nag = new AwsSolutionsChecks(stack).validateScope(stack);
  await breathe();
  const cleanup = () => rmSync(outdir, { recursive: true, force: true });
  return { app, stack, template, json: template.toJSON(), nag, assembly, outdir, cleanup };
}

/** Synthesized CloudFormation JSON: its shape is CloudFormation's, checked by the assertions themselves. */
// biome-ignore lint/suspicious/noExplicitAny: template JSON is walked dynamically by the tests
export type Cfn = any;

/** Resources of a type, as [logicalId, resource] pairs. */
export function resourcesOf(json: Cfn, type: string): Array<[string, Cfn]> {
  return Object.entries<Cfn>(json.Resources).filter(([, r]) => r.Type === type);
}

/** The state machine definition with CDK tokens (Fn::Join) flattened to placeholders. */
export function definitionOf(sm: Cfn): Cfn {
  const body = sm.Properties.DefinitionString;
  const text =
    typeof body === 'string'
      ? body
      : body['Fn::Join'][1].map((p: unknown) => (typeof p === 'string' ? p : 'TOKEN')).join('');
  return JSON.parse(text);
}
