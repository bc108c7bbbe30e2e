// The finalize Lambda's DICOM SEG: a zipped DICOM series dropped in S3 gets `labels.dcm` referencing it,
// a NIfTI drop gets none and its job record says why (mocked S3 and DynamoDB, the real handler).
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { zipSync } from 'fflate';
import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { handler as finalize } from '../../functions/finalize.ts';
import { NOT_DICOM_REASON } from '../../lib/cloud/dicom-seg-result.ts';
import { logger } from '../../lib/cloud/logger.ts';
import { planFor } from '../../lib/cloud/segmentation.ts';
import { decodeDicomSeg, segToLabelMap } from '../../lib/volume/dicom-seg.ts';
import { decodeNifti, encodeNifti } from '../../lib/volume/nifti.ts';
import { toCanonical } from '../../lib/volume/orientation.ts';
import { decodeVolumeBytes } from '../../lib/volume/read.ts';
import { type Volume, withData } from '../../lib/volume/volume.ts';
import { SHARED_DATA } from '../volume/helpers.ts';
import { expectSegOfSeries } from '../volume/seg-check.ts';
import {
  body,
  context,
  ctBytes,
  INPUT_BUCKET,
  JOB_ID,
  RESULTS_BUCKET,
  setLambdaEnv,
  WORK_BUCKET,
} from './helpers.ts';

const s3 = mockClient(S3Client);
const ddb = mockClient(DynamoDBDocumentClient);
const SERIES_DIR = join(SHARED_DATA, 'dicom/ct-3slice');
const MODELS = Object.fromEntries(
  ['localize', 'liver', 'tumor'].map((s) => [s, `s3://models-bucket/runs/r1/${s}/`]),
);
const PLAN = planFor(JOB_ID, WORK_BUCKET, MODELS);
const TIMES = {
  window: { ms: 10 },
  batch: Object.fromEntries(
    ['localize', 'liver', 'tumor'].map((s) => [s, { startedAt: 1000, stoppedAt: 2000 }]),
  ),
};
const logLines: string[] = [];

beforeAll(setLambdaEnv);
beforeEach(() => {
  s3.reset();
  ddb.reset();
  const out = (logger as unknown as { console: Record<string, (...a: unknown[]) => void> }).console;
  for (const method of ['info', 'warn', 'error', 'debug', 'log']) {
    vi.spyOn(out, method).mockImplementation((...a: unknown[]) => {
      logLines.push(a.map(String).join(' '));
    });
  }
});

async function zippedSeries(): Promise<Uint8Array> {
  const files: Record<string, Uint8Array> = {};
  for (const name of await readdir(SERIES_DIR)) {
    files[`Jane_Doe/${name}`] = new Uint8Array(await readFile(join(SERIES_DIR, name)));
  }
  return zipSync(files);
}

/**
 * Stage outputs for a scan: liver and tumour masks on its canonical grid (where the Batch stages work),
 * from a label map on the scan's own grid: liver a box, tumour a smaller box inside it on slice 1.
 */
function stageOutputs(scan: Volume, sourceKey: string, sourceBytes: Uint8Array): Uint8Array {
  const [nx, ny, nz] = scan.dims;
  const labels = new Uint8Array(nx * ny * nz);
  for (let k = 0; k < nz; k++) {
    for (let j = 100; j < 220; j++) {
      for (let i = 150; i < 300; i++) {
        if (i >= nx || j >= ny) continue;
        const tumour = k === Math.min(1, nz - 1) && i >= 200 && i < 230 && j >= 140 && j < 160;
        labels[i + nx * (j + ny * k)] = tumour ? 2 : 1;
      }
    }
  }
  const mask = (pick: (v: number) => boolean) =>
    encodeNifti(
      toCanonical(
        withData(
          scan,
          labels.map((v) => (pick(v) ? 1 : 0)),
        ),
      ).volume,
      { gzip: true },
    );
  const json = (v: unknown) => body(new TextEncoder().encode(JSON.stringify(v)));
  const info = {
    engine: { kind: 'onnx', backend: 'onnx-cpu' },
    models: [{ id: 'm/fold-0', arch: 'raunet2', fold: 0 }],
    patch: [32, 32, 32],
  };
  s3.on(GetObjectCommand, { Key: sourceKey }).resolves(body(sourceBytes));
  s3.on(GetObjectCommand, { Key: `work/${JOB_ID}/liver/liver.nii.gz` }).resolves(body(mask((v) => v >= 1)));
  s3.on(GetObjectCommand, { Key: `work/${JOB_ID}/tumor/tumor.nii.gz` }).resolves(body(mask((v) => v === 2)));
  s3.on(GetObjectCommand, { Key: `work/${JOB_ID}/localize/box.json` }).resolves(
    json({ box: { start: [0, 0, 0], end: [8, 8, 1] }, dims: scan.dims }),
  );
  for (const stage of ['localize', 'liver', 'tumor']) {
    s3.on(GetObjectCommand, { Key: `work/${JOB_ID}/${stage}/stage.json` }).resolves(json(info));
  }
  s3.on(PutObjectCommand).resolves({});
  ddb.on(UpdateCommand).resolves({});
  return labels;
}

function puts(): Record<string, Uint8Array> {
  return Object.fromEntries(
    s3.commandCalls(PutObjectCommand).map((c) => [c.args[0].input.Key, c.args[0].input.Body as Uint8Array]),
  );
}

describe('finalize: DICOM SEG in the results', () => {
  it('writes labels.dcm referencing the zipped source series, listed in the job record', async () => {
    const zip = await zippedSeries();
    const source = {
      bucket: INPUT_BUCKET,
      key: 'incoming/Jane_Doe/ct.zip',
      versionId: 'v1',
      size: zip.length,
    };
    const scan = await decodeVolumeBytes('ct.zip', zip);
    const labels = stageOutputs(scan, source.key, zip);
    const out = await finalize({ jobId: JOB_ID, source, plan: PLAN, ...TIMES }, context);
    const prefix = `results/${JOB_ID}/`;
    const files = puts();
    // the SEG beside the label map, report and preview (the viewer/ folder is checked in test/viewer/)
    expect(
      Object.keys(files)
        .filter((k) => !k.startsWith(`${prefix}viewer/`))
        .sort(),
    ).toEqual(['labels.dcm', 'labels.nii.gz', 'preview.png', 'report.json'].map((f) => `${prefix}${f}`));
    const segUri = `s3://${RESULTS_BUCKET}/${prefix}labels.dcm`;
    expect(out.results.dicomSeg).toBe(segUri);
    expect(out.results.dicomSegSkipped).toBeUndefined();
    // the job record lists it (the DynamoDB update's results), and so does the report
    const update = ddb.commandCalls(UpdateCommand)[0].args[0].input;
    expect(update.ExpressionAttributeValues?.[':results']).toMatchObject({ dicomSeg: segUri });
    const report = JSON.parse(new TextDecoder().decode(files[`${prefix}report.json`]));
    expect(report.files.dicomSeg).toBe(segUri);

    // Read back independently (dicom-parser, bits unpacked by hand) against the source files themselves:
    // study, frame of reference, referenced series, per-frame SOP Instance UIDs and positions, every bit.
    const nifti = decodeNifti(files[`${prefix}labels.nii.gz`], 'labels.nii.gz');
    expect([...nifti.data]).toEqual([...labels]);
    const seg = files[`${prefix}labels.dcm`];
    await expectSegOfSeries(seg, SERIES_DIR, nifti);
    // and with the project's reader onto the series' grid: the label map comes back voxel for voxel
    const back = segToLabelMap(decodeDicomSeg(seg, 'labels.dcm'), scan);
    expect([...back.data]).toEqual([...labels]);
    // no patient data or key in the logs
    expect(logLines.filter((l) => /Jane_Doe|JANCT000|ct\.zip/.test(l))).toEqual([]);
  });

  it('writes no SEG for a NIfTI drop; the job record and report say why', async () => {
    const bytes = ctBytes();
    const source = { bucket: INPUT_BUCKET, key: 'incoming/ct.nii.gz', versionId: 'v1', size: bytes.length };
    // a liver the size of the helper scan's grid
    const scan = decodeNifti(bytes, 'ct.nii.gz');
    const [nx, ny, nz] = scan.dims;
    const liver = new Uint8Array(nx * ny * nz);
    for (let k = 2; k < 6; k++)
      for (let j = 5; j < 15; j++) for (let i = 5; i < 15; i++) liver[i + nx * (j + ny * k)] = 1;
    const enc = (m: Uint8Array) => body(encodeNifti(withData(scan, m), { gzip: true }));
    stageOutputs(scan, source.key, bytes);
    s3.on(GetObjectCommand, { Key: `work/${JOB_ID}/liver/liver.nii.gz` }).resolves(enc(liver));
    s3.on(GetObjectCommand, { Key: `work/${JOB_ID}/tumor/tumor.nii.gz` }).resolves(
      enc(new Uint8Array(liver.length)),
    );
    const out = await finalize({ jobId: JOB_ID, source, plan: PLAN, ...TIMES }, context);
    expect(Object.keys(puts()).some((k) => k.endsWith('.dcm'))).toBe(false);
    expect(out.results.dicomSeg).toBeUndefined();
    expect(out.results.dicomSegSkipped).toBe(NOT_DICOM_REASON);
    const update = ddb.commandCalls(UpdateCommand)[0].args[0].input;
    expect(update.ExpressionAttributeValues?.[':results']).toMatchObject({
      dicomSegSkipped: NOT_DICOM_REASON,
    });
    const report = JSON.parse(new TextDecoder().decode(puts()[`results/${JOB_ID}/report.json`]));
    expect(report.files.dicomSegSkipped).toMatch(/not a DICOM series/);
  });
});
