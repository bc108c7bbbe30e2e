/**
 * S3 helpers used by the Lambdas and the Batch entrypoint. A missing object is an `InputError`
 * (`NOT_FOUND`) naming the file; an object larger than the caller's cap is refused before download.
 */
import {
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { InputError } from '../errors.ts';
import { parseS3Uri } from './layout.ts';

export interface ObjectRef {
  bucket: string;
  key: string;
  versionId?: string | null;
}

function isNotFound(e: unknown): boolean {
  const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
  return err?.name === 'NoSuchKey' || err?.name === 'NotFound' || err?.$metadata?.httpStatusCode === 404;
}

/** A missing object is bad input naming the file; any other S3 error is returned unchanged. */
function notFoundAsInputError(e: unknown, ref: ObjectRef): unknown {
  return isNotFound(e)
    ? new InputError('object not found (deleted before it was processed?)', 'NOT_FOUND', fileNameOf(ref.key))
    : e;
}

/** The file name part of a key (what an `InputError` names). */
export function fileNameOf(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1);
}

/** Size in bytes, or a NOT_FOUND `InputError`. */
export async function objectSize(s3: S3Client, ref: ObjectRef): Promise<number> {
  try {
    const head = await s3.send(
      new HeadObjectCommand({ Bucket: ref.bucket, Key: ref.key, VersionId: ref.versionId ?? undefined }),
    );
    return head.ContentLength ?? 0;
  } catch (e) {
    throw notFoundAsInputError(e, ref);
  }
}

/** The object's bytes. `maxBytes` refuses larger objects with TOO_LARGE before reading them. */
export async function getObjectBytes(
  s3: S3Client,
  ref: ObjectRef,
  maxBytes = Number.POSITIVE_INFINITY,
): Promise<Uint8Array> {
  let out: GetObjectCommandOutput;
  try {
    out = await s3.send(
      new GetObjectCommand({ Bucket: ref.bucket, Key: ref.key, VersionId: ref.versionId ?? undefined }),
    );
  } catch (e) {
    throw notFoundAsInputError(e, ref);
  }
  if (out.ContentLength !== undefined && out.ContentLength > maxBytes) {
    throw new InputError(
      `is ${out.ContentLength} bytes, more than the limit of ${maxBytes}`,
      'TOO_LARGE',
      fileNameOf(ref.key),
    );
  }
  if (!out.Body) throw new InputError('object has no body', 'TRUNCATED', fileNameOf(ref.key));
  return out.Body.transformToByteArray();
}

export async function getUriBytes(s3: S3Client, uri: string, maxBytes?: number): Promise<Uint8Array> {
  return getObjectBytes(s3, parseS3Uri(uri), maxBytes);
}

export async function putObjectBytes(
  s3: S3Client,
  uri: string,
  bytes: Uint8Array,
  contentType = 'application/octet-stream',
): Promise<void> {
  const { bucket, key } = parseS3Uri(uri);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes, ContentType: contentType }));
}

export async function getJson(s3: S3Client, uri: string, maxBytes = 16 * 1024 * 1024): Promise<unknown> {
  const bytes = await getUriBytes(s3, uri, maxBytes);
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new InputError('is not valid JSON', 'BAD_HEADER', fileNameOf(parseS3Uri(uri).key));
  }
}

export async function putJson(s3: S3Client, uri: string, value: unknown): Promise<void> {
  await putObjectBytes(
    s3,
    uri,
    new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`),
    'application/json',
  );
}

/** Every key under `prefix` (all pages). */
export async function listKeys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys;
}
