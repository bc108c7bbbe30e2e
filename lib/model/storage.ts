/**
 * Model storage: a tfjs layers model as `model.json` + `weights.bin` (the tfjs layers format) plus a
 * `manifest.json` (ModelManifest, validated with zod) in a local folder or under `s3://bucket/prefix`.
 * The IOHandlers here work with the plain `@tensorflow/tfjs` package (which has no `file://` handler)
 * and with tfjs-node alike.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { InputError } from '../errors.ts';
import { RECIPE_NAMES } from '../training/recipe.ts';
import { ARCHS, type ArchName } from './archs.ts';
import './layers.ts'; // registers the custom layer classes before any model is deserialised

export const STAGES = ['localize', 'liver', 'tumor'] as const;
export type Stage = (typeof STAGES)[number];
/** Every stage a model can be trained for: the three liver stages and the brain-tumour task (BraTS). */
export const MODEL_STAGES = [...STAGES, 'brats'] as const;
export type ModelStage = (typeof MODEL_STAGES)[number];

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';
export const MANIFEST_JSON = 'manifest.json';

const archNames = Object.keys(ARCHS) as [ArchName, ...ArchName[]];

export const ModelManifestSchema = z.object({
  arch: z.enum(archNames),
  width: z.number().positive(),
  /** Input shape without the batch axis, [(z,) y, x, c]. */
  inputShape: z.array(z.number().int().positive()).min(3).max(4),
  stage: z.enum(MODEL_STAGES).optional(),
  fold: z.number().int().nonnegative().optional(),
  folds: z.number().int().positive().optional(),
  /** Summary of the training data (free-form beyond these fields). */
  trainedOn: z
    .looseObject({
      dataset: z.string().optional(),
      cases: z.number().int().nonnegative().optional(),
      caseIds: z.array(z.string()).optional(),
      patches: z.number().int().nonnegative().optional(),
      epochs: z.number().int().nonnegative().optional(),
      /** Trained with random mirroring along every spatial axis (what `segment --tta` assumes). */
      mirror: z.boolean().optional(),
      /** The training recipe (`raunet train --recipe`, lib/training/recipe.ts). */
      recipe: z.enum(RECIPE_NAMES).optional(),
      /**
       * The brain-tumour network's per-sequence normalisation (lib/brats/normalise.ts), which segmenting
       * must repeat; absent in brats manifests written before it was recorded: those are `minmax`.
       */
      normalisation: z.enum(['minmax', 'zscore']).optional(),
    })
    .optional(),
  /** Probability threshold to segment with (the training recipe's; absent: 0.5). */
  threshold: z.number().min(0).max(1).optional(),
  metrics: z.record(z.string(), z.number()).optional(),
  /**
   * Voxel orientation of the training samples (`CANONICAL_ORIENTATION` of `volume/orientation.ts`: every
   * case is reoriented to RAS+ before sampling, every input before inference). Absent in manifests written
   * before it was recorded: those models (the bundled demo ones included) were trained on RAS+ phantoms.
   */
  orientation: z.literal('RAS').optional(),
  /** ISO 8601 time stamp. */
  createdAt: z.string().min(1),
  note: z.string().optional(),
});
export type ModelManifest = z.infer<typeof ModelManifestSchema>;

/** Where the three files of a model live: a local folder or an S3 prefix. */
export interface ModelStore {
  /** Human-readable location of a file, used in error messages (`/dir/model.json`, `s3://b/p/model.json`). */
  describe(name: string): string;
  read(name: string): Promise<Uint8Array>;
  write(name: string, bytes: Uint8Array, contentType: string): Promise<void>;
}

export interface StorageOptions {
  /** S3 client to use for `s3://` locations (default: a new `S3Client` from the environment). */
  s3?: S3Client;
}

export function isS3Url(location: string): boolean {
  return location.startsWith('s3://');
}

export function parseS3Url(url: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (!m?.[1]) throw new InputError(`not an s3://bucket/prefix location: ${url}`, 'BAD_ARGUMENT');
  return { bucket: m[1], prefix: m[2]!.replace(/\/+$/, '') };
}

export function folderStore(dir: string): ModelStore {
  return {
    describe: (name) => join(dir, name),
    async read(name) {
      const path = join(dir, name);
      try {
        return new Uint8Array(await readFile(path));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw missing(path);
        throw e;
      }
    },
    async write(name, bytes) {
      await mkdir(dir, { recursive: true });
      const path = join(dir, name);
      const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
      await writeFile(tmp, bytes);
      await rename(tmp, path);
    },
  };
}

export function s3Store(url: string, opts: StorageOptions = {}): ModelStore {
  const { bucket, prefix } = parseS3Url(url);
  let client = opts.s3;
  const s3 = () => (client ??= new S3Client({}));
  const key = (name: string) => (prefix ? `${prefix}/${name}` : name);
  return {
    describe: (name) => `s3://${bucket}/${key(name)}`,
    async read(name) {
      try {
        const out = await s3().send(new GetObjectCommand({ Bucket: bucket, Key: key(name) }));
        if (!out.Body) throw missing(`s3://${bucket}/${key(name)}`);
        return await out.Body.transformToByteArray();
      } catch (e) {
        const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
        if (err.name === 'NoSuchKey' || err.name === 'NotFound' || err.$metadata?.httpStatusCode === 404) {
          throw missing(`s3://${bucket}/${key(name)}`);
        }
        throw e;
      }
    },
    async write(name, bytes, contentType) {
      await s3().send(
        new PutObjectCommand({ Bucket: bucket, Key: key(name), Body: bytes, ContentType: contentType }),
      );
    },
  };
}

export function storeFor(location: string, opts: StorageOptions = {}): ModelStore {
  return isS3Url(location) ? s3Store(location, opts) : folderStore(location);
}

function missing(path: string): InputError {
  return new InputError(
    `not found (a model folder holds ${MODEL_JSON}, ${WEIGHTS_BIN} and ${MANIFEST_JSON})`,
    'NOT_FOUND',
    path,
  );
}

/** A tfjs IOHandler writing/reading `model.json` + `weights.bin` in a store. */
export function modelIOHandler(store: ModelStore): tf.io.IOHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer) {
        throw new Error('binary model topologies are not supported; save a tfjs layers model');
      }
      const weightData = tf.io.CompositeArrayBuffer.join(artifacts.weightData ?? new ArrayBuffer(0));
      const modelJson: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology!,
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tf.version_layers}`,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: artifacts.weightSpecs ?? [] }],
      };
      if (artifacts.trainingConfig) modelJson.trainingConfig = artifacts.trainingConfig;
      if (artifacts.userDefinedMetadata) modelJson.userDefinedMetadata = artifacts.userDefinedMetadata;
      // Weights first, then the JSON that refers to them.
      await store.write(WEIGHTS_BIN, new Uint8Array(weightData), 'application/octet-stream');
      await store.write(MODEL_JSON, new TextEncoder().encode(JSON.stringify(modelJson)), 'application/json');
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
    async load(): Promise<tf.io.ModelArtifacts> {
      const modelJson = parseJson(
        await store.read(MODEL_JSON),
        store.describe(MODEL_JSON),
      ) as tf.io.ModelJSON;
      if (modelJson == null || typeof modelJson !== 'object' || modelJson.modelTopology == null) {
        throw new InputError(
          'not a tfjs layers model (no modelTopology)',
          'BAD_HEADER',
          store.describe(MODEL_JSON),
        );
      }
      return tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
        const specs = manifest.flatMap((group) => group.weights);
        const bytes = await store.read(WEIGHTS_BIN);
        const expected = specs.reduce((s, w) => s + w.shape.reduce((a, b) => a * b, 1) * bytesPerValue(w), 0);
        if (bytes.byteLength !== expected) {
          throw new InputError(
            `holds ${bytes.byteLength} bytes but ${MODEL_JSON} describes ${expected}`,
            bytes.byteLength < expected ? 'TRUNCATED' : 'SIZE_MISMATCH',
            store.describe(WEIGHTS_BIN),
          );
        }
        const data = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
        return [specs, data];
      });
    },
  };
}

function bytesPerValue(spec: tf.io.WeightsManifestEntry): number {
  if (spec.quantization)
    return spec.quantization.dtype === 'float16' || spec.quantization.dtype === 'uint16' ? 2 : 1;
  return spec.dtype === 'bool' ? 1 : 4;
}

function parseJson(bytes: Uint8Array, path: string): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new InputError(`invalid JSON: ${(e as Error).message}`, 'BAD_HEADER', path);
  }
}

/** Checks a manifest; an invalid one is an InputError naming `where` and the bad fields. */
export function parseManifest(value: unknown, where = MANIFEST_JSON): ModelManifest {
  const r = ModelManifestSchema.safeParse(value);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new InputError(`invalid model manifest: ${issues}`, 'BAD_HEADER', where);
  }
  const m = r.data;
  const rank = ARCHS[m.arch].dims + 1;
  if (m.inputShape.length !== rank) {
    throw new InputError(
      `invalid model manifest: inputShape [${m.inputShape.join(', ')}] needs ${rank} values for ${m.arch}`,
      'BAD_HEADER',
      where,
    );
  }
  return m;
}

/** Saves `model.json`, `weights.bin`, then `manifest.json` (last: its presence marks a complete model). */
export async function saveModel(
  model: tf.LayersModel,
  dest: string,
  manifest: ModelManifest,
  opts: StorageOptions = {},
): Promise<void> {
  const store = storeFor(dest, opts);
  const checked = parseManifest(manifest, store.describe(MANIFEST_JSON));
  await model.save(modelIOHandler(store));
  const text = `${JSON.stringify(checked, null, 2)}\n`;
  await store.write(MANIFEST_JSON, new TextEncoder().encode(text), 'application/json');
}

/** Reads and validates only the manifest of a stored model. */
export async function loadManifest(src: string, opts: StorageOptions = {}): Promise<ModelManifest> {
  const store = storeFor(src, opts);
  const where = store.describe(MANIFEST_JSON);
  return parseManifest(parseJson(await store.read(MANIFEST_JSON), where), where);
}

export async function loadModel(
  src: string,
  opts: StorageOptions = {},
): Promise<{ model: tf.LayersModel; manifest: ModelManifest }> {
  const manifest = await loadManifest(src, opts);
  const store = storeFor(src, opts);
  const model = await tf.loadLayersModel(modelIOHandler(store));
  return { model, manifest };
}
