/**
 * zod schemas of every event the Lambdas accept. A malformed event is a bad input: `parseEvent` throws an
 * `InputError` that names the event and the offending fields.
 */
import { z } from 'zod';
import { InputError } from '../errors.ts';

const bucketName = z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'not an S3 bucket name');
const s3Uri = z.string().regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/.*$/, 'not an s3:// URI');
export const jobIdSchema = z.string().regex(/^[0-9a-f]{32}$/, 'not a job id');
export const runIdSchema = z.string().regex(/^[0-9TZ]{16}-[0-9a-f]{6}$/, 'not a run id');
export const trainableStage = z.enum(['localize', 'liver', 'tumor']);
export type TrainableStage = z.infer<typeof trainableStage>;

/** EventBridge "Object Created" event of S3 (the rule only forwards our input bucket). */
export const objectCreatedEvent = z.object({
  source: z.literal('aws.s3'),
  'detail-type': z.literal('Object Created'),
  detail: z.object({
    bucket: z.object({ name: bucketName }),
    object: z.object({
      key: z.string().min(1).max(1024),
      size: z.number().int().nonnegative(),
      'version-id': z.string().optional(),
      etag: z.string().optional(),
    }),
  }),
});
export type ObjectCreatedEvent = z.infer<typeof objectCreatedEvent>;

export const sourceObject = z.object({
  bucket: bucketName,
  key: z.string().min(1).max(1024),
  versionId: z.string().nullable().optional(),
  size: z.number().int().nonnegative(),
});
export type SourceObject = z.infer<typeof sourceObject>;

/** Input of the segmentation state machine (written by the starter). */
export const segmentationInput = z.object({ jobId: jobIdSchema, source: sourceObject });
export type SegmentationInput = z.infer<typeof segmentationInput>;

/** Arguments of the three inference Batch stages (also validated by the Batch entrypoint). */
export const localizeArgs = z.object({ jobId: jobIdSchema, ct: s3Uri, models: s3Uri, out: s3Uri });
export const segmentLiverArgs = localizeArgs.extend({ box: s3Uri });
export const segmentTumorArgs = localizeArgs.extend({ liver: s3Uri });

/** What ingest decides for a new job: every S3 location of its later steps. */
export const segmentationPlan = z.object({
  work: s3Uri,
  preprocessed: s3Uri,
  localize: localizeArgs,
  liver: segmentLiverArgs,
  tumor: segmentTumorArgs,
});
export type SegmentationPlan = z.infer<typeof segmentationPlan>;

export const planStepInput = segmentationInput.extend({ plan: segmentationPlan });
export type PlanStepInput = z.infer<typeof planStepInput>;

/** A Step Functions Catch result: `{ Error, Cause }`. */
export const markFailedInput = z.object({
  jobId: jobIdSchema,
  error: z.object({ Error: z.string(), Cause: z.string().optional() }),
});
export type MarkFailedInput = z.infer<typeof markFailedInput>;

/** Training: a manual StartExecution input or the schedule's. */
export const trainingRequest = z.object({
  stage: trainableStage,
  dataset: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._-]*$/)
    .optional(),
  folds: z.number().int().min(2).max(10).optional(),
  seed: z.number().int().nonnegative().optional(),
  sweep: z
    .object({
      lr: z.array(z.number().positive().max(1)).min(1).max(4).optional(),
      width: z.array(z.number().positive().max(2)).min(1).max(4).optional(),
      epochs: z.array(z.number().int().min(1).max(10_000)).min(1).max(4).optional(),
    })
    .optional(),
  trigger: z.enum(['manual', 'schedule']).optional(),
});
export type TrainingRequest = z.infer<typeof trainingRequest>;
export const planInput = z.object({ request: trainingRequest });

export const hyperParameters = z.object({ lr: z.number(), width: z.number(), epochs: z.number().int() });
export type HyperParameters = z.infer<typeof hyperParameters>;

export const trainFoldArgs = z.object({
  runId: runIdSchema,
  stage: trainableStage,
  variant: z.string().regex(/^v\d+$/),
  fold: z.number().int().nonnegative(),
  folds: z.number().int().min(1),
  manifest: s3Uri,
  hyper: hyperParameters,
  out: s3Uri,
});
export const evaluateEnsembleArgs = z.object({
  runId: runIdSchema,
  stage: trainableStage,
  manifest: s3Uri,
  /** One models root per sweep variant (each holding `<stage>/fold-<k>/`). */
  candidates: z.array(z.object({ variant: z.string(), models: s3Uri })).min(1),
  out: s3Uri,
});

export const registerInput = z.object({ runId: runIdSchema, stage: trainableStage, metrics: s3Uri });
export type RegisterInput = z.infer<typeof registerInput>;

/** What evaluate-ensemble writes to `metrics`: the chosen variant and its validation Dice. */
export const ensembleMetrics = z.object({
  runId: runIdSchema,
  stage: trainableStage,
  variant: z.string(),
  models: s3Uri,
  valDice: z.number().min(0).max(1),
  perFold: z.array(z.number().min(0).max(1)).optional(),
  hyper: hyperParameters.optional(),
});
export type EnsembleMetrics = z.infer<typeof ensembleMetrics>;

/** Validate `value` against `schema`; a mismatch is an `InputError` naming the event and each bad field. */
export function parseEvent<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const fields = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
  throw new InputError(`malformed ${what}: ${fields}`, 'BAD_ARGUMENT');
}
