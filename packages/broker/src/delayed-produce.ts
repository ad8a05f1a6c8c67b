/**
 * The purgatory for acks=all produces (Kafka's DelayedProduce): a produce is
 * answered once the partition's high watermark passes its last offset, or
 * fails on timeout or when this broker stops leading the partition. Leaders
 * append in offset order, so each partition's waiters form a FIFO queue and a
 * HW advance completes a prefix of it. The number of waiters is bounded
 * (STYLE.md H.2): beyond `maxWaiting`, new waits are refused at once.
 */
import { FjordError, assert } from '@fjord/protocol';

interface Waiter {
  /** The wait completes when hw >= requiredOffset (the batch's lastOffset + 1). */
  requiredOffset: number;
  resolve: () => void;
  reject: (err: FjordError) => void;
  timer: NodeJS.Timeout;
  done: boolean;
}

export interface DelayedProduceOptions {
  maxWaiting: number;
}

export class DelayedProduce {
  private readonly queues = new Map<string, Waiter[]>();
  private waiting = 0;
  private closed = false;

  constructor(private readonly options: DelayedProduceOptions) {
    assert(Number.isSafeInteger(options.maxWaiting) && options.maxWaiting > 0, 'maxWaiting must be a positive integer');
  }

  get size(): number {
    return this.waiting;
  }

  /** Resolves once `partitionKey`'s HW reaches `requiredOffset`. */
  wait(partitionKey: string, requiredOffset: number, timeoutMs: number): Promise<void> {
    if (this.closed) return Promise.reject(new FjordError('NOT_LEADER_OR_FOLLOWER', 'the broker is shutting down'));
    if (this.waiting >= this.options.maxWaiting) {
      return Promise.reject(new FjordError('REQUEST_TIMED_OUT', `too many produces waiting for replication (${this.waiting})`, { maxWaiting: this.options.maxWaiting }));
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        requiredOffset,
        resolve,
        reject,
        done: false,
        timer: setTimeout(() => {
          this.finish(partitionKey, waiter, new FjordError('REQUEST_TIMED_OUT', `replication did not reach offset ${requiredOffset} within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      const queue = this.queues.get(partitionKey) ?? [];
      const last = queue[queue.length - 1];
      assert(last === undefined || last.requiredOffset <= requiredOffset, 'produce waiters must arrive in offset order');
      queue.push(waiter);
      this.queues.set(partitionKey, queue);
      this.waiting++;
    });
  }

  /** The partition's HW advanced: complete every waiter it satisfies. */
  onHighWatermark(partitionKey: string, hw: number): void {
    const queue = this.queues.get(partitionKey);
    if (queue === undefined) return;
    while (queue.length > 0 && (queue[0] as Waiter).requiredOffset <= hw) {
      this.finish(partitionKey, queue[0] as Waiter, null);
    }
  }

  /** Fail every waiter of a partition (leadership lost, partition deleted). */
  failPartition(partitionKey: string, error: FjordError): void {
    const queue = this.queues.get(partitionKey);
    if (queue === undefined) return;
    for (const w of [...queue]) this.finish(partitionKey, w, error);
  }

  close(): void {
    this.closed = true;
    for (const key of [...this.queues.keys()]) this.failPartition(key, new FjordError('NOT_LEADER_OR_FOLLOWER', 'the broker is shutting down'));
  }

  private finish(partitionKey: string, waiter: Waiter, error: FjordError | null): void {
    if (waiter.done) return;
    waiter.done = true;
    clearTimeout(waiter.timer);
    const queue = this.queues.get(partitionKey);
    if (queue !== undefined) {
      const i = queue.indexOf(waiter);
      if (i >= 0) queue.splice(i, 1);
      if (queue.length === 0) this.queues.delete(partitionKey);
    }
    this.waiting--;
    if (error === null) waiter.resolve();
    else waiter.reject(error);
  }
}
