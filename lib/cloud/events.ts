/**
 * zod schemas of every event the Lambdas accept. A malformed event is a bad input: `parseEvent` throws an
 * `InputError` that names the event and the offending fields.
 */
import { z } from 'zod';
import { InputError } from '../errors.ts';
import { RECIPE_NAMES } from '../training/recipe.ts';

const bucketName = z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'not an S3 bucket name');
const s3Uri = z.string().regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/.*$/, 'not an s3:// URI');
export const jobIdSchema = z.string().regex(/^[0-9a-f]{32}$/, 'not a job id');
export const runIdSchema = z.string().regex(/^[0-9TZ]{16}-[0-9a-f]{6}$/, 'not a run id');
export const trainableStage = z.enum(['localize', 'liver', 'tumor', 'brats']);
export type TrainableStage = z.infer<typeof trainableStage>;
/**
 * Stages whose ensembles the models table registers: the four the training workflow trains (the
 * brain-tumour network `brats` also published from a local `raunet train --task brats`).
 */
export const registeredStage = z.enum(['localize', 'liver', 'tumor', 'brats']);
export type RegisteredStage = z.infer<typeof registeredStage>;

/**
 * The object key of an S3 event as S3 stores it. S3 URL-encodes keys in its event notifications the
 * `application/x-www-form-urlencoded` way ("red flower+1.nii" arrives as "red+flower%2B1.nii"). The S3 user
 * guide says so for classic notifications and is silent for EventBridge; AWS's own Powertools decodes
 * `detail.object.key` of EventBridge S3 events the same way (`unquote_plus`), and so do we: '+' is a space,
 * `%XX` a UTF-8 byte. A literal '+' or '%' always arrives escaped, so decoding never changes a real key's
 * meaning. Throws `URIError` on a malformed escape.
 */
export function decodeEventKey(raw: string): string {
  return decodeURIComponent(raw.replace(/\+/g, ' '));
}

const eventKey = z
  .string()
  .min(1)
  .max(3 * 1024)
  .transform((raw, ctx) => {
    try {
      const key = decodeEventKey(raw);
      if (Buffer.byteLength(key) > 1024) ctx.addIssue({ code: 'custom', message: 'longer than 1024 bytes' });
      return key;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'not a URL-encoded object key (bad % escape)' });
      return z.NEVER;
    }
  });

/**
 * EventBridge "Object Created" event of S3 (the rule only forwards our input bucket). The parsed
 * `detail.object.key` is the decoded key (see `decodeEventKey`); the rule's suffix match on the encoded
 * key is unaffected, as `.nii`, `.nii.gz` and `.zip` contain no character S3 escapes.
 */
export const objectCreatedEvent = z.object({
  source: z.literal('aws.s3'),
  'detail-type': z.literal('Object Created'),
  detail: z.object({
    bucket: z.object({ name: bucketName }),
    object: z.object({
      key: eventKey,
      size: z.number().int().nonnegative(),
      'version-id': z.string().optional(),
      etag: z.string().optional(),
      /** Orders the events of one key; a new upload of the same bytes gets a new one (used for re-runs). */
      sequencer: z.string().max(64).optional(),
    }),
  }),
});
export type ObjectCreatedEvent = z.infer<typeof objectCreatedEvent>;

export const sourceObject = z.object({
  bucket: bucketName,
  key: z.string().min(1).max(1024),
  versionId: z.string().nullable().optional(),
  size: z.number().int().nonnegative(),
  /** The S3 event's sequencer of the upload that started this attempt. */
  sequencer: z.string().max(64).optional(),
});
export type SourceObject = z.infer<typeof sourceObject>;

/**
 * Input of the segmentation state machine (written by the starter). `attempt` is 1 for the first run of
 * an object version and N for its N-th re-run (a re-drop after a failure, see `lib/cloud/starter.ts`).
 */
export const segmentationTask = z.enum(['liver', 'brats']);
export const segmentationInput = z.object({
  jobId: jobIdSchema,
  source: sourceObject,
  attempt: z.number().int().min(1).max(1000).optional(),
  /** The starter's reading of the key (`segmentationTaskOf`); absent: liver. */
  task: segmentationTask.optional(),
});
export type SegmentationInput = z.infer<typeof segmentationInput>;

/** What the Ingest step gets: the execution input plus the execution's name (its identity on a retry). */
export const ingestInput = segmentationInput.extend({ execution: z.string().min(1).max(80).optional() });
export type IngestInput = z.infer<typeof ingestInput>;

/** The SQS event of the starter (EventBridge puts each S3 event into the queue as a message body). */
export const sqsEvent = z.object({
  Records: z.array(z.object({ messageId: z.string().min(1), body: z.string() })).min(1),
});
export type SqsEvent = z.infer<typeof sqsEvent>;

/**
 * EventBridge "Step Functions Execution Status Change" for an execution that ended without reaching its
 * own Catch (timed out, aborted, or failed outside a caught state).
 */
export const executionEndedEvent = z.object({
  source: z.literal('aws.states'),
  'detail-type': z.literal('Step Functions Execution Status Change'),
  detail: z.object({
    name: z.string().min(1).max(80),
    status: z.enum(['FAILED', 'TIMED_OUT', 'ABORTED']),
    error: z.string().nullish(),
    cause: z.string().nullish(),
  }),
});
export type ExecutionEndedEvent = z.infer<typeof executionEndedEvent>;

/** Arguments of the three inference Batch stages (also validated by the Batch entrypoint). */
export const localizeArgs = z.object({ jobId: jobIdSchema, ct: s3Uri, models: s3Uri, out: s3Uri });
export const segmentLiverArgs = localizeArgs.extend({ box: s3Uri });
export const segmentTumorArgs = localizeArgs.extend({ liver: s3Uri });

/**
 * Arguments of the brain-tumour Batch job: the dropped subject zip, the promoted brats ensemble, and the
 * job's results prefix (it writes the label map, report and preview there itself).
 */
export const segmentBratsArgs = z.object({ jobId: jobIdSchema, subject: s3Uri, models: s3Uri, out: s3Uri });
export type SegmentBratsArgs = z.infer<typeof segmentBratsArgs>;
export const bratsPlan = z.object({ brats: segmentBratsArgs });
export type BratsPlan = z.infer<typeof bratsPlan>;

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

/** A Batch step's result as the state machine keeps it (ResultSelector of `batchStep`). */
const batchStepResult = z.object({ startedAt: z.number(), stoppedAt: z.number() });

/** Finalize also gets the step times: the window Lambda's and each Batch job's (numbers only). */
export const finalizeInput = planStepInput.extend({
  window: z.object({ ms: z.number().nonnegative() }),
  batch: z.object({ localize: batchStepResult, liver: batchStepResult, tumor: batchStepResult }),
});
export type FinalizeInput = z.infer<typeof finalizeInput>;

/** Finalize of a brain-tumour job: the plan and the Batch job's times (its results are already written). */
export const finalizeBratsInput = segmentationInput.extend({
  task: z.literal('brats'),
  plan: bratsPlan,
  batch: z.object({ brats: batchStepResult }),
});
export type FinalizeBratsInput = z.infer<typeof finalizeBratsInput>;

/** `box.json` written by the localize stage. */
const vec3 = z.tuple([z.number().int(), z.number().int(), z.number().int()]);
export const boxFile = z.object({ box: z.object({ start: vec3, end: vec3 }) });

/** A Step Functions Catch result: `{ Error, Cause }`. */
export const markFailedInput = z.object({
  jobId: jobIdSchema,
  error: z.object({ Error: z.string(), Cause: z.string().optional() }),
});
export type MarkFailedInput = z.infer<typeof markFailedInput>;

/** Training: a manual StartExecution input or the schedule's. */
/**
 * Optional training schedule of every fold job (the `raunet train` options of the same names); omitted
 * values take `trainStage`'s defaults (the paper's input sizes and the `paper` recipe: an epoch is one
 * pass over the samples).
 */
export const trainingSchedule = z.object({
  /** Schedule and sampling preset (`raunet train --recipe`, lib/training/recipe.ts). */
  recipe: z.enum(RECIPE_NAMES).optional(),
  stepsPerEpoch: z.number().int().min(1).max(10_000).optional(),
  batchSize: z.number().int().min(1).max(128).optional(),
  /** Gradient accumulation (`raunet train --micro-batch`). */
  microBatch: z.number().int().min(1).max(128).optional(),
  perCase: z.number().int().min(1).max(1_000).optional(),
  /** Network input x-y(-z) in voxels, each a multiple of 32. */
  patch: z.array(z.number().int().min(32).max(1_024).multipleOf(32)).min(2).max(3).optional(),
  /** Random mirroring of the training samples (`raunet train --mirror`). */
  mirror: z.boolean().optional(),
  /** The brats stage's per-sequence normalisation (`raunet train --task brats --normalisation`). */
  normalisation: z.enum(['minmax', 'zscore']).optional(),
});
export type TrainingSchedule = z.infer<typeof trainingSchedule>;

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
  schedule: trainingSchedule.optional(),
  /** Upload a checkpoint of every fold every N epochs (0: never); default `training.checkpointEveryEpochs`. */
  checkpointEveryEpochs: z.number().int().min(0).max(10_000).optional(),
  /** Folds of a variant that must succeed for its ensemble to be promoted; default `training.minFolds`. */
  minFolds: z.number().int().min(1).max(10).optional(),
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
  schedule: trainingSchedule.optional(),
  out: s3Uri,
  /** The fold's S3 checkpoints (see fold-checkpoint.ts): restored when present, taken every N epochs. */
  checkpoint: z.object({ uri: s3Uri, everyEpochs: z.number().int().min(0).max(10_000) }).optional(),
});
export const evaluateEnsembleArgs = z.object({
  runId: runIdSchema,
  stage: trainableStage,
  manifest: s3Uri,
  /** One models root per sweep variant (each holding `<stage>/fold-<k>/`). */
  candidates: z
    .array(
      z.object({
        variant: z.string(),
        models: s3Uri,
        /** The folds that succeeded (absent: every fold found under `models`). */
        folds: z.array(z.number().int().nonnegative()).optional(),
      }),
    )
    .min(1),
  out: s3Uri,
});

/** How one fold job of a training run ended (the fold Map's iteration result, see fold-outcomes.ts). */
export const foldOutcome = z.object({
  variant: z.string().regex(/^v\d+$/),
  fold: z.number().int().nonnegative(),
  status: z.enum(['SUCCEEDED', 'FAILED']),
  reason: z.string().max(2_000).optional(),
  batchJobId: z.string().optional(),
});
export type FoldOutcome = z.infer<typeof foldOutcome>;

export const registerInput = z.object({
  runId: runIdSchema,
  stage: registeredStage,
  metrics: s3Uri,
  /** Every fold's outcome, recorded with the run. */
  folds: z.array(foldOutcome).max(40).optional(),
});
export type RegisterInput = z.infer<typeof registerInput>;

/** What evaluate-ensemble writes to `metrics`: the chosen variant and its validation Dice. */
export const ensembleMetrics = z.object({
  runId: runIdSchema,
  stage: registeredStage,
  variant: z.string(),
  models: s3Uri,
  valDice: z.number().min(0).max(1),
  perFold: z.array(z.number().min(0).max(1)).optional(),
  hyper: hyperParameters.optional(),
});
export type EnsembleMetrics = z.infer<typeof ensembleMetrics>;

/** What each inference Batch stage writes next to its output (`STAGE_FILES.info`), read by finalize. */
export const stageInfo = z.object({
  engine: z.object({ kind: z.string(), backend: z.string() }),
  models: z
    .array(
      z.object({
        id: z.string(),
        arch: z.string().optional(),
        width: z.number().optional(),
        inputShape: z.array(z.number()).optional(),
        fold: z.number().optional(),
        createdAt: z.string().optional(),
        note: z.string().optional(),
      }),
    )
    .min(1),
  /** Slice [x, y] (localize) or patch [x, y, z] (liver, tumor) the networks saw. */
  patch: z.array(z.number().int().positive()).min(2).max(3),
});
export type StageInfo = z.infer<typeof stageInfo>;

/** Validate `value` against `schema`; a mismatch is an `InputError` naming the event and each bad field. */
export function parseEvent<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const fields = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
  throw new InputError(`malformed ${what}: ${fields}`, 'BAD_ARGUMENT');
}
