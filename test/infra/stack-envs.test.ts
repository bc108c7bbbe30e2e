// staging and prod, each synthesized once (Lambda bundling skipped: the dev test covers it).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scanIamPolicies } from './iam-scan.ts';
import { definitionOf, resourcesOf, type Synth, synthEnv } from './synth.ts';

let staging: Synth;
let prod: Synth;
beforeAll(async () => {
  staging = await synthEnv('staging');
  prod = await synthEnv('prod');
});
afterAll(() => {
  staging?.cleanup();
  prod?.cleanup();
});

describe('staging and prod', () => {
  it('synthesize offline, pass cdk-nag and the IAM scan', () => {
    for (const s of [staging, prod]) {
      expect(s.nag.violations.map((v) => v.ruleName)).toEqual([]);
      expect(scanIamPolicies(s.json)).toEqual([]);
      expect(s.assembly.stacks.map((st) => st.stackName)).toEqual([s.stack.stackName]);
    }
  });

  it('schedule training per configured stage with EventBridge Scheduler', () => {
    const schedules = resourcesOf(staging.json, 'AWS::Scheduler::Schedule');
    expect(schedules).toHaveLength(2);
    for (const [, sch] of schedules) {
      expect(sch.Properties.ScheduleExpression).toBe('cron(0 3 ? * SUN *)');
      expect(JSON.parse(sch.Properties.Target.Input).trigger).toBe('schedule');
    }
    expect(schedules.map(([, sch]) => JSON.parse(sch.Properties.Target.Input).stage).sort()).toEqual([
      'liver',
      'tumor',
    ]);
  });

  it('prod retains buckets and tables and bounds training concurrency from config', () => {
    for (const [, b] of resourcesOf(prod.json, 'AWS::S3::Bucket')) expect(b.DeletionPolicy).toBe('Retain');
    for (const [, t] of resourcesOf(prod.json, 'AWS::DynamoDB::GlobalTable')) {
      expect(t.DeletionPolicy).toBe('Retain');
      expect(t.Properties.Replicas[0].DeletionProtectionEnabled).toBe(true);
    }
    for (const [, b] of resourcesOf(staging.json, 'AWS::S3::Bucket')) expect(b.DeletionPolicy).toBe('Delete');
    const training = resourcesOf(prod.json, 'AWS::StepFunctions::StateMachine')
      .map(([, m]) => definitionOf(m))
      .find((d) => d.States.Plan)!;
    expect(training.States.Folds.MaxConcurrency).toBe(5);
    const envs = resourcesOf(prod.json, 'AWS::Batch::ComputeEnvironment');
    for (const [, e] of envs) expect(e.Properties.ComputeResources.MaxvCpus).toBe(256);
  });

  it('an on-demand-only config drops the Spot environment', async () => {
    const s = await synthEnv('staging', { config: { batch: { capacity: 'on-demand' } } });
    try {
      const envs = resourcesOf(s.json, 'AWS::Batch::ComputeEnvironment');
      expect(envs.map(([, e]) => e.Properties.ComputeResources.Type)).toEqual(['EC2']);
    } finally {
      s.cleanup();
    }
  });
});
