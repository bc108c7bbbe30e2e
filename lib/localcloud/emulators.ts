/**
 * S3 (s3rver) and DynamoDB (dynalite) emulators on loopback, on free ports, with their data in a temp
 * folder; the buckets and tables are created from the synthesized template through the real AWS SDK.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, type CreateTableCommandInput, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import dynalite from 'dynalite';
import S3rver from 's3rver';
import { LOCAL_REGION, type LocalNames } from './template.ts';

/** What s3rver reports for each write (a classic S3 notification record; the key is not URL-encoded). */
export interface S3WriteRecord {
  eventName: string;
  s3: { bucket: { name: string }; object: { key: string; size?: number; eTag?: string } };
}

export interface Emulators {
  s3Endpoint: string;
  dynamoEndpoint: string;
  /** Called for every object written or deleted through the S3 emulator, by any client or process. */
  onS3Write(listener: (record: S3WriteRecord) => void): void;
  stop(): Promise<void>;
}

export const DUMMY_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export async function startEmulators(dataDir: string): Promise<Emulators> {
  const s3 = new S3rver({ address: '127.0.0.1', port: 0, directory: dataDir, silent: true });
  const listeners: Array<(record: S3WriteRecord) => void> = [];
  s3.on('event', (e: { Records: S3WriteRecord[] }) => {
    for (const r of e.Records) for (const l of listeners) l(r);
  });
  const s3Addr = (await s3.run()) as AddressInfo;
  const ddb: Server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  let dynamoEndpoint: string;
  try {
    dynamoEndpoint = await listenOnLoopback(ddb);
  } catch (e) {
    await closeServer(s3.httpServer);
    throw e;
  }
  return {
    s3Endpoint: `http://127.0.0.1:${s3Addr.port}`,
    dynamoEndpoint,
    onS3Write: (listener) => {
      listeners.push(listener);
    },
    async stop() {
      await Promise.all([closeServer(s3.httpServer), closeServer(ddb)]);
    },
  };
}

/** Listen on a free loopback port (port 0: the OS picks one, so parallel runs never collide). */
export async function listenOnLoopback(server: Server): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Close a server without waiting for clients' keep-alive connections. */
export function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** Environment of every process that talks to the emulators (handlers in-process, Batch children). */
export function emulatorEnv(e: Pick<Emulators, 's3Endpoint' | 'dynamoEndpoint'>, sfnEndpoint?: string) {
  return {
    AWS_REGION: LOCAL_REGION,
    AWS_DEFAULT_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: DUMMY_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: DUMMY_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_S3: e.s3Endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: e.dynamoEndpoint,
    ...(sfnEndpoint ? { AWS_ENDPOINT_URL_SFN: sfnEndpoint } : {}),
  };
}

/** Table resource types (TableV2 synthesizes to a GlobalTable with the same key and index properties). */
export const TABLE_TYPES = ['AWS::DynamoDB::Table', 'AWS::DynamoDB::GlobalTable'] as const;

/** Create every bucket and table of the template. */
export async function createResources(names: LocalNames, s3: S3Client, ddb: DynamoDBClient): Promise<void> {
  for (const id of names.idsOfType('AWS::S3::Bucket')) {
    await s3.send(new CreateBucketCommand({ Bucket: names.physicalName(id) }));
  }
  for (const id of TABLE_TYPES.flatMap((t) => names.idsOfType(t))) {
    await ddb.send(new CreateTableCommand(tableInput(names, id)));
  }
}

/** The CreateTable call of one template table (key schema, attributes, GSIs and LSIs, billing mode). */
export function tableInput(names: LocalNames, logicalId: string): CreateTableCommandInput {
  const p = names.resolve(names.resource(logicalId).Properties ?? {}) as Record<string, unknown>;
  const onDemand = p.BillingMode === 'PAY_PER_REQUEST';
  const throughput = onDemand
    ? undefined
    : ((p.ProvisionedThroughput as CreateTableCommandInput['ProvisionedThroughput']) ?? {
        ReadCapacityUnits: 5,
        WriteCapacityUnits: 5,
      });
  type Gsi = NonNullable<CreateTableCommandInput['GlobalSecondaryIndexes']>[number];
  const gsis = (p.GlobalSecondaryIndexes as Gsi[] | undefined)?.map((g) => ({
    IndexName: g.IndexName,
    KeySchema: g.KeySchema,
    Projection: g.Projection,
    ...(onDemand ? {} : { ProvisionedThroughput: g.ProvisionedThroughput ?? throughput }),
  }));
  return {
    TableName: names.physicalName(logicalId),
    KeySchema: p.KeySchema as CreateTableCommandInput['KeySchema'],
    AttributeDefinitions: p.AttributeDefinitions as CreateTableCommandInput['AttributeDefinitions'],
    BillingMode: onDemand ? 'PAY_PER_REQUEST' : 'PROVISIONED',
    ProvisionedThroughput: throughput,
    GlobalSecondaryIndexes: gsis,
    LocalSecondaryIndexes: p.LocalSecondaryIndexes as CreateTableCommandInput['LocalSecondaryIndexes'],
  };
}

/** SDK clients bound to the emulators (the same clients the code under test builds from env). */
export function clients(e: Pick<Emulators, 's3Endpoint' | 'dynamoEndpoint'>) {
  const common = { region: LOCAL_REGION, credentials: DUMMY_CREDENTIALS };
  return {
    s3: new S3Client({ ...common, endpoint: e.s3Endpoint, forcePathStyle: true }),
    ddb: new DynamoDBClient({ ...common, endpoint: e.dynamoEndpoint }),
  };
}
