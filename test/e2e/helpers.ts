/** Shared set-up of the local-cloud scenario files: template names and a tiny phantom dataset. */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { LocalCloud } from '../../lib/localcloud/cloud.ts';
import { TABLE_TYPES } from '../../lib/localcloud/emulators.ts';
import { generatePhantom } from '../../lib/phantom/phantom.ts';
import { encodeNifti } from '../../lib/volume/nifti.ts';
import type { Vec3 } from '../../lib/volume/volume.ts';

/** The local name of the template's table whose logical id contains `hint` (either table type). */
export function tableNameOf(cloud: LocalCloud, hint: string): string {
  for (const t of TABLE_TYPES) {
    try {
      return cloud.nameOf(t, hint);
    } catch {}
  }
  throw new Error(`no table ${hint}`);
}

/** Phantom cases `volume-K` / `segmentation-K` (K = 0..n-1, seeds seed0 + K) under `datasets/<name>/`. */
export async function putPhantomDataset(
  cloud: LocalCloud,
  bucket: string,
  name: string,
  opts: { cases: number; seed0: number; dims: Vec3 },
): Promise<void> {
  for (let k = 0; k < opts.cases; k++) {
    const { ct, seg } = generatePhantom({ seed: opts.seed0 + k, dims: opts.dims, tumors: 1 });
    for (const [kind, vol] of [
      ['volume', ct],
      ['segmentation', seg],
    ] as const) {
      await cloud.s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: `datasets/${name}/${kind}-${k}.nii.gz`,
          Body: encodeNifti(vol, { gzip: true }),
        }),
      );
    }
  }
}

/**
 * CURRENT records promoting a stand-in run `r` for the three stages, so ingest finds models (for scenarios
 * whose stages never read them).
 */
export async function promoteStandInModels(ddb: DynamoDBClient, table: string): Promise<void> {
  const doc = DynamoDBDocumentClient.from(ddb);
  for (const stage of ['localize', 'liver', 'tumor']) {
    await doc.send(
      new PutCommand({
        TableName: table,
        Item: {
          stage,
          runId: 'CURRENT',
          currentRunId: 'r',
          currentDice: 0,
          models: 's3://models-bucket/runs/r/',
        },
      }),
    );
  }
}
