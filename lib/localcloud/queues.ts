/**
 * SQS queues of the template with their Lambda event source mappings, as the Lambda poller drives them:
 * messages are handed to the function in batches (`BatchSize`), at most `ScalingConfig.MaximumConcurrency`
 * batches at once; with `ReportBatchItemFailures` only the listed messages come back, otherwise a thrown
 * error returns the whole batch. A returned message is visible again after the visibility timeout (scaled
 * down locally) and moves to the queue's dead-letter queue after `maxReceiveCount` receives.
 */
import { createHash, randomUUID } from 'node:crypto';
import { LOCAL_REGION, type LocalNames } from './template.ts';

export interface LocalMessage {
  messageId: string;
  body: string;
  receiveCount: number;
  visibleAt: number;
  busy: boolean;
}

interface Mapping {
  functionArn: string;
  batchSize: number;
  maxConcurrency: number;
  reportFailures: boolean;
}

interface LocalQueue {
  id: string;
  arn: string;
  messages: LocalMessage[];
  inFlight: number;
  mapping?: Mapping;
  deadLetterArn?: string;
  maxReceiveCount?: number;
}

export interface LocalQueuesOptions {
  /** Visibility timeout of a returned message, locally (default 50 ms instead of minutes). */
  visibilityMs?: number;
}

export class LocalQueues {
  private readonly queues = new Map<string, LocalQueue>();
  /** Invocations of the mapped functions (for assertions): batch sizes in order. */
  readonly batches: number[] = [];
  /** The largest number of batches in flight at once, per queue logical id. */
  readonly peakConcurrency = new Map<string, number>();
  private timers = new Set<NodeJS.Timeout>();

  constructor(
    names: LocalNames,
    private readonly invoke: (functionArn: string, event: unknown) => Promise<unknown>,
    private readonly opts: LocalQueuesOptions = {},
  ) {
    for (const id of names.idsOfType('AWS::SQS::Queue')) {
      const p = (names.resolve(names.resource(id).Properties ?? {}) ?? {}) as {
        RedrivePolicy?: { deadLetterTargetArn: string; maxReceiveCount: number };
      };
      this.queues.set(names.arn(id), {
        id,
        arn: names.arn(id),
        messages: [],
        inFlight: 0,
        deadLetterArn: p.RedrivePolicy?.deadLetterTargetArn,
        maxReceiveCount: p.RedrivePolicy?.maxReceiveCount,
      });
    }
    for (const id of names.idsOfType('AWS::Lambda::EventSourceMapping')) {
      const p = names.resolve(names.resource(id).Properties) as {
        EventSourceArn: string;
        FunctionName: string;
        BatchSize?: number;
        ScalingConfig?: { MaximumConcurrency?: number };
        FunctionResponseTypes?: string[];
      };
      const q = this.queues.get(p.EventSourceArn);
      if (!q) continue;
      const fnId = names.logicalIdOf(p.FunctionName);
      q.mapping = {
        functionArn: fnId ? names.arn(fnId) : p.FunctionName,
        batchSize: p.BatchSize ?? 10,
        // Lambda's default without a maximum is the account's concurrency; locally a handful.
        maxConcurrency: p.ScalingConfig?.MaximumConcurrency ?? 5,
        reportFailures: (p.FunctionResponseTypes ?? []).includes('ReportBatchItemFailures'),
      };
    }
  }

  isQueue(arn: string): boolean {
    return this.queues.has(arn);
  }

  /** SendMessage (what EventBridge's SQS target does). */
  send(arn: string, body: string): void {
    const q = this.queues.get(arn);
    if (!q) throw new Error(`no local queue ${arn}`);
    q.messages.push({ messageId: randomUUID(), body, receiveCount: 0, visibleAt: 0, busy: false });
    this.pump(q);
  }

  /** Messages waiting in (or in flight from) the queue whose logical id contains `hint`. */
  messages(hint: string): LocalMessage[] {
    return this.byHint(hint).messages;
  }

  private byHint(hint: string): LocalQueue {
    const found = [...this.queues.values()].filter((q) => q.id.toLowerCase().includes(hint.toLowerCase()));
    if (found.length !== 1) throw new Error(`${found.length} queues match ${hint}`);
    return found[0];
  }

  /** True when no mapped queue holds a message or has a batch in flight. */
  get idle(): boolean {
    return [...this.queues.values()].every(
      (q) => !q.mapping || (q.messages.length === 0 && q.inFlight === 0),
    );
  }

  /** Resolves once `idle` (returned messages are retried until done or dead-lettered). */
  async drained(): Promise<void> {
    while (!this.idle) await new Promise((r) => setTimeout(r, 10));
  }

  stop(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const q of this.queues.values()) q.mapping = undefined;
  }

  private pump(q: LocalQueue): void {
    const m = q.mapping;
    if (!m) return;
    while (q.inFlight < m.maxConcurrency) {
      const now = Date.now();
      const batch = q.messages.filter((x) => !x.busy && x.visibleAt <= now).slice(0, m.batchSize);
      if (batch.length === 0) break;
      for (const x of batch) {
        x.busy = true;
        x.receiveCount++;
      }
      q.inFlight++;
      this.peakConcurrency.set(q.id, Math.max(this.peakConcurrency.get(q.id) ?? 0, q.inFlight));
      this.batches.push(batch.length);
      void this.deliver(q, m, batch);
    }
  }

  private async deliver(q: LocalQueue, m: Mapping, batch: LocalMessage[]): Promise<void> {
    let failed: Set<string>;
    try {
      const out = (await this.invoke(m.functionArn, { Records: batch.map((x) => this.record(q, x)) })) as {
        batchItemFailures?: Array<{ itemIdentifier: string }>;
      };
      failed = new Set(m.reportFailures ? (out?.batchItemFailures ?? []).map((f) => f.itemIdentifier) : []);
    } catch {
      failed = new Set(batch.map((x) => x.messageId));
    }
    for (const x of batch) {
      x.busy = false;
      if (!failed.has(x.messageId)) this.remove(q, x);
      else if (q.maxReceiveCount !== undefined && x.receiveCount >= q.maxReceiveCount) {
        this.remove(q, x);
        const dlq = q.deadLetterArn ? this.queues.get(q.deadLetterArn) : undefined;
        dlq?.messages.push({ ...x, receiveCount: 0, busy: false });
      } else {
        x.visibleAt = Date.now() + (this.opts.visibilityMs ?? 50);
        const t = setTimeout(() => {
          this.timers.delete(t);
          this.pump(q);
        }, this.opts.visibilityMs ?? 50);
        this.timers.add(t);
      }
    }
    q.inFlight--;
    this.pump(q);
  }

  private remove(q: LocalQueue, x: LocalMessage): void {
    const i = q.messages.indexOf(x);
    if (i >= 0) q.messages.splice(i, 1);
  }

  /** One record of an SQS event as Lambda's poller builds it. */
  private record(q: LocalQueue, x: LocalMessage) {
    return {
      messageId: x.messageId,
      receiptHandle: `${x.messageId}-${x.receiveCount}`,
      body: x.body,
      attributes: { ApproximateReceiveCount: String(x.receiveCount), SentTimestamp: String(Date.now()) },
      messageAttributes: {},
      md5OfBody: createHash('md5').update(x.body).digest('hex'),
      eventSource: 'aws:sqs',
      eventSourceARN: q.arn,
      awsRegion: LOCAL_REGION,
    };
  }
}
