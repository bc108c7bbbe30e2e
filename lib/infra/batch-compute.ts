/**
 * AWS Batch compute: managed EC2 compute environments, the job queues and one job definition per stage.
 *
 * `batch.compute` in the config chooses the hardware. 'gpu' (the default): GPU instances on the ECS GPU
 * AMI; job definitions each request one GPU; inference stages run the ONNX Runtime (CUDA 12) image,
 * training stages the TensorFlow.js WebGPU image (Dawn on the NVIDIA Vulkan driver, which the container
 * runtime injects only with the `graphics` driver capability); the entrypoint refuses a CPU fallback.
 * 'cpu' (queues without GPUs: LocalStack, cheap dev environments): CPU instances on the plain ECS AMI, no
 * GPU requested, every stage on the CPU image (`containers/Dockerfile.cpu`).
 *
 * Queues: the main queue runs Spot first and falls back to on-demand (compute environment order), or
 * on-demand only when the config says so; the on-demand queue never uses Spot (for work that must not be
 * interrupted). Retries happen only when the host went away (Spot reclaim, EC2 host failure, Docker daemon
 * timeouts); bad input and application errors exit at once.
 */
import * as path from 'node:path';
import { Duration, Size } from 'aws-cdk-lib';
import * as batch from 'aws-cdk-lib/aws-batch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { DeploymentConfig } from './config.ts';
import { REPO_ROOT } from './paths.ts';
import { removalPolicyOf } from './storage.ts';

export const BATCH_STAGES = [
  'localize',
  'segment-liver',
  'segment-tumor',
  'segment-brats',
  'train-fold',
  'evaluate-ensemble',
] as const;
export type BatchStage = (typeof BATCH_STAGES)[number];
export const INFERENCE_STAGES: readonly BatchStage[] = [
  'localize',
  'segment-liver',
  'segment-tumor',
  // the brain-tumour job (a subject under incoming/brats/): the same inference image
  'segment-brats',
];

/** Attempts of a Batch job (the first one plus the host-failure retries of `hostFailureRetryStrategies`). */
export const JOB_ATTEMPTS = 3;

/** Hard limit of one attempt of a stage's job (the job definition's timeout): minutes or hours by config. */
export function attemptTimeout(config: DeploymentConfig, stage: BatchStage): Duration {
  return INFERENCE_STAGES.includes(stage)
    ? Duration.minutes(config.batch.inferenceTimeoutMinutes)
    : Duration.hours(config.batch.trainingTimeoutHours);
}

/**
 * The Step Functions task timeout of a stage: every attempt may wait in RUNNABLE (at most
 * `runnableTimeoutMinutes`, then the queue cancels it) and run (at most its attempt timeout). When it fires,
 * Step Functions stops the job (TerminateJob) and the Catch marks the job FAILED.
 */
export function stageTaskTimeout(config: DeploymentConfig, stage: BatchStage): Duration {
  const perAttempt = attemptTimeout(config, stage).toSeconds() + config.batch.runnableTimeoutMinutes * 60;
  return Duration.seconds(JOB_ATTEMPTS * perAttempt);
}

/** Why a job may sit in RUNNABLE; each gets a cancel action after `runnableTimeoutMinutes`. */
const BLOCKED_REASONS = [
  batch.JobStateTimeLimitActionsReason.INSUFFICIENT_INSTANCE_CAPACITY,
  batch.JobStateTimeLimitActionsReason.COMPUTE_ENVIRONMENT_MAX_RESOURCE,
  batch.JobStateTimeLimitActionsReason.JOB_RESOURCE_REQUIREMENT,
];

/**
 * Retry only when the instance disappeared under the job. Batch evaluates these in order; the last entry
 * makes every other failure (non-zero exit of the app, bad input) final.
 */
export function hostFailureRetryStrategies(): batch.RetryStrategy[] {
  return [
    batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.custom({ onStatusReason: 'Host EC2*' })),
    batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.custom({ onReason: 'DockerTimeoutError*' })),
    batch.RetryStrategy.of(
      batch.Action.RETRY,
      batch.Reason.custom({ onReason: 'CannotStartContainerError*' }),
    ),
    batch.RetryStrategy.of(batch.Action.EXIT, batch.Reason.custom({ onReason: '*' })),
  ];
}

/**
 * Job definitions have fixed names (`raunet-<env>-<stage>`), so the state machines' SubmitJob grant names
 * exactly these definitions (any revision) instead of every job definition of the account.
 */
export function jobDefinitionName(config: DeploymentConfig, stage: BatchStage): string {
  return `raunet-${config.envName}-${stage}`;
}

/** Files never sent to the Docker build context (the image installs its own dependencies). */
const DOCKER_EXCLUDES = [
  'node_modules',
  '.git',
  'cdk.out',
  'coverage',
  'models',
  'data',
  '**/*.onnx',
  '**/*.nii',
  '**/*.nii.gz',
  'test',
  'bench',
  'docs',
];

export interface BatchComputeProps {
  config: DeploymentConfig;
  vpc: ec2.IVpc;
  subnets: ec2.SubnetSelection;
}

/** The container image (Dockerfile in `containers/`) of each stage for a compute kind. */
export function dockerfileFor(compute: DeploymentConfig['batch']['compute'], stage: BatchStage): string {
  if (compute === 'cpu') return 'Dockerfile.cpu';
  return INFERENCE_STAGES.includes(stage) ? 'Dockerfile.infer' : 'Dockerfile.train';
}

export class BatchCompute extends Construct {
  /** The main queue (Spot first when configured); GPU or CPU instances as the config says. */
  readonly queue: batch.JobQueue;
  readonly onDemandQueue: batch.JobQueue;
  readonly jobDefinitions: Record<BatchStage, batch.EcsJobDefinition>;
  /** Role the containers run with; the workflows grant it the S3 access each stage needs. */
  readonly jobRole: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: BatchComputeProps) {
    super(scope, id);
    const { config, vpc, subnets } = props;
    const gpu = config.batch.compute === 'gpu';
    // Construct ids of the GPU deployment are unchanged (no resource replacement for existing stacks).
    const kind = gpu ? 'Gpu' : 'Cpu';

    const securityGroup = new ec2.SecurityGroup(this, 'Instances', {
      vpc,
      description: `Batch ${kind.toUpperCase()} instances: no inbound traffic, outbound to AWS APIs and ECR`,
      allowAllOutbound: true,
    });
    const launchTemplate = new ec2.LaunchTemplate(this, `${kind}LaunchTemplate`, {
      requireImdsv2: true,
      // Hop limit 1: IMDSv2 answers the host only, so containers (one hop further, bridge network) cannot
      // read the instance role's credentials; they use their job role.
      httpPutResponseHopLimit: 1,
      blockDevices: [
        {
          deviceName: '/dev/xvda',
          volume: ec2.BlockDeviceVolume.ebs(120, {
            encrypted: true,
            volumeType: ec2.EbsDeviceVolumeType.GP3,
          }),
        },
      ],
    });
    const instanceTypes = (gpu ? config.batch.gpuInstanceTypes : config.batch.cpuInstanceTypes).map(
      (t) => new ec2.InstanceType(t),
    );
    const imageType = gpu
      ? batch.EcsMachineImageType.ECS_AL2023_NVIDIA
      : batch.EcsMachineImageType.ECS_AL2023;
    const environment = (ceId: string, spot: boolean) =>
      new batch.ManagedEc2EcsComputeEnvironment(this, ceId, {
        vpc,
        vpcSubnets: subnets,
        securityGroups: [securityGroup],
        spot,
        allocationStrategy: spot
          ? batch.AllocationStrategy.SPOT_PRICE_CAPACITY_OPTIMIZED
          : batch.AllocationStrategy.BEST_FIT_PROGRESSIVE,
        instanceTypes,
        useOptimalInstanceClasses: false,
        images: [{ imageType }],
        minvCpus: 0,
        maxvCpus: config.batch.maxVcpus,
        launchTemplate,
        updateToLatestImageVersion: true,
        replaceComputeEnvironment: false,
      });

    const onDemand = environment(`OnDemand${kind}`, false);
    const ordered: batch.OrderedComputeEnvironment[] =
      config.batch.capacity === 'spot'
        ? [
            { computeEnvironment: environment(`Spot${kind}`, true), order: 1 },
            { computeEnvironment: onDemand, order: 2 },
          ]
        : [{ computeEnvironment: onDemand, order: 1 }];
    // A job blocked in RUNNABLE (no GPU quota in a new account, no Spot capacity, a job larger than any
    // instance) is cancelled with the blocking reason instead of waiting forever.
    const jobStateTimeLimitActions: batch.JobStateTimeLimitAction[] = BLOCKED_REASONS.map((reason) => ({
      action: batch.JobStateTimeLimitActionsAction.CANCEL,
      maxTime: Duration.minutes(config.batch.runnableTimeoutMinutes),
      reason,
      state: batch.JobStateTimeLimitActionsState.RUNNABLE,
    }));
    this.queue = new batch.JobQueue(this, `${kind}Queue`, {
      priority: 10,
      computeEnvironments: ordered,
      jobStateTimeLimitActions,
    });
    this.onDemandQueue = new batch.JobQueue(this, 'OnDemandQueue', {
      priority: 10,
      computeEnvironments: [{ computeEnvironment: onDemand, order: 1 }],
      jobStateTimeLimitActions,
    });

    this.logGroup = new logs.LogGroup(this, 'JobLogs', {
      retention: config.retention.logRetentionDays as logs.RetentionDays,
      removalPolicy: removalPolicyOf(config),
    });
    this.jobRole = new iam.Role(this, 'JobRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'Role of the RA-UNet Batch containers (S3 access granted per bucket and prefix)',
    });

    const images = new Map<string, ecs.ContainerImage>();
    const image = (dockerfile: string) => {
      let img = images.get(dockerfile);
      if (!img) {
        img = ecs.ContainerImage.fromAsset(REPO_ROOT, {
          file: path.join('containers', dockerfile),
          exclude: DOCKER_EXCLUDES,
          // A digest-pinned CUDA base from config replaces the Dockerfile's tag (docs/aws.md).
          ...(dockerfile === 'Dockerfile.infer' && config.batch.inferenceBaseImage
            ? { buildArgs: { CUDA_IMAGE: config.batch.inferenceBaseImage } }
            : {}),
          // The compute environments run x86 instances; an arm64 build machine must not ship arm64 images.
          platform: Platform.LINUX_AMD64,
        });
        images.set(dockerfile, img);
      }
      return img;
    };

    const definitions: Partial<Record<BatchStage, batch.EcsJobDefinition>> = {};
    for (const stage of BATCH_STAGES) {
      const inference = INFERENCE_STAGES.includes(stage);
      definitions[stage] = new batch.EcsJobDefinition(this, `Job-${stage}`, {
        jobDefinitionName: jobDefinitionName(config, stage),
        timeout: attemptTimeout(config, stage),
        retryAttempts: JOB_ATTEMPTS,
        retryStrategies: hostFailureRetryStrategies(),
        // Batch substitutes `Ref::<name>` in the command from the SubmitJob parameters.
        parameters: { args: '{}' },
        container: new batch.EcsEc2ContainerDefinition(this, `Container-${stage}`, {
          image: image(dockerfileFor(config.batch.compute, stage)),
          gpu: gpu ? 1 : undefined,
          cpu: config.batch.vcpusPerJob,
          memory: Size.mebibytes(
            inference ? config.batch.inferenceMemoryMiB : config.batch.trainingMemoryMiB,
          ),
          command: [stage, '--args', 'Ref::args'],
          jobRole: this.jobRole,
          environment: {
            RAUNET_REQUIRE_GPU: gpu ? '1' : '0',
            RAUNET_ENGINE: inference ? 'onnx' : 'tfjs',
            POWERTOOLS_SERVICE_NAME: 'raunet-batch',
            // WebGPU (Dawn) needs the NVIDIA Vulkan ICD: the container runtime mounts it for `graphics`.
            ...(gpu && !inference ? { NVIDIA_DRIVER_CAPABILITIES: 'compute,utility,graphics' } : {}),
          },
          logging: ecs.LogDriver.awsLogs({ streamPrefix: stage, logGroup: this.logGroup }),
          readonlyRootFilesystem: false,
        }),
      });
    }
    this.jobDefinitions = definitions as Record<BatchStage, batch.EcsJobDefinition>;
  }
}
