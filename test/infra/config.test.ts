import { describe, expect, it } from 'vitest';
import { buildApp } from '../../lib/infra/app.ts';
import { ConfigError, deepMerge, ENV_NAMES, resolveConfig } from '../../lib/infra/config.ts';

describe('resolveConfig', () => {
  it('accepts the defaults of every environment (staging and prod with an explicit alarm address)', () => {
    for (const env of ENV_NAMES) {
      const c = resolveConfig({ env, alarmEmail: env === 'dev' ? undefined : 'ops@example.org' });
      expect(c.envName).toBe(env);
      expect(c.vpc.mode).toBe('create'); // no lookups by default: synth stays offline
    }
  });

  it('requires an explicit alarm address for staging and prod, naming the field', () => {
    for (const env of ['staging', 'prod']) {
      expect(() => resolveConfig({ env })).toThrow(/alarmEmail: is required for (staging|prod)/);
      expect(resolveConfig({ env, config: { alarmEmail: 'a@b.org' } }).alarmEmail).toBe('a@b.org');
    }
    expect(resolveConfig({ env: 'dev' }).alarmEmail).toBe('raunet-alarms@example.org');
  });

  it('reads timeouts, the ingestion buffer and retention from config', () => {
    const c = resolveConfig({
      env: 'dev',
      config: { batch: { inferenceTimeoutMinutes: 45, trainingTimeoutHours: 6, runnableTimeoutMinutes: 20 } },
    });
    expect([
      c.batch.inferenceTimeoutMinutes,
      c.batch.trainingTimeoutHours,
      c.batch.runnableTimeoutMinutes,
    ]).toEqual([45, 6, 20]);
    // Batch refuses a RUNNABLE time limit under 10 minutes.
    expect(() => resolveConfig({ env: 'dev', config: { batch: { runnableTimeoutMinutes: 5 } } })).toThrow(
      /batch\.runnableTimeoutMinutes/,
    );
    expect(() => resolveConfig({ env: 'dev', config: { ingestion: { maxConcurrency: 1 } } })).toThrow(
      /ingestion\.maxConcurrency/,
    );
  });

  it('takes the inference CUDA base only pinned by digest', () => {
    const pinned = `nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04@sha256:${'ab'.repeat(32)}`;
    expect(resolveConfig({ env: 'dev' }).batch.inferenceBaseImage).toBeUndefined();
    const c = resolveConfig({ env: 'dev', config: { batch: { inferenceBaseImage: pinned } } });
    expect(c.batch.inferenceBaseImage).toBe(pinned);
    for (const bad of [
      'nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04',
      `${pinned.slice(0, -2)}`,
      `${pinned}x`,
    ]) {
      expect(() => resolveConfig({ env: 'dev', config: { batch: { inferenceBaseImage: bad } } })).toThrow(
        /batch\.inferenceBaseImage: must be an image pinned by digest/,
      );
    }
  });

  it('differs where environments should: prod retains data and trains on a schedule', () => {
    expect(resolveConfig({ env: 'dev' }).retention.removalPolicy).toBe('destroy');
    expect(resolveConfig({ env: 'dev' }).training.schedule).toBeNull();
    const prod = resolveConfig({ env: 'prod', alarmEmail: 'ops@example.org' });
    expect(prod.retention.removalPolicy).toBe('retain');
    expect(prod.training.schedule).toMatch(/^cron\(/);
  });

  it('applies JSON overrides from context, deep-merged', () => {
    const c = resolveConfig({
      env: 'dev',
      config: '{"batch":{"maxVcpus":32},"alarmEmail":"ops@example.com"}',
    });
    expect(c.batch.maxVcpus).toBe(32);
    expect(c.batch.capacity).toBe('spot'); // untouched sibling kept
    expect(c.alarmEmail).toBe('ops@example.com');
  });

  it('names every bad field', () => {
    const bad = () =>
      resolveConfig({
        env: 'staging',
        config: { batch: { maxVcpus: 0, gpuInstanceTypes: ['m5.large'] }, alarmEmail: 'not-an-address' },
      });
    expect(bad).toThrow(ConfigError);
    expect(bad).toThrow(/batch\.maxVcpus/);
    expect(bad).toThrow(/batch\.gpuInstanceTypes\.0: must be an NVIDIA GPU type/);
    expect(bad).toThrow(/alarmEmail/);
    expect(bad).toThrow(/env "staging"/);
  });

  it('selects GPU compute by default everywhere, CPU compute on request, and names a bad choice', () => {
    for (const env of ENV_NAMES) {
      expect(resolveConfig({ env, alarmEmail: 'ops@example.org' }).batch.compute).toBe('gpu');
    }
    expect(resolveConfig({ env: 'dev', config: { batch: { compute: 'cpu' } } }).batch.compute).toBe('cpu');
    expect(() => resolveConfig({ env: 'dev', config: { batch: { compute: 'tpu' } } })).toThrow(
      /batch\.compute:/,
    );
    expect(() =>
      resolveConfig({ env: 'dev', config: { batch: { compute: 'cpu', cpuInstanceTypes: ['g5.xlarge'] } } }),
    ).toThrow(/batch\.cpuInstanceTypes\.0: must be an EC2 instance type without GPUs/);
    expect(() => buildApp({ env: 'dev', config: { batch: { compute: 'GPU' } } }, { nag: false })).toThrow(
      /batch\.compute/,
    );
  });

  it('requires an account when the VPC is imported (the lookup needs one)', () => {
    const cfg = { vpc: { mode: 'import', vpcId: 'vpc-0123456789abcdef0' } };
    expect(() => resolveConfig({ env: 'dev', config: cfg })).toThrow(
      /account: is required when the VPC is imported/,
    );
    expect(resolveConfig({ env: 'dev', config: cfg, account: '123456789012' }).vpc).toEqual(cfg.vpc);
  });

  it('rejects an unknown environment, a bad region, a bad schedule and invalid JSON', () => {
    expect(() => resolveConfig({ env: 'qa' })).toThrow(/env: must be one of dev, staging, prod/);
    expect(() => resolveConfig({ env: 'dev', region: 'mars-1' })).toThrow(/region/);
    expect(() => resolveConfig({ env: 'dev', config: { training: { schedule: 'every day' } } })).toThrow(
      /training\.schedule: must be a cron/,
    );
    expect(() => resolveConfig({ env: 'dev', config: '{bad' })).toThrow(/not valid JSON/);
    expect(() => resolveConfig({ env: 'dev', config: { retention: { logRetentionDays: 10 } } })).toThrow(
      /retention\.logRetentionDays: must be one of/,
    );
  });

  it('deepMerge replaces arrays and scalars, merges objects', () => {
    expect(deepMerge({ a: { b: 1, c: [1, 2] }, d: 1 }, { a: { c: [3] } })).toEqual({
      a: { b: 1, c: [3] },
      d: 1,
    });
  });
});

describe('buildApp with a bad config', () => {
  it('fails before synth with a message naming the field', () => {
    expect(() => buildApp({ env: 'dev', config: { batch: { maxVcpus: -4 } } }, { nag: false })).toThrow(
      /batch\.maxVcpus/,
    );
  });
});
