/**
 * `fjord produce <topic>`: writes records from --value flags, or one record
 * per line of stdin (empty lines skipped; with --key-separator a line
 * "key<sep>value" is split at the first separator, like kcat -K; a line
 * without it is a value with no key). Records keep their input order: stdin
 * is sent in chunks of whatever lines are waiting (up to MAX_CHUNK_RECORDS),
 * one chunk acknowledged before the next is sent, and the reader pauses while
 * QUEUE_HIGH_RECORDS lines wait (a bound on memory).
 * Prints, once all records are acknowledged, one line on stdout with what was
 * written per partition (offsets first..last); with acks=0 no offsets are
 * known. A typed error (unknown topic, no such partition...) stops it with
 * exit code 1 and one line on stderr; records acknowledged before it stay.
 */
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { Producer, ProducerMessage, RecordMetadata } from '@fjord/client';
import { UsageError, type FjordCommand } from '../command.js';
import { intArg, stringArg, stringsArg, withClient, withDataOptions } from '../data-client.js';

const MAX_CHUNK_RECORDS = 1_000;
const QUEUE_HIGH_RECORDS = 10_000;

/** Per-partition first/last offset and count, in the order partitions were first written. */
export class WrittenSummary {
  private readonly byPartition = new Map<number, { first: number; last: number; count: number }>();
  total = 0;

  add(results: readonly RecordMetadata[]): void {
    for (const r of results) {
      this.total++;
      const s = this.byPartition.get(r.partition);
      if (s === undefined) this.byPartition.set(r.partition, { first: r.offset, last: r.offset, count: 1 });
      else {
        s.first = Math.min(s.first, r.offset);
        s.last = Math.max(s.last, r.offset);
        s.count++;
      }
    }
  }

  format(topic: string, acks: string): string {
    if (this.total === 0) return `produced 0 records to ${topic}\n`;
    const parts = [...this.byPartition].map(([p, s]) => (acks === '0' ? `partition ${p} (${s.count})` : `partition ${p} offsets ${s.first}..${s.last} (${s.count})`));
    const note = acks === '0' ? ' (acks=0: offsets are not reported)' : '';
    return `produced ${this.total} record${this.total === 1 ? '' : 's'} to ${topic}: ${parts.join(', ')}${note}\n`;
  }
}

export function lineToMessage(line: string, options: { key: string | undefined; keySeparator: string | undefined; partition: number | undefined }): ProducerMessage {
  let key = options.key;
  let value = line;
  if (options.keySeparator !== undefined) {
    const at = line.indexOf(options.keySeparator);
    if (at >= 0) {
      key = line.slice(0, at);
      value = line.slice(at + options.keySeparator.length);
    }
  }
  return {
    key: key === undefined ? null : Buffer.from(key, 'utf8'),
    value: Buffer.from(value, 'utf8'),
    ...(options.partition !== undefined ? { partition: options.partition } : {}),
  };
}

/** Sends stdin line by line in order; see the file comment for the chunking and the bound. */
async function produceLines(input: Readable, send: (messages: ProducerMessage[]) => Promise<void>, toMessage: (line: string) => ProducerMessage): Promise<void> {
  const rl = createInterface({ input, crlfDelay: Infinity, terminal: false });
  const queue: ProducerMessage[] = [];
  let ended = false;
  let wake: (() => void) | null = null;
  const notify = (): void => {
    const w = wake;
    wake = null;
    w?.();
  };
  rl.on('line', (line) => {
    if (line === '') return;
    queue.push(toMessage(line));
    if (queue.length >= QUEUE_HIGH_RECORDS) rl.pause();
    notify();
  });
  rl.on('close', () => {
    ended = true;
    notify();
  });
  try {
    for (;;) {
      if (queue.length === 0) {
        if (ended) return;
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
      const chunk = queue.splice(0, MAX_CHUNK_RECORDS);
      if (!ended) rl.resume();
      await send(chunk);
    }
  } finally {
    rl.close();
    // Stopped early by an error: an open stdin would keep the process alive.
    if (!ended) input.destroy();
  }
}

export const produceCommand: FjordCommand = {
  command: 'produce <topic>',
  describe: 'Write records: --value flags, or one record per line of stdin',
  builder: (y) =>
    withDataOptions(y)
      .positional('topic', { type: 'string' })
      .option('value', { type: 'string', array: true, describe: 'A record value, repeatable; when given, stdin is not read' })
      .option('key', { type: 'string', describe: 'Key of every record (records with one key go to one partition)' })
      .option('key-separator', { type: 'string', describe: 'Split each stdin line at the first separator into key and value (like kcat -K)' })
      .option('partition', { type: 'number', describe: 'Write to this partition (default: by key hash, or round robin without a key)' })
      .option('acks', { type: 'string', choices: ['all', '1', '0'], default: 'all', describe: 'all: every in-sync replica has it (idempotent); 1: the leader has it; 0: do not wait' }),
  run: async (args, io) => {
    const topic = String(args['topic']);
    const values = stringsArg(args, 'value');
    const key = stringArg(args, 'key');
    const keySeparator = stringArg(args, 'key-separator');
    if (keySeparator === '') throw new UsageError('--key-separator must not be empty');
    if (keySeparator !== undefined && values.length > 0) throw new UsageError('--key-separator splits stdin lines; with --value use --key');
    const partition = intArg(args, 'partition', 0);
    const acks = String(args['acks']);
    return withClient(args, async (client) => {
      // Fail on an unknown topic before reading any input.
      await client.metadata.partitionsOf(topic);
      const producer: Producer = client.producer(acks === 'all' ? { acks: -1 } : { acks: acks === '1' ? 1 : 0, idempotent: false });
      const summary = new WrittenSummary();
      const send = async (messages: ProducerMessage[]): Promise<void> => summary.add(await producer.send({ topic, messages }));
      const options = { key, keySeparator, partition };
      if (values.length > 0) {
        await send(values.map((v) => lineToMessage(v, { ...options, keySeparator: undefined })));
      } else {
        const input = io.in ?? process.stdin;
        if (input === process.stdin && process.stdin.isTTY) io.err('type one record per line; Ctrl-D sends the last and exits\n');
        await produceLines(input, send, (line) => lineToMessage(line, options));
      }
      await producer.close();
      io.out(summary.format(topic, acks));
      return 0;
    });
  },
};
