/**
 * Model folders on S3: `s3://bucket/prefix` holding `<stage>/fold-<k>/...` is copied to a local cache
 * folder once, then loaded like a local folder.
 */
import { mkdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { InputError } from '../errors.ts';
import { parseS3Url } from '../model/storage.ts';
import { writeFileAtomic } from '../volume/nifti.ts';

/**
 * Copy the model files under `s3://bucket/prefix/<stage>/fold-<k>/` into a local folder (default: a cache
 * folder under the OS temp dir named after the bucket and prefix) and return that folder. Files whose size
 * matches the object are not downloaded again.
 */
export async function fetchS3Models(url: string, dest?: string, client = new S3Client({})): Promise<string> {
  const loc = parseS3Url(url);
  const root = dest ?? join(tmpdir(), 'raunet-models', loc.bucket, loc.prefix);
  const base = loc.prefix ? `${loc.prefix}/` : '';
  let token: string | undefined;
  let count = 0;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: loc.bucket, Prefix: base, ContinuationToken: token }),
    );
    for (const obj of page.Contents ?? []) {
      const rel = obj.Key!.slice(base.length);
      if (!/^(localize|liver|tumor)\/fold-\d+\/[^/]+$/.test(rel)) continue;
      const file = join(root, rel);
      const have = await stat(file).catch(() => null);
      count++;
      if (have && have.size === obj.Size) continue;
      const got = await client.send(new GetObjectCommand({ Bucket: loc.bucket, Key: obj.Key }));
      if (!got.Body) throw new InputError(`empty object ${obj.Key}`, 'TRUNCATED', url);
      await mkdir(dirname(file), { recursive: true });
      await writeFileAtomic(file, await got.Body.transformToByteArray());
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  if (count === 0)
    throw new InputError('no model files (<stage>/fold-<k>/...) under this prefix', 'NOT_FOUND', url);
  return root;
}
