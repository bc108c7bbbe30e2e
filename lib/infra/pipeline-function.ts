/**
 * One Lambda of the pipeline: a handler file in `functions/` bundled locally with esbuild (never in
 * Docker), Node.js 22 on ARM64, X-Ray tracing, its own log group with the configured retention and a role
 * that may write only to that log group (no AWS managed policy); callers grant the rest.
 */
import * as path from 'node:path';
import { Duration, Size } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { DeploymentConfig } from './config.ts';
import { FUNCTIONS_DIR, REPO_ROOT } from './paths.ts';
import { removalPolicyOf } from './storage.ts';

/** The banner of every bundle: `require`, `__filename` and `__dirname` for bundled CommonJS code. */
export const BUNDLE_BANNER = [
  "import { createRequire as __cr } from 'node:module';",
  "import { fileURLToPath as __fu } from 'node:url';",
  "import { dirname as __dn } from 'node:path';",
  'const require = __cr(import.meta.url);',
  'const __filename = __fu(import.meta.url);',
  'const __dirname = __dn(__filename);',
].join(' ');

/** The OpenJPEG decoder's WebAssembly (lib/volume/jpeg2000.ts), relative to the project root. */
export const OPENJPEG_WASM = 'node_modules/@cornerstonejs/codec-openjpeg/dist/openjpegwasm_decode.wasm';

/** Every DICOM codec's WebAssembly (lib/volume/jpeg2000.ts, jpeg-codecs.ts), relative to the project root. */
export const CODEC_WASM = [
  OPENJPEG_WASM,
  'node_modules/@cornerstonejs/codec-charls/dist/charlswasm_decode.wasm',
  'node_modules/@cornerstonejs/codec-libjpeg-turbo-8bit/dist/libjpegturbowasm_decode.wasm',
];

export interface PipelineFunctionProps {
  config: DeploymentConfig;
  /** Handler file name in `functions/` without extension, e.g. `ingest`. */
  handler: string;
  description: string;
  memoryMiB?: number;
  timeout?: Duration;
  ephemeralStorageMiB?: number;
  environment?: Record<string, string>;
  /** Put the viewer page's script (`viewer.js`, scripts/build-viewer.ts) beside index.mjs (finalize). */
  viewerScript?: boolean;
}

export class PipelineFunction extends Construct {
  readonly fn: nodejs.NodejsFunction;
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: PipelineFunctionProps) {
    super(scope, id);
    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.config.retention.logRetentionDays as logs.RetentionDays,
      removalPolicy: removalPolicyOf(props.config),
    });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of the ${props.handler} Lambda`,
    });
    logGroup.grantWrite(this.role);
    this.fn = new nodejs.NodejsFunction(this, 'Fn', {
      entry: path.join(FUNCTIONS_DIR, `${props.handler}.ts`),
      handler: 'handler',
      projectRoot: REPO_ROOT,
      depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      description: props.description,
      memorySize: props.memoryMiB ?? 512,
      timeout: props.timeout ?? Duration.seconds(60),
      ephemeralStorageSize: props.ephemeralStorageMiB ? Size.mebibytes(props.ephemeralStorageMiB) : undefined,
      tracing: lambda.Tracing.ACTIVE,
      logGroup,
      role: this.role,
      environment: {
        POWERTOOLS_SERVICE_NAME: `raunet-${props.handler}`,
        RAUNET_ENV: props.config.envName,
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
      bundling: {
        forceDockerBundling: false,
        format: nodejs.OutputFormat.ESM,
        target: 'node22',
        minify: true,
        logLevel: nodejs.LogLevel.WARNING,
        sourceMap: true,
        mainFields: ['module', 'main'],
        // ESM bundles of CommonJS dependencies still call require() and read __dirname; give them both.
        banner: BUNDLE_BANNER,
        externalModules: ['@aws-sdk/*', '@tensorflow/*', 'onnxruntime-node'],
        // The DICOM codecs' WebAssembly next to index.mjs, where their bundled loaders look for it.
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: (inputDir: string, outputDir: string) => [
            ...CODEC_WASM.map((file) => `cp "${path.join(inputDir, file)}" "${outputDir}/"`),
            ...(props.viewerScript
              ? [`cd "${inputDir}" && npx tsx scripts/build-viewer.ts "${outputDir}/viewer.js"`]
              : []),
          ],
        },
      },
    });
  }
}
