/**
 * The segmentation workflow's finalize step (`finalizeJob`) run in memory on a given CT and label map:
 * the Batch stages' outputs (liver and tumor masks on the canonical grid, box, stage.json) are put into
 * a small in-memory S3, the real codec and viewer script are used, and every object written comes back.
 */
import {
  GetObjectCommand,
  type GetObjectCommandInput,
  ListObjectsV2Command,
  PutObjectCommand,
  type PutObjectCommandInput,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { JobStore } from '../../lib/cloud/job-store.ts';
import { jobViewerScript } from '../../lib/cloud/job-viewer.ts';
import type { ModelRegistry } from '../../lib/cloud/model-registry.ts';
import { finalizeJob, planFor } from '../../lib/cloud/segmentation.ts';
import { libraryCodec } from '../../lib/cloud/volume-codec.ts';
import { DEMO_MODEL_NOTE_PREFIX } from '../../lib/pipeline/report.ts';
import { encodeNifti } from '../../lib/volume/nifti.ts';
import { toCanonical } from '../../lib/volume/orientation.ts';
import { type Volume, withData } from '../../lib/volume/volume.ts';

export const JOB = '00112233445566778899aabbccddeeff';
export const RESULTS = 'results-bucket';
const INPUT = 'input-bucket';
const WORK = 'work-bucket';

/** S3 as a map of `bucket/key` -> bytes (GetObject, PutObject, ListObjectsV2 in one page). */
export class MemoryS3 {
  readonly objects = new Map<string, { bytes: Uint8Array; type?: string }>();
  async send(cmd: unknown): Promise<unknown> {
    if (cmd instanceof PutObjectCommand) {
      const i = cmd.input as PutObjectCommandInput;
      const body = typeof i.Body === 'string' ? new TextEncoder().encode(i.Body) : (i.Body as Uint8Array);
      this.objects.set(`${i.Bucket}/${i.Key}`, { bytes: new Uint8Array(body), type: i.ContentType });
      return {};
    }
    if (cmd instanceof GetObjectCommand) {
      const i = cmd.input as GetObjectCommandInput;
      const o = this.objects.get(`${i.Bucket}/${i.Key}`);
      if (!o) throw Object.assign(new Error(`NoSuchKey ${i.Key}`), { name: 'NoSuchKey' });
      return { ContentLength: o.bytes.length, Body: { transformToByteArray: async () => o.bytes } };
    }
    if (cmd instanceof ListObjectsV2Command) {
      const { Bucket, Prefix = '' } = cmd.input;
      const Contents = [...this.objects.keys()]
        .filter((k) => k.startsWith(`${Bucket}/${Prefix}`))
        .sort()
        .map((k) => ({ Key: k.slice(`${Bucket}/`.length) }));
      return { Contents, IsTruncated: false };
    }
    throw new Error(`MemoryS3: unexpected ${(cmd as object).constructor.name}`);
  }
  put(uri: string, bytes: Uint8Array): void {
    this.objects.set(uri.replace(/^s3:\/\//, ''), { bytes });
  }
  /** The objects under `bucket/prefix`, keyed by the rest of their key. */
  under(bucket: string, prefix: string): Map<string, Uint8Array> {
    const out = new Map<string, Uint8Array>();
    for (const [k, o] of this.objects)
      if (k.startsWith(`${bucket}/${prefix}`)) out.set(k.slice(bucket.length + prefix.length + 1), o.bytes);
    return out;
  }
}

/**
 * Finalize the job of `scanName` (dropped as `incoming/<scanName>.nii.gz`) whose stages found `labels`
 * (0/1/2 on the CT's grid) with models marked as demo models or not.
 */
export async function finalizeInMemory(
  ct: Volume,
  labels: Volume<Uint8Array>,
  opts: { scanName: string; demoModels: boolean },
) {
  const s3 = new MemoryS3();
  const source = { bucket: INPUT, key: `incoming/${opts.scanName}.nii.gz`, size: 1 };
  s3.put(`${INPUT}/${source.key}`, encodeNifti(ct, { gzip: true }));
  const plan = planFor(JOB, WORK, { localize: 's3://m/l/', liver: 's3://m/v/', tumor: 's3://m/t/' });
  // The stages' masks are on the canonical grid (finalize maps them back onto the scan's).
  const mask = (keep: (l: number) => boolean) =>
    encodeNifti(
      toCanonical(
        withData(
          labels,
          labels.data.map((l) => (keep(l) ? 1 : 0)),
          'uint8',
        ),
      ).volume,
      {
        gzip: true,
      },
    );
  s3.put(
    plan.tumor.liver,
    mask((l) => l > 0),
  );
  s3.put(
    `${plan.tumor.out}tumor.nii.gz`,
    mask((l) => l === 2),
  );
  const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
  const [nx, ny, nz] = toCanonical(ct).volume.dims;
  s3.put(plan.liver.box, json({ box: { start: [0, 0, 0], end: [nx, ny, nz] } }));
  const note = opts.demoModels ? `${DEMO_MODEL_NOTE_PREFIX}: trained on phantoms` : 'trained on LiTS';
  for (const [stage, out] of [
    ['localize', plan.localize.out],
    ['liver', plan.liver.out],
    ['tumor', plan.tumor.out],
  ]) {
    s3.put(
      `${out}stage.json`,
      json({
        engine: { kind: 'onnx', backend: 'cpu' },
        models: [{ id: `${stage}/fold-0`, note }],
        patch: [32, 32, 32],
      }),
    );
  }
  const succeeded: unknown[] = [];
  const jobs = { succeed: async (...a: unknown[]) => void succeeded.push(a) } as unknown as JobStore;
  const t = { startedAt: 0, stoppedAt: 1000 };
  const out = await finalizeJob(
    {
      s3: s3 as unknown as S3Client,
      jobs,
      models: {} as ModelRegistry,
      codec: libraryCodec,
      viewerScript: jobViewerScript,
      resultsBucket: RESULTS,
      workBucket: WORK,
    },
    { jobId: JOB, source, plan, window: { ms: 10 }, batch: { localize: t, liver: t, tumor: t } },
  );
  return { out, s3, results: s3.under(RESULTS, `results/${JOB}/`), succeeded };
}
