/**
 * The local cloud: emulators + resources from the synthesized template, the state machines of the template
 * run by aws-local-stepfunctions (JSONPath), Lambda tasks running the real handlers in-process, Batch
 * `.sync` tasks running the real entrypoint as child processes, a minimal Step Functions endpoint
 * (StartExecution, for the starter Lambda's SDK client), SQS queues with their Lambda event source
 * mappings, and EventBridge: an "Object Created" event for every object written to a bucket with
 * EventBridge notifications (by anyone: tests, handlers, Batch containers), and an "Execution Status
 * Change" event for every execution that ends, each delivered to the targets of the matching rules.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { type HostFault, LocalBatch, type SubmitJobParams } from './batch.ts';
import {
  clients,
  closeServer,
  createResources,
  type Emulators,
  emulatorEnv,
  listenOnLoopback,
  type S3WriteRecord,
  startEmulators,
} from './emulators.ts';
import { LocalQueues } from './queues.ts';
import { handlerFiles, LocalNames, type SynthesizedApp, synthesize } from './template.ts';

type Handler = (event: unknown, context: unknown) => Promise<unknown>;

export interface Execution {
  name: string;
  arn: string;
  stateMachine: string;
  input: string;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED';
  /** Set when the execution was stopped (`abort`): AWS reports it as ABORTED. */
  aborted?: boolean;
  output?: unknown;
  error?: { name: string; message: string };
  done: Promise<void>;
  /** Abort the execution (as StopExecution does); `done` settles with status FAILED. */
  abort(): void;
}

/** aws-local-stepfunctions uses Promise.withResolvers (Node >= 22); provide it on Node 20. */
function polyfillWithResolvers(): void {
  const P = Promise as unknown as { withResolvers?: unknown };
  if (P.withResolvers) return;
  P.withResolvers = <T>() => {
    let resolve!: (v: T) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

/** EventBridge's `wildcard` filter: `*` matches any run of characters (`/` included), the rest literally. */
export function wildcardMatches(pattern: string, value: string): boolean {
  const re = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${re}$`, 's').test(value);
}

/**
 * EventBridge pattern matching for what the template's rules use (values, prefix, suffix, wildcard,
 * nesting). An unknown filter matches nothing, so a rule the emulator does not understand stays silent.
 */
export function matchesPattern(pattern: unknown, event: unknown): boolean {
  if (Array.isArray(pattern)) {
    return pattern.some((p) => {
      if (p && typeof p === 'object') {
        const m = p as { prefix?: string; suffix?: string; wildcard?: string };
        if (typeof event !== 'string') return false;
        if (m.prefix !== undefined) return event.startsWith(m.prefix);
        if (m.suffix !== undefined) return event.endsWith(m.suffix);
        if (m.wildcard !== undefined) return wildcardMatches(m.wildcard, event);
        return false;
      }
      return p === event;
    });
  }
  if (pattern && typeof pattern === 'object') {
    if (!event || typeof event !== 'object') return false;
    const ev = event as Record<string, unknown>;
    return Object.entries(pattern).every(([k, v]) => matchesPattern(v, ev[k]));
  }
  return pattern === event;
}

/** Every state map of a definition (top level, Map item processors, Parallel branches). */
function stateMaps(definition: Record<string, unknown>): Array<Record<string, Record<string, unknown>>> {
  const out: Array<Record<string, Record<string, unknown>>> = [];
  const visit = (states: Record<string, Record<string, unknown>>) => {
    out.push(states);
    for (const s of Object.values(states)) {
      const proc = (s.ItemProcessor ?? s.Iterator) as { States?: Record<string, Record<string, unknown>> };
      if (proc?.States) visit(proc.States);
      for (const b of (s.Branches ?? []) as Array<{ States: Record<string, Record<string, unknown>> }>) {
        visit(b.States);
      }
    }
  };
  visit(definition.States as Record<string, Record<string, unknown>>);
  return out;
}

/**
 * AWS Step Functions' default for a Task without TimeoutSeconds is 99999999 s (bounded by the state
 * machine's timeout); the interpreter follows the States Language spec's 60 s, which would cut long Batch
 * jobs short. Make a long default explicit (2,000,000 s: the interpreter's timer is a 32-bit setTimeout, so
 * AWS's 99999999 s would overflow and fire at once).
 */
export function withAwsTaskTimeouts(definition: Record<string, unknown>): Record<string, unknown> {
  for (const states of stateMaps(definition)) {
    for (const s of Object.values(states)) {
      if (s.Type === 'Task' && s.TimeoutSeconds === undefined && s.TimeoutSecondsPath === undefined) {
        s.TimeoutSeconds = 2_000_000;
      }
    }
  }
  return definition;
}

export interface LocalCloudOptions {
  env?: string;
  /** The Batch containers' entrypoint (see `LocalBatchOptions.container`; default the real one). */
  container?: readonly string[];
  /** Batch job definition timeouts are multiplied by this (default 1; a test of a hung stage shrinks it). */
  timeScale?: number;
}

/** S3's form encoding of keys in event notifications: '+' for a space, %XX for reserved bytes, '/' kept. */
export function encodeEventKey(key: string): string {
  return encodeURIComponent(key)
    .replace(/%20/g, '+')
    .replace(/%2F/g, '/')
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** How long `stop()` waits for aborted executions to settle before closing the emulators anyway. */
const STOP_GRACE_MS = 15_000;

export class LocalCloud {
  readonly names: LocalNames;
  readonly executions = new Map<string, Execution>();
  readonly faults = new Map<string, HostFault[]>();
  readonly batch: LocalBatch;
  readonly queues: LocalQueues;
  /** Every event delivered to the rules (S3 object events and execution status changes), in order. */
  readonly events: Array<Record<string, unknown>> = [];
  readonly s3: S3Client;
  readonly ddb: DynamoDBClient;
  private readonly handlers = new Map<string, Handler>();
  private readonly savedEnv: NodeJS.ProcessEnv;
  private stopped: Promise<void> | undefined;
  private stopping = false;
  private readonly pending = new Set<Promise<unknown>>();
  /** Buckets that send their object events to EventBridge (`NotificationConfiguration.EventBridgeConfiguration`). */
  private readonly notifyingBuckets: Set<string>;
  private sequence = 0;
  /** StartExecution calls still to refuse with ThrottlingException (see `throttleStarts`). */
  private throttled = 0;
  /** StartExecution calls answered with ThrottlingException so far. */
  throttledStarts = 0;

  private constructor(
    readonly app: SynthesizedApp,
    private readonly emulators: Emulators,
    private readonly sfnServer: Server,
    private readonly dirs: string[],
    readonly env: Record<string, string>,
    private readonly files: Record<string, string>,
    opts: LocalCloudOptions,
    private readonly StateMachine: new (
      def: unknown,
      opts?: unknown,
    ) => { run(input: unknown, opts?: unknown): { result: Promise<unknown>; abort(): void } },
  ) {
    this.names = new LocalNames(app.template);
    const c = clients(emulators);
    this.s3 = c.s3;
    this.ddb = c.ddb;
    this.savedEnv = { ...process.env };
    Object.assign(process.env, env);
    this.batch = new LocalBatch({
      names: this.names,
      env,
      faults: this.faults,
      container: opts.container,
      timeScale: opts.timeScale,
    });
    this.queues = new LocalQueues(this.names, (arn, event) => this.invokeLambda(arn, event));
    this.notifyingBuckets = new Set(
      this.names
        .idsOfType('Custom::S3BucketNotifications')
        .map((id) => this.names.resolve(this.names.resource(id).Properties) as Record<string, unknown>)
        .filter((p) => (p.NotificationConfiguration as Record<string, unknown>)?.EventBridgeConfiguration)
        .map((p) => String(p.BucketName)),
    );
    emulators.onS3Write((record) => this.onS3Write(record));
  }

  static async start(opts: LocalCloudOptions = {}): Promise<LocalCloud> {
    polyfillWithResolvers();
    const { StateMachine } = await import('aws-local-stepfunctions');
    const dirs = [
      mkdtempSync(path.join(tmpdir(), 'raunet-cdk-')),
      mkdtempSync(path.join(tmpdir(), 'raunet-s3-')),
    ];
    const [cdkOut, s3Dir] = dirs;
    let emulators: Emulators | undefined;
    let sfnServer: Server | undefined;
    let cloud: LocalCloud | undefined;
    try {
      const app = synthesize(cdkOut, opts.env ?? 'dev');
      const files = handlerFiles(app);
      emulators = await startEmulators(s3Dir);
      sfnServer = createServer();
      const sfnEndpoint = await listenOnLoopback(sfnServer);
      const env: Record<string, string> = {
        ...emulatorEnv(emulators, sfnEndpoint),
        // Handler and container logs only when asked for (they are JSON lines per step).
        POWERTOOLS_LOG_LEVEL: process.env.RAUNET_E2E_VERBOSE ? 'INFO' : 'WARN',
      };
      const c: LocalCloud = new LocalCloud(
        app,
        emulators,
        sfnServer,
        dirs,
        env,
        files,
        opts,
        StateMachine as never,
      );
      cloud = c;
      sfnServer.on('request', (req, res) => c.serveStepFunctions(req, res));
      await createResources(c.names, c.s3, c.ddb);
      return c;
    } catch (e) {
      // Nothing started here outlives a failed start.
      if (cloud) await cloud.stop();
      else {
        if (sfnServer?.listening) await closeServer(sfnServer);
        await emulators?.stop();
        for (const d of dirs) rmSync(d, { recursive: true, force: true });
      }
      throw e;
    }
  }

  /** The Step Functions API the starter Lambda's SDK client calls: StartExecution only. */
  private serveStepFunctions(req: IncomingMessage, res: ServerResponse): void {
    let body = '';
    req.on('data', (d) => {
      body += d;
    });
    req.on('end', () => {
      const reply = (status: number, value: unknown) => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(JSON.stringify(value));
      };
      try {
        const target = String(req.headers['x-amz-target'] ?? '');
        if (target !== 'AWSStepFunctions.StartExecution') {
          return reply(400, { __type: 'UnknownOperationException', message: target });
        }
        if (this.throttled > 0) {
          this.throttled--;
          this.throttledStarts++;
          return reply(400, { __type: 'ThrottlingException', message: 'Rate exceeded' });
        }
        const p = JSON.parse(body) as { stateMachineArn: string; name?: string; input?: string };
        const r = this.startExecution(p.stateMachineArn, p.input ?? '{}', p.name);
        reply(200, { executionArn: r.arn, startDate: Date.now() / 1000 });
      } catch (e) {
        const err = e as Error;
        reply(400, { __type: err.name, message: err.message });
      }
    });
  }

  /** Answer the next `n` StartExecution calls with ThrottlingException, as Step Functions does under load. */
  throttleStarts(n: number): void {
    this.throttled = n;
  }

  /** Physical name of the single resource of `type` whose logical id contains `hint`. */
  nameOf(type: string, hint: string): string {
    const ids = this.names.idsOfType(type).filter((id) => id.toLowerCase().includes(hint.toLowerCase()));
    if (ids.length !== 1) throw new Error(`${ids.length} ${type} resources match ${hint}`);
    return this.names.physicalName(ids[0]);
  }

  stateMachineArn(hint: string): string {
    const ids = this.names
      .idsOfType('AWS::StepFunctions::StateMachine')
      .filter((id) => id.toLowerCase().includes(hint.toLowerCase()));
    if (ids.length !== 1) throw new Error(`${ids.length} state machines match ${hint}`);
    return this.names.arn(ids[0]);
  }

  /** Invoke a Lambda of the template in-process with its environment, as the Lambda service would. */
  async invokeLambda(functionArnOrName: string, event: unknown): Promise<unknown> {
    const id = this.names.logicalIdOf(functionArnOrName);
    const file = id ? this.files[id] : undefined;
    if (!id || !file) throw new Error(`no local handler for ${functionArnOrName}`);
    let handler = this.handlers.get(id);
    if (!handler) {
      handler = ((await import(pathToFileURL(file).href)) as { handler: Handler }).handler;
      this.handlers.set(id, handler);
    }
    const props = this.names.resolve(this.names.resource(id).Properties) as {
      Environment?: { Variables?: Record<string, string> };
    };
    Object.assign(process.env, props.Environment?.Variables ?? {}, this.env);
    const context = {
      functionName: this.names.physicalName(id),
      functionVersion: '$LATEST',
      invokedFunctionArn: this.names.arn(id),
      memoryLimitInMB: '512',
      awsRequestId: randomUUID(),
      logGroupName: `/aws/lambda/${this.names.physicalName(id)}`,
      logStreamName: 'local',
      getRemainingTimeInMillis: () => 60_000,
      callbackWaitsForEmptyEventLoop: true,
    };
    return handler(event, context);
  }

  /** Start an execution (Step Functions semantics for names: unique per state machine). */
  startExecution(stateMachineArn: string, input: string, name: string = randomUUID()): Execution {
    const existing = this.executions.get(`${stateMachineArn}:${name}`);
    if (existing) {
      // A running execution with the same input is returned (idempotent StartExecution); else refused.
      if (existing.status === 'RUNNING' && existing.input === input) return existing;
      throw Object.assign(new Error(`Execution already exists: '${existing.arn}'`), {
        name: 'ExecutionAlreadyExists',
      });
    }
    const smId = this.names.logicalIdOf(stateMachineArn);
    if (!smId) throw Object.assign(new Error(stateMachineArn), { name: 'StateMachineDoesNotExist' });
    const definition = withAwsTaskTimeouts(this.names.stateMachineDefinition(smId));
    const machine = new this.StateMachine(definition, { validationOptions: { checkPaths: false } });
    const arn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
    const exec: Execution = {
      name,
      arn,
      stateMachine: stateMachineArn,
      input,
      status: 'RUNNING',
      done: Promise.resolve(),
      abort: () => undefined,
    };
    const run = machine.run(JSON.parse(input), {
      overrides: { taskResourceLocalHandlers: this.taskOverrides(definition) },
      context: {
        Execution: { Id: arn, Name: name, Input: JSON.parse(input), StartTime: new Date().toISOString() },
        StateMachine: { Id: stateMachineArn },
      },
    });
    exec.abort = () => {
      exec.aborted = true;
      run.abort();
    };
    exec.done = run.result
      .then(
        (out) => {
          exec.status = 'SUCCEEDED';
          exec.output = out;
        },
        (e: Error) => {
          // The interpreter wraps the failure (a Fail state's Error/Cause, an uncaught task error).
          const cause = e.cause instanceof Error ? e.cause : e;
          exec.status = 'FAILED';
          exec.error = { name: cause.name, message: cause.message };
        },
      )
      .then(() => this.executionEnded(exec));
    this.executions.set(`${stateMachineArn}:${name}`, exec);
    return exec;
  }

  /** Local handlers for every Task state (nested Map/Parallel states included). */
  private taskOverrides(
    definition: Record<string, unknown>,
  ): Record<string, (input: unknown) => Promise<unknown>> {
    const out: Record<string, (input: unknown) => Promise<unknown>> = {};
    for (const states of stateMaps(definition)) {
      for (const [name, s] of Object.entries(states)) {
        if (s.Type === 'Task') out[name] = this.taskHandler(String(s.Resource));
      }
    }
    return out;
  }

  private taskHandler(resource: string): (input: unknown) => Promise<unknown> {
    if (resource === 'arn:aws:states:::batch:submitJob.sync') {
      return (input) => this.batch.submitJobSync(input as SubmitJobParams);
    }
    if (resource.startsWith('arn:aws:lambda:')) {
      return async (input) => {
        try {
          return await this.invokeLambda(resource, input);
        } catch (e) {
          // What Step Functions reports for a function error: Error = errorType, Cause = the error JSON.
          const err = e instanceof Error ? e : new Error(String(e));
          const cause = JSON.stringify({ errorType: err.name, errorMessage: err.message, trace: [] });
          throw Object.assign(new Error(cause), { name: err.name });
        }
      };
    }
    throw new Error(`the local cloud has no integration for ${resource}`);
  }

  /** Run `work` in the background; `settled()` and `waitForAll()` wait for it. */
  private track(work: Promise<unknown>): void {
    const p = work.catch((e: Error) => {
      if (process.env.RAUNET_E2E_VERBOSE)
        process.stderr.write(`local cloud: delivery failed: ${e.message}\n`);
    });
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  /**
   * S3 -> EventBridge, as S3 does for a bucket with EventBridge notifications on: every object created,
   * whoever wrote it, becomes an "Object Created" event (key URL-encoded, a fresh sequencer).
   */
  private onS3Write(record: S3WriteRecord): void {
    const bucket = record.s3.bucket.name;
    if (
      this.stopping ||
      !this.notifyingBuckets.has(bucket) ||
      !record.eventName.startsWith('ObjectCreated:')
    ) {
      return;
    }
    const o = record.s3.object;
    this.sequence++;
    const event = {
      version: '0',
      id: randomUUID(),
      'detail-type': 'Object Created',
      source: 'aws.s3',
      account: '000000000000',
      time: new Date().toISOString(),
      region: this.env.AWS_REGION,
      resources: [`arn:aws:s3:::${bucket}`],
      detail: {
        version: '0',
        bucket: { name: bucket },
        object: {
          key: encodeEventKey(o.key),
          size: o.size ?? 0,
          ...(o.eTag ? { etag: o.eTag.replace(/"/g, '') } : {}),
          sequencer: `${Date.now().toString(16).toUpperCase()}${this.sequence.toString(16).padStart(8, '0')}`,
        },
        'request-id': randomUUID(),
        requester: this.env.AWS_ACCESS_KEY_ID,
        reason: record.eventName === 'ObjectCreated:Copy' ? 'CopyObject' : 'PutObject',
      },
    };
    this.track(this.deliverEvent(event));
  }

  /**
   * Put an object into a bucket (its event, if the bucket sends any, is delivered as for any other write),
   * wait until everything it set off has been handed on (the queue drained: executions started), and
   * return the object's event (undefined when the bucket sends none).
   */
  async dropObject(
    bucket: string,
    key: string,
    body: Uint8Array,
  ): Promise<Record<string, unknown> | undefined> {
    const before = this.events.length;
    await this.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    await this.settled();
    return this.events
      .slice(before)
      .find(
        (e) =>
          e['detail-type'] === 'Object Created' &&
          (e.detail as { object: { key: string } }).object.key === encodeEventKey(key),
      );
  }

  /** Until every event delivery in progress is done and every queue is drained. */
  async settled(): Promise<void> {
    do {
      await Promise.all([...this.pending]);
      await this.queues.drained();
    } while (this.pending.size > 0);
  }

  /**
   * Deliver an event to the targets of every rule whose pattern matches, as EventBridge does: a Lambda
   * target is invoked (its result returned), an SQS target gets the event as a message.
   */
  async deliverEvent(event: Record<string, unknown>): Promise<unknown[]> {
    this.events.push(event);
    const results: unknown[] = [];
    for (const id of this.names.idsOfType('AWS::Events::Rule')) {
      const rule = this.names.resolve(this.names.resource(id).Properties) as {
        EventPattern: unknown;
        Targets?: Array<{ Arn: string }>;
      };
      if (!matchesPattern(rule.EventPattern, event)) continue;
      for (const t of rule.Targets ?? []) {
        if (t.Arn.startsWith('arn:aws:lambda:')) results.push(await this.invokeLambda(t.Arn, event));
        else if (this.queues.isQueue(t.Arn)) this.queues.send(t.Arn, JSON.stringify(event));
      }
    }
    return results;
  }

  /** "Step Functions Execution Status Change" of an execution that ended, as Step Functions emits it. */
  private executionEnded(exec: Execution): void {
    if (this.stopping) return;
    const status = exec.status === 'SUCCEEDED' ? 'SUCCEEDED' : exec.aborted ? 'ABORTED' : 'FAILED';
    this.track(
      this.deliverEvent({
        version: '0',
        id: randomUUID(),
        'detail-type': 'Step Functions Execution Status Change',
        source: 'aws.states',
        account: '000000000000',
        time: new Date().toISOString(),
        region: this.env.AWS_REGION,
        resources: [exec.arn],
        detail: {
          executionArn: exec.arn,
          stateMachineArn: exec.stateMachine,
          name: exec.name,
          status,
          error: exec.error?.name ?? null,
          cause: exec.error?.message ?? null,
        },
      }),
    );
  }

  /** Until no execution runs and nothing is being delivered (executions started by deliveries included). */
  async waitForAll(): Promise<void> {
    for (;;) {
      await this.settled();
      const running = [...this.executions.values()].filter((e) => e.status === 'RUNNING');
      if (running.length === 0 && this.pending.size === 0 && this.queues.idle) return;
      await Promise.all(running.map((e) => e.done));
    }
  }

  /**
   * Stop everything, also after a failure or in the middle of a run: kill the running Batch containers
   * (their process groups) and refuse new ones, abort the executions still running and give them a bounded
   * grace period to settle, then close the servers and emulators, remove the temp folders and restore the
   * environment. Idempotent.
   */
  async stop(): Promise<void> {
    if (this.stopped) return this.stopped;
    this.stopping = true;
    this.stopped = (async () => {
      try {
        this.queues.stop();
        await this.batch.stop();
        const running = [...this.executions.values()].filter((e) => e.status === 'RUNNING');
        for (const e of running) e.abort();
        await settleWithin(
          running.map((e) => e.done),
          STOP_GRACE_MS,
        );
      } finally {
        this.s3.destroy();
        this.ddb.destroy();
        await closeServer(this.sfnServer).catch(() => undefined);
        await this.emulators.stop().catch(() => undefined);
        for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
        for (const k of Object.keys(process.env)) if (!(k in this.savedEnv)) delete process.env[k];
        Object.assign(process.env, this.savedEnv);
      }
    })();
    return this.stopped;
  }
}

/** Wait until every promise has settled or `ms` have passed, whichever comes first. */
async function settleWithin(promises: Promise<unknown>[], ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.allSettled(promises),
    new Promise<void>((r) => {
      timer = setTimeout(r, ms);
    }),
  ]);
  clearTimeout(timer);
}
