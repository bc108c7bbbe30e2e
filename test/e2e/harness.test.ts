// The local-cloud harness's own emulation rules (Batch retry evaluation, EventBridge patterns, names).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { ListBucketsCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { retryAction } from '../../lib/localcloud/batch.ts';
import { matchesPattern } from '../../lib/localcloud/cloud.ts';
import { clients, startEmulators } from '../../lib/localcloud/emulators.ts';
import { LocalNames } from '../../lib/localcloud/template.ts';

// The job definitions' EvaluateOnExit as CloudFormation spells it.
const RULES = [
  { Action: 'RETRY', OnStatusReason: 'Host EC2*' },
  { Action: 'RETRY', OnReason: 'DockerTimeoutError*' },
  { Action: 'EXIT', OnReason: '*' },
] as const;

describe('Batch retry evaluation', () => {
  it('retries a lost host, exits on an application error, retries when no rule matches', () => {
    expect(retryAction(RULES, { statusReason: 'Host EC2 (instance i-0abc) terminated.' })).toBe('RETRY');
    expect(retryAction(RULES, { statusReason: 'Essential container in task exited', exitCode: 2 })).toBe(
      'EXIT',
    );
    expect(
      retryAction(RULES, { statusReason: 'Task failed to start', reason: 'DockerTimeoutError: x' }),
    ).toBe('RETRY');
    expect(retryAction([{ Action: 'EXIT', OnExitCode: '2' }], { statusReason: 'x', exitCode: 1 })).toBe(
      'RETRY',
    );
    expect(retryAction([{ Action: 'EXIT', OnExitCode: '2' }], { statusReason: 'x', exitCode: 2 })).toBe(
      'EXIT',
    );
  });
});

describe('EventBridge pattern matching', () => {
  const pattern = {
    source: ['aws.s3'],
    detail: { bucket: { name: ['in'] }, object: { key: [{ suffix: '.nii' }, { suffix: '.nii.gz' }] } },
  };
  const event = (bucket: string, key: string) => ({
    source: 'aws.s3',
    detail: { bucket: { name: bucket }, object: { key } },
  });
  it('matches values, suffixes and nested fields', () => {
    expect(matchesPattern(pattern, event('in', 'a/b.nii.gz'))).toBe(true);
    expect(matchesPattern(pattern, event('in', 'a/b.txt'))).toBe(false);
    expect(matchesPattern(pattern, event('out', 'a/b.nii'))).toBe(false);
    expect(matchesPattern(pattern, { source: 'aws.s3' })).toBe(false);
  });
});

describe('template intrinsics', () => {
  const names = new LocalNames({
    Resources: {
      Bucket1: { Type: 'AWS::S3::Bucket' },
      Queue1: { Type: 'AWS::Batch::JobQueue' },
      Fn1: { Type: 'AWS::Lambda::Function' },
    },
  });
  it('resolves Ref, GetAtt, Join and Sub to local names', () => {
    expect(names.resolve({ Ref: 'Bucket1' })).toBe('raunet-bucket1');
    expect(names.resolve({ Ref: 'Queue1' })).toBe(
      'arn:aws:batch:us-east-1:000000000000:job-queue/raunet-Queue1',
    );
    expect(names.resolve({ 'Fn::Join': ['', ['s3://', { Ref: 'Bucket1' }, '/k']] })).toBe(
      's3://raunet-bucket1/k',
    );
    expect(names.resolve({ 'Fn::GetAtt': ['Fn1', 'Arn'] })).toBe(
      'arn:aws:lambda:us-east-1:000000000000:function:raunet-Fn1',
    );
    // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation's Fn::Sub syntax
    expect(names.resolve({ 'Fn::Sub': '${AWS::Region}/${Bucket1}' })).toBe('us-east-1/raunet-bucket1');
    expect(() => names.resolve({ 'Fn::ImportValue': 'x' })).toThrow(/unsupported intrinsic/);
  });
});

describe('emulators', () => {
  it('listen on OS-chosen loopback ports and stop at once despite open keep-alive connections', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'raunet-emu-'));
    const a = await startEmulators(dir);
    const b = await startEmulators(dir);
    try {
      const ports = [a.s3Endpoint, a.dynamoEndpoint, b.s3Endpoint, b.dynamoEndpoint].map((u) => new URL(u));
      expect(ports.every((u) => u.hostname === '127.0.0.1')).toBe(true);
      expect(new Set(ports.map((u) => u.port)).size).toBe(4);
      // A client with a pooled keep-alive connection to each emulator.
      const c = clients(a);
      await c.s3.send(new ListBucketsCommand({}));
      await c.ddb.send(new ListTablesCommand({}));
      await a.stop();
      await expect(fetch(a.s3Endpoint)).rejects.toThrow();
      await expect(fetch(a.dynamoEndpoint)).rejects.toThrow();
      c.s3.destroy();
      c.ddb.destroy();
    } finally {
      await b.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
