/**
 * Per-environment configuration of the AWS deployment, validated with zod before any construct is built.
 *
 * The environment comes from CDK context (`-c env=dev|staging|prod`). Each environment starts from the
 * defaults below; context may override fields with `-c account=...`, `-c region=...` and
 * `-c config='{"batch":{"maxVcpus":64}}'` (a JSON object deep-merged over the defaults). A config that does
 * not validate stops synth with a `ConfigError` whose message names every bad field (`batch.maxVcpus: ...`).
 */
import { z } from 'zod';

export const ENV_NAMES = ['dev', 'staging', 'prod'] as const;
export type EnvName = (typeof ENV_NAMES)[number];

/** CloudWatch Logs accepts only these retention periods (days). */
const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

const vpcSchema = z.discriminatedUnion('mode', [
  z.object({
    mode: z.literal('create'),
    maxAzs: z.number().int().min(1).max(6),
    natGateways: z.number().int().min(1).max(6),
  }),
  z.object({
    mode: z.literal('import'),
    vpcId: z.string().regex(/^vpc-[0-9a-f]{8,17}$/, 'must look like vpc-0123456789abcdef0'),
  }),
]);

/**
 * A container image pinned by digest: `repository[:tag]@sha256:<64 hex>` (the tag, when given, is
 * informational; Docker pulls by the digest).
 */
export const PINNED_IMAGE =
  /^[a-z0-9]+(?:[._/-][a-z0-9]+)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?@sha256:[0-9a-f]{64}$/;

export const configSchema = z
  .object({
    envName: z.enum(ENV_NAMES),
    /** 12-digit AWS account; optional unless a VPC is imported (lookups need a concrete account). */
    account: z
      .string()
      .regex(/^\d{12}$/, 'must be a 12-digit AWS account id')
      .optional(),
    region: z.string().regex(/^[a-z]{2}(-gov)?-[a-z]+-\d$/, 'must be an AWS region such as eu-west-1'),
    vpc: vpcSchema,
    batch: z.object({
      /**
       * 'gpu' (default; staging and prod): GPU instances on the ECS GPU AMI, job definitions asking for one
       * GPU each, the CUDA images, and the entrypoint refusing a CPU fallback. 'cpu': for queues without
       * GPUs (LocalStack, cheap dev environments): `cpuInstanceTypes` on the plain ECS AMI, no GPU asked
       * for, the CPU image (`containers/Dockerfile.cpu`) for every stage.
       */
      compute: z.enum(['gpu', 'cpu']),
      /** GPU instance types for the compute environments (NVIDIA g/p families, x86). */
      gpuInstanceTypes: z
        .array(z.string().regex(/^(g4dn|g5|g6|g6e|p3|p4d|p5)\.[0-9]*x?large$/, 'must be an NVIDIA GPU type'))
        .min(1),
      /** Instance types of the CPU compute environments (used when `compute` is 'cpu'; no GPU families). */
      cpuInstanceTypes: z
        .array(
          z
            .string()
            .regex(
              /^(?![gp]\d)[a-z][a-z0-9-]*\.(?:\d*x?large|medium|small|metal(?:-\d+xl)?)$/,
              'must be an EC2 instance type without GPUs, such as c6i.2xlarge',
            ),
        )
        .min(1),
      maxVcpus: z.number().int().min(1).max(10_000),
      /** 'spot': Spot first, on-demand as fallback (compute environment order); 'on-demand': no Spot. */
      capacity: z.enum(['spot', 'on-demand']),
      /** Container memory and vCPUs of the inference and training jobs. */
      inferenceMemoryMiB: z.number().int().min(2048),
      trainingMemoryMiB: z.number().int().min(2048),
      vcpusPerJob: z.number().int().min(1).max(96),
      /** Hard wall-clock limit of one attempt of an inference job (localize, segment-liver, segment-tumor). */
      inferenceTimeoutMinutes: z
        .number()
        .int()
        .min(5)
        .max(24 * 60),
      /** Hard wall-clock limit of one attempt of a training job (train-fold, evaluate-ensemble). */
      trainingTimeoutHours: z
        .number()
        .int()
        .min(1)
        .max(14 * 24),
      /**
       * A job that waits longer than this in RUNNABLE (no capacity: no GPU quota, no Spot capacity, an
       * instance type the region lacks) is cancelled by the queue with a reason (jobStateTimeLimitActions).
       */
      runnableTimeoutMinutes: z
        .number()
        .int()
        .min(10)
        .max(24 * 60),
      /**
       * CUDA base of the inference image (`Dockerfile.infer`'s CUDA_IMAGE build argument), pinned by digest;
       * unset: the Dockerfile's tag. Read the digest at deploy time (docs/aws.md, "Pinning the CUDA base").
       */
      inferenceBaseImage: z
        .string()
        .regex(PINNED_IMAGE, 'must be an image pinned by digest: repository[:tag]@sha256:<64 hex digits>')
        .optional(),
    }),
    /** The buffer between S3 events and the segmentation workflow (EventBridge -> SQS -> starter). */
    ingestion: z.object({
      /** Starter Lambdas polling the queue at once (SQS event source maxConcurrency, at least 2). */
      maxConcurrency: z.number().int().min(2).max(1000),
      /** Deliveries of one message before it moves to the dead-letter queue (and the alarm fires). */
      maxReceiveCount: z.number().int().min(1).max(100),
    }),
    training: z.object({
      /** EventBridge Scheduler expression (`cron(...)` or `rate(...)`), or null for manual starts only. */
      schedule: z
        .string()
        .regex(/^(cron|rate)\(.+\)$/, 'must be a cron(...) or rate(...) expression')
        .nullable(),
      /** Stages the schedule trains (one scheduled execution per stage). */
      scheduledStages: z.array(z.enum(['localize', 'liver', 'tumor', 'brats'])).min(1),
      /** Dataset folder name under `datasets/` in the models bucket (LiTS layout). */
      dataset: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'must be a folder name (a-z, 0-9, . _ -)'),
      /**
       * Dataset folder of the `brats` stage under `datasets/` (BraTS subject folders or MSD Task01);
       * absent: `brats`.
       */
      bratsDataset: z
        .string()
        .regex(/^[a-z0-9][a-z0-9._-]*$/, 'must be a folder name (a-z, 0-9, . _ -)')
        .optional(),
      folds: z.number().int().min(2).max(10),
      /** Upper bound on fold jobs running at once (Map MaxConcurrency). */
      maxConcurrency: z.number().int().min(1).max(40),
      /**
       * Queue of the training jobs: 'spot' = the main queue (Spot first when `batch.capacity` is 'spot',
       * else on-demand too), 'on-demand' = the queue that never uses Spot.
       */
      queue: z.enum(['spot', 'on-demand']),
      /** Fold jobs upload a checkpoint every N epochs (0: never), which a retried job resumes from. */
      checkpointEveryEpochs: z.number().int().min(0).max(10_000),
      /** Folds of a variant that must succeed for its ensemble to be promoted; null: all of them. */
      minFolds: z.number().int().min(1).max(10).nullable(),
    }),
    retention: z.object({
      /** What `cdk destroy` does to buckets and tables. */
      removalPolicy: z.enum(['retain', 'destroy']),
      /** Days before dropped input scans expire. */
      inputExpirationDays: z.number().int().min(1),
      /** Days before the intermediate files of a job (work bucket, `work/<jobId>/`) expire. */
      workExpirationDays: z.number().int().min(1),
      /** Days S3 server access logs are kept (they carry object keys, which may hold identifiers). */
      accessLogExpirationDays: z.number().int().min(1),
      /** Days before segmentation results expire (null keeps them). */
      resultsExpirationDays: z.number().int().min(1).nullable(),
      /** Days before noncurrent model versions expire. */
      noncurrentModelVersionDays: z.number().int().min(1),
      logRetentionDays: z
        .number()
        .int()
        .refine((d) => (LOG_RETENTION_DAYS as readonly number[]).includes(d), {
          message: `must be one of ${LOG_RETENTION_DAYS.join(', ')}`,
        }),
    }),
    /**
     * Receives the alarm notifications (SNS e-mail subscription). dev has a placeholder; staging and prod
     * must name a real address (`-c alarmEmail=...` or in `-c config`), else synth stops naming this field.
     */
    alarmEmail: z.email().optional(),
  })
  .superRefine((c, ctx) => {
    if (c.training.minFolds !== null && c.training.minFolds > c.training.folds) {
      ctx.addIssue({
        code: 'custom',
        path: ['training', 'minFolds'],
        message: `must not exceed training.folds (${c.training.folds})`,
      });
    }

    if (c.envName !== 'dev' && !c.alarmEmail) {
      ctx.addIssue({
        code: 'custom',
        path: ['alarmEmail'],
        message: `is required for ${c.envName}: pass -c alarmEmail=<address> (alarms must reach someone)`,
      });
    }
    if (c.vpc.mode === 'import' && !c.account) {
      ctx.addIssue({
        code: 'custom',
        path: ['account'],
        message: 'is required when the VPC is imported (vpc.mode "import" looks the VPC up in that account)',
      });
    }
  });

export type DeploymentConfig = z.infer<typeof configSchema>;

const COMMON = {
  region: 'eu-west-1',
  vpc: { mode: 'create', maxAzs: 2, natGateways: 1 },
  batch: {
    compute: 'gpu',
    gpuInstanceTypes: ['g4dn.xlarge', 'g4dn.2xlarge', 'g5.xlarge'],
    cpuInstanceTypes: ['c6i.2xlarge', 'c6i.4xlarge', 'm6i.2xlarge'],
    maxVcpus: 16,
    capacity: 'spot',
    inferenceMemoryMiB: 14_000,
    trainingMemoryMiB: 14_000,
    vcpusPerJob: 4,
    inferenceTimeoutMinutes: 30,
    trainingTimeoutHours: 12,
    runnableTimeoutMinutes: 60,
  },
  ingestion: { maxConcurrency: 5, maxReceiveCount: 5 },
  training: {
    schedule: null,
    scheduledStages: ['liver', 'tumor'],
    dataset: 'lits',
    folds: 5,
    maxConcurrency: 2,
    queue: 'spot',
    checkpointEveryEpochs: 5,
    minFolds: null,
  },
  retention: {
    removalPolicy: 'destroy',
    inputExpirationDays: 7,
    workExpirationDays: 2,
    accessLogExpirationDays: 30,
    resultsExpirationDays: 30,
    noncurrentModelVersionDays: 30,
    logRetentionDays: 14,
  },
} as const;

/** Defaults per environment (before context overrides). */
export const DEFAULTS: Record<EnvName, unknown> = {
  dev: { ...COMMON, envName: 'dev', alarmEmail: 'raunet-alarms@example.org' },
  staging: {
    ...COMMON,
    envName: 'staging',
    batch: { ...COMMON.batch, maxVcpus: 64 },
    training: { ...COMMON.training, schedule: 'cron(0 3 ? * SUN *)', maxConcurrency: 3 },
    retention: { ...COMMON.retention, resultsExpirationDays: 90, logRetentionDays: 30 },
  },
  prod: {
    ...COMMON,
    envName: 'prod',
    vpc: { mode: 'create', maxAzs: 3, natGateways: 2 },
    batch: {
      ...COMMON.batch,
      gpuInstanceTypes: ['g5.xlarge', 'g5.2xlarge', 'g4dn.2xlarge', 'g6.xlarge'],
      maxVcpus: 256,
      trainingMemoryMiB: 28_000,
      trainingTimeoutHours: 24,
    },
    ingestion: { maxConcurrency: 20, maxReceiveCount: 5 },
    training: { ...COMMON.training, schedule: 'cron(0 2 ? * SAT *)', maxConcurrency: 5 },
    retention: {
      removalPolicy: 'retain',
      inputExpirationDays: 30,
      workExpirationDays: 7,
      accessLogExpirationDays: 90,
      resultsExpirationDays: null,
      noncurrentModelVersionDays: 365,
      logRetentionDays: 365,
    },
  },
};

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep merge of plain objects; arrays and scalars in `over` replace those in `base`. */
export function deepMerge(base: unknown, over: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = deepMerge(base[k], v);
  return out;
}

/** Context values arrive as strings from the command line and as objects from tests. */
function parseOverrides(raw: unknown): unknown {
  if (raw === undefined) return {};
  if (typeof raw !== 'string') return raw;
  try {
    return JSON.parse(raw);
  } catch (e) {
    throw new ConfigError(`config: context "config" is not valid JSON (${(e as Error).message})`);
  }
}

/**
 * Resolve and validate the configuration for the environment named in context.
 * `context` is what `app.node.tryGetContext` returns for `env`, `account`, `region`, `alarmEmail` and
 * `config`.
 */
export function resolveConfig(context: Record<string, unknown>): DeploymentConfig {
  const env = context.env ?? 'dev';
  if (typeof env !== 'string' || !(ENV_NAMES as readonly string[]).includes(env)) {
    throw new ConfigError(`env: must be one of ${ENV_NAMES.join(', ')} (got ${JSON.stringify(env)})`);
  }
  let merged = deepMerge(DEFAULTS[env as EnvName], parseOverrides(context.config));
  const direct: Record<string, unknown> = {};
  if (context.account !== undefined) direct.account = String(context.account);
  if (context.region !== undefined) direct.region = String(context.region);
  if (context.alarmEmail !== undefined) direct.alarmEmail = String(context.alarmEmail);
  merged = deepMerge(merged, direct);
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError(`invalid config for env "${env}":\n  ${lines.join('\n  ')}`);
  }
  return parsed.data;
}
