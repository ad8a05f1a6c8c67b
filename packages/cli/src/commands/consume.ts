/**
 * `fjord consume <topic>`: prints records, one per line, from every partition
 * (or --partition), starting at the latest offset (only new records), the
 * earliest (--from-beginning) or --offset N. Stops after --max-messages, after
 * --timeout-ms without a record, or on Ctrl-C (SIGINT/SIGTERM), then prints
 * `consumed N records` on stderr (stdout holds only records). Output is
 * --format (%k key, %v value, %o offset, %p partition, %t timestamp ms,
 * %T topic, %% a percent; \n and \t escapes; default "%v") or --json.
 * Consumer groups need broker support that does not exist yet, so --group is
 * refused with a typed error rather than silently ignored.
 */
import type { ConsumedMessage } from '@fjord/client';
import { FjordError, validateGroupId } from '@fjord/protocol';
import { UsageError, type FjordCommand } from '../command.js';
import { intArg, stringArg, withClient, withDataOptions } from '../data-client.js';

/** Most time a fetch waits for data: also how long stopping (Ctrl-C, idle timeout) can take. */
const MAX_WAIT_MS = 500;

function text(b: Buffer | null): string {
  return b === null ? '' : b.toString('utf8');
}

/** Compiles a --format string into a function from a record to its line (without the newline). */
export function compileFormat(format: string): (m: ConsumedMessage) => string {
  const parts: ((m: ConsumedMessage) => string)[] = [];
  let literal = '';
  const flush = (): void => {
    if (literal === '') return;
    const s = literal;
    parts.push(() => s);
    literal = '';
  };
  for (let i = 0; i < format.length; i++) {
    const c = format[i] as string;
    const next = format[i + 1];
    if (c === '\\' && next !== undefined) {
      literal += next === 'n' ? '\n' : next === 't' ? '\t' : next === '\\' ? '\\' : `\\${next}`;
      i++;
    } else if (c === '%' && next !== undefined) {
      const field: ((m: ConsumedMessage) => string) | null =
        next === 'k' ? (m) => text(m.key)
        : next === 'v' ? (m) => text(m.value)
        : next === 'o' ? (m) => String(m.offset)
        : next === 'p' ? (m) => String(m.partition)
        : next === 't' ? (m) => String(m.timestamp)
        : next === 'T' ? (m) => m.topic
        : null;
      if (next === '%') literal += '%';
      else if (field === null) throw new UsageError(`--format: unknown field %${next} (known: %k %v %o %p %t %T %%)`);
      else {
        flush();
        parts.push(field);
      }
      i++;
    } else {
      literal += c;
    }
  }
  flush();
  return (m) => parts.map((f) => f(m)).join('');
}

export function jsonLine(m: ConsumedMessage): string {
  return JSON.stringify({ topic: m.topic, partition: m.partition, offset: m.offset, timestamp: m.timestamp, key: m.key === null ? null : text(m.key), value: m.value === null ? null : text(m.value) });
}

export const consumeCommand: FjordCommand = {
  command: 'consume <topic>',
  describe: 'Print records, one per line',
  builder: (y) =>
    withDataOptions(y)
      .positional('topic', { type: 'string' })
      .option('from-beginning', { type: 'boolean', describe: 'Start at the earliest offset (default: only records written from now on)' })
      .option('offset', { type: 'number', describe: 'Start at this offset (in every partition read)' })
      .conflicts('from-beginning', 'offset')
      .option('partition', { type: 'number', describe: 'Read only this partition (default: all)' })
      .option('max-messages', { type: 'number', describe: 'Exit after this many records' })
      .option('timeout-ms', { type: 'number', describe: 'Exit after this long without a record' })
      .option('group', { type: 'string', describe: 'Consumer group (not available yet: refused)' })
      .option('format', { type: 'string', describe: 'Line format: %k key, %v value, %o offset, %p partition, %t timestamp, %T topic (default "%v")' })
      .option('json', { type: 'boolean', describe: 'One JSON object per record (topic, partition, offset, timestamp, key, value)' })
      .conflicts('json', 'format'),
  run: async (args, io) => {
    const topic = String(args['topic']);
    const offset = intArg(args, 'offset', 0);
    const onlyPartition = intArg(args, 'partition', 0);
    const maxMessages = intArg(args, 'max-messages', 1);
    const timeoutMs = intArg(args, 'timeout-ms', 1);
    const group = stringArg(args, 'group');
    const line = args['json'] === true ? jsonLine : compileFormat(stringArg(args, 'format') ?? '%v');
    if (group !== undefined) {
      validateGroupId(group);
      throw new FjordError('INVALID_REQUEST', `consumer groups are not available yet (the brokers have no group coordinator); read with --partition and --offset or --from-beginning instead of --group ${group}`);
    }
    const start: number | 'earliest' | 'latest' = offset ?? (args['from-beginning'] === true ? 'earliest' : 'latest');
    return withClient(args, async (client) => {
      // Resolve the topic first: the consumer's own loop retries an unknown topic forever.
      const info = await client.metadata.partitionsOf(topic);
      const partitions = onlyPartition === undefined ? info.partitions.map((p) => p.partition) : [onlyPartition];
      if (onlyPartition !== undefined && info.partitions[onlyPartition] === undefined) {
        throw new FjordError('UNKNOWN_TOPIC_OR_PARTITION', `${topic} has no partition ${onlyPartition} (it has ${info.partitions.length})`, { topic, partition: onlyPartition });
      }
      if (typeof start === 'number') {
        // An explicit offset outside the log is an error, not a silent jump to one end.
        const admin = client.admin();
        for (const p of partitions) {
          const [earliest, latest] = await Promise.all([admin.listOffset(topic, p, 'earliest'), admin.listOffset(topic, p, 'latest')]);
          if (start < earliest || start > latest) {
            throw new FjordError('OFFSET_OUT_OF_RANGE', `offset ${start} is outside ${topic}-${p}'s ${earliest}..${latest}`, { topic, partition: p, earliest, latest });
          }
        }
      }
      const consumer = client.consumer({ maxWaitMs: timeoutMs === undefined ? MAX_WAIT_MS : Math.min(MAX_WAIT_MS, timeoutMs) });
      consumer.assign(partitions.map((partition) => ({ topic, partition, offset: start })));
      let count = 0;
      let lastRecordMs = Date.now();
      const stop = (): void => consumer.stop();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      const idle =
        timeoutMs === undefined
          ? null
          : setInterval(
              () => {
                if (Date.now() - lastRecordMs >= timeoutMs) consumer.stop();
              },
              Math.min(100, timeoutMs),
            );
      try {
        outer: for await (const batch of consumer.batches()) {
          for (const m of batch.messages) {
            io.out(`${line(m)}\n`);
            count++;
            lastRecordMs = Date.now();
            if (maxMessages !== undefined && count >= maxMessages) break outer;
          }
        }
      } finally {
        consumer.stop();
        if (idle !== null) clearInterval(idle);
        process.removeListener('SIGINT', stop);
        process.removeListener('SIGTERM', stop);
      }
      io.err(`consumed ${count} record${count === 1 ? '' : 's'}\n`);
      return 0;
    });
  },
};
