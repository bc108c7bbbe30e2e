// staging and prod, each synthesized once (Lambda bundling skipped: the dev test covers it).
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CfnTemplate, LocalNames } from '../../lib/localcloud/template.ts';
import { scanIamPolicies } from './iam-scan.ts';
import { definitionOf, resourcesOf, type Synth, synthEnv } from './synth.ts';

let staging: Synth;
let prod: Synth;
/** prod is synthesized with its inference CUDA base pinned by digest (config), staging with the tag. */
const PINNED_CUDA = `nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04@sha256:${'0f'.repeat(32)}`;
beforeAll(async () => {
  staging = await synthEnv('staging');
  prod = await synthEnv('prod', { config: { batch: { inferenceBaseImage: PINNED_CUDA } } });
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

  it('a CPU config (queues without GPUs) asks for no GPU and runs every stage on the CPU image', async () => {
    const s = await synthEnv('dev', { config: { batch: { compute: 'cpu' } } });
    try {
      const envs = resourcesOf(s.json, 'AWS::Batch::ComputeEnvironment');
      expect(envs).toHaveLength(2);
      for (const [, e] of envs) {
        expect(e.Properties.ComputeResources.InstanceTypes).toEqual([
          'c6i.2xlarge',
          'c6i.4xlarge',
          'm6i.2xlarge',
        ]);
        expect(e.Properties.ComputeResources.Ec2Configuration).toEqual([{ ImageType: 'ECS_AL2023' }]);
      }
      const defs = resourcesOf(s.json, 'AWS::Batch::JobDefinition');
      expect(defs).toHaveLength(6); // five stages and the brain job (segment-brats)
      for (const [, d] of defs) {
        const c = d.Properties.ContainerProperties;
        expect(c.ResourceRequirements.map((r: { Type: string }) => r.Type).sort()).toEqual([
          'MEMORY',
          'VCPU',
        ]);
        expect(c.Environment).toContainEqual({ Name: 'RAUNET_REQUIRE_GPU', Value: '0' });
      }
      expect(new Set(defs.map(([, d]) => JSON.stringify(d.Properties.ContainerProperties.Image))).size).toBe(
        1,
      );
      const assets = JSON.parse(readFileSync(path.join(s.outdir, 'Raunet-dev.assets.json'), 'utf8'));
      expect(
        Object.values<{ source: { dockerFile: string } }>(assets.dockerImages).map(
          (d) => d.source.dockerFile,
        ),
      ).toEqual(['containers/Dockerfile.cpu']);
      // The workflows submit every Batch step to the CPU queue.
      const queue = resourcesOf(s.json, 'AWS::Batch::JobQueue').find(([id]) => id.includes('CpuQueue'));
      expect(queue).toBeDefined();
      const names = new LocalNames(s.json as CfnTemplate);
      const batchStates = resourcesOf(s.json, 'AWS::StepFunctions::StateMachine').flatMap(
        ([id]) => JSON.stringify(names.stateMachineDefinition(id)).match(/"JobQueue":"[^"]+"/g) ?? [],
      );
      expect(batchStates).toHaveLength(6); // Localize, SegmentLiver, SegmentTumor, SegmentBrats, TrainFold, EvaluateEnsemble
      expect(new Set(batchStates)).toEqual(new Set([`"JobQueue":"${names.arn(queue![0])}"`]));
      expect(s.nag.violations.map((v) => v.ruleName)).toEqual([]);
      expect(scanIamPolicies(s.json)).toEqual([]);
    } finally {
      s.cleanup();
    }
  });

  it('staging and prod keep GPU compute by default', () => {
    for (const s of [staging, prod]) {
      for (const [, d] of resourcesOf(s.json, 'AWS::Batch::JobDefinition')) {
        expect(d.Properties.ContainerProperties.ResourceRequirements).toContainEqual({
          Type: 'GPU',
          Value: '1',
        });
      }
      for (const [, e] of resourcesOf(s.json, 'AWS::Batch::ComputeEnvironment')) {
        expect(e.Properties.ComputeResources.Ec2Configuration).toEqual([{ ImageType: 'ECS_AL2023_NVIDIA' }]);
      }
    }
  });

  it('builds the inference image on the digest-pinned CUDA base from config, the tag otherwise', () => {
    const buildArgs = (s: Synth, env: string) => {
      const assets = JSON.parse(readFileSync(path.join(s.outdir, `Raunet-${env}.assets.json`), 'utf8'));
      return Object.fromEntries(
        Object.values<{ source: { dockerFile: string; dockerBuildArgs?: Record<string, string> } }>(
          assets.dockerImages,
        ).map((d) => [d.source.dockerFile, d.source.dockerBuildArgs ?? {}]),
      );
    };
    expect(buildArgs(prod, 'prod')).toEqual({
      'containers/Dockerfile.infer': { CUDA_IMAGE: PINNED_CUDA },
      'containers/Dockerfile.train': {},
    });
    expect(buildArgs(staging, 'staging')).toEqual({
      'containers/Dockerfile.infer': {},
      'containers/Dockerfile.train': {},
    });
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
