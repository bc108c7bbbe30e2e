/**
 * Builds the CDK app for one environment. `bin/app.ts` (the `cdk.json` app) calls it with the CLI's
 * context; tests call it in-process with a context object and an output folder.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { resolveConfig } from './config.ts';
import { applyNagSuppressions } from './nag-suppressions.ts';
import { REPO_ROOT } from './paths.ts';
import { RaunetStack } from './stack.ts';

export interface BuildAppOptions {
  /** Where the cloud assembly goes (defaults to the CDK CLI's choice). */
  outdir?: string;
  /** Run the cdk-nag AwsSolutions checks as a policy-validation plugin at synth (default true). */
  nag?: boolean;
  /** Write tree.json (the CLI's construct tree; default true). Tests turn it off to synthesize faster. */
  treeMetadata?: boolean;
  /** The CDK's built-in CloudFormation template validation at synth (default true; slow, tests skip it). */
  cfnValidation?: boolean;
}

export interface BuiltApp {
  app: App;
  stack: RaunetStack;
}

/** Context keys read: `env` (dev|staging|prod), `account`, `region`, `alarmEmail`, `config` (JSON overrides). */
export function buildApp(context: Record<string, unknown> = {}, opts: BuildAppOptions = {}): BuiltApp {
  // The feature flags of cdk.json apply in tests too (the CLI passes them itself).
  const app = new App({
    context: { ...cdkJsonContext(), ...context },
    outdir: opts.outdir,
    treeMetadata: opts.treeMetadata ?? true,
    builtinCloudFormationValidation: opts.cfnValidation ?? true,
  });
  const read = (k: string) => app.node.tryGetContext(k) as unknown;
  const config = resolveConfig({
    env: read('env'),
    account: read('account'),
    region: read('region'),
    alarmEmail: read('alarmEmail'),
    config: read('config'),
  });
  const stack = new RaunetStack(app, `Raunet-${config.envName}`, config);
  applyNagSuppressions(stack, config);
  if (opts.nag !== false) Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return { app, stack };
}

function cdkJsonContext(): Record<string, unknown> {
  const json = JSON.parse(readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  return json.context ?? {};
}
