import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { fetchS3Models } from '../../lib/pipeline/s3-models.ts';

describe('S3 model folders', () => {
  it('copies the stage/fold files (paginated) and skips the rest and what is already there', async () => {
    const s3 = mockClient(S3Client);
    const body = (text: string) => ({ transformToByteArray: async () => new TextEncoder().encode(text) });
    s3.on(ListObjectsV2Command, { ContinuationToken: undefined }).resolves({
      Contents: [
        { Key: 'm/v1/localize/fold-0/model.onnx', Size: 3 },
        { Key: 'm/v1/README.md', Size: 5 },
      ],
      IsTruncated: true,
      NextContinuationToken: 't2',
    });
    s3.on(ListObjectsV2Command, { ContinuationToken: 't2' }).resolves({
      Contents: [{ Key: 'm/v1/liver/fold-2/manifest.json', Size: 2 }],
      IsTruncated: false,
    });
    s3.on(GetObjectCommand, { Key: 'm/v1/localize/fold-0/model.onnx' }).resolves({
      Body: body('abc') as never,
    });
    s3.on(GetObjectCommand, { Key: 'm/v1/liver/fold-2/manifest.json' }).resolves({
      Body: body('{}') as never,
    });
    const dest = await mkdtemp(join(tmpdir(), 'raunet-s3-'));
    try {
      const root = await fetchS3Models('s3://b/m/v1', dest, new S3Client({ region: 'us-east-1' }));
      expect(root).toBe(dest);
      expect(await readFile(join(dest, 'localize/fold-0/model.onnx'), 'utf8')).toBe('abc');
      expect(await readFile(join(dest, 'liver/fold-2/manifest.json'), 'utf8')).toBe('{}');
      expect(s3.commandCalls(GetObjectCommand)).toHaveLength(2);
      // second time: sizes match, nothing is downloaded
      await fetchS3Models('s3://b/m/v1', dest, new S3Client({ region: 'us-east-1' }));
      expect(s3.commandCalls(GetObjectCommand)).toHaveLength(2);
      s3.on(ListObjectsV2Command).resolves({ Contents: [] });
      await expect(
        fetchS3Models('s3://b/empty', dest, new S3Client({ region: 'us-east-1' })),
      ).rejects.toThrow(/no model files/);
    } finally {
      s3.restore();
      await rm(dest, { recursive: true, force: true });
    }
  });
});
