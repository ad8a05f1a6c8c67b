/**
 * `fjord topic create|list|describe|delete`: topic administration through
 * any broker (it forwards creation and deletion to the coordinator).
 * `create` returns once the broker's metadata shows every partition with a
 * leader, so a `fjord produce` started right after it finds the topic.
 */
import type { Admin, PartitionDescription, TopicDescription } from '@fjord/client';
import { FjordError, isFjordError } from '@fjord/protocol';
import { UsageError, type CommandIo, type FjordCommand } from '../command.js';
import { intArg, stringsArg, withClient, withDataOptions } from '../data-client.js';

/** ["k=v", ...] -> { k: v }; the server validates keys and values (INVALID_CONFIG). */
export function parseConfigPairs(pairs: readonly string[]): Record<string, string> {
  const configs: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--config takes key=value, not "${pair}"`);
    configs[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return configs;
}

/** Polls until every partition of `name` has a leader in the broker's metadata, or the deadline passes (REQUEST_TIMED_OUT). */
async function waitUntilLed(admin: Admin, name: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'the topic is not in the metadata yet';
  for (;;) {
    try {
      const info = await admin.topic(name);
      const leaderless = info.partitions.filter((p) => p.leaderId < 0).map((p) => p.partition);
      if (info.partitions.length > 0 && leaderless.length === 0) return;
      last = `partitions without a leader: ${leaderless.join(', ')}`;
    } catch (e) {
      if (!isFjordError(e) || !e.retriable) throw e;
      last = e.message;
    }
    if (Date.now() >= deadline) throw new FjordError('REQUEST_TIMED_OUT', `topic ${name} was created but is not ready after ${timeoutMs} ms (${last})`);
    await new Promise<void>((resolve) => setTimeout(resolve, 50));
  }
}

function ids(list: readonly number[]): string {
  return list.length === 0 ? '-' : list.join(',');
}

function offsetsText(p: PartitionDescription): string {
  if (p.offsetsError !== null) return `Offsets: unavailable (${p.offsetsError.code})`;
  return `Offsets: ${String(p.earliestOffset)}..${String(p.latestOffset)}`;
}

/** kafka-topics --describe's layout: a topic line, then one line per partition. */
export function formatDescription(d: TopicDescription): string {
  const rf = d.partitions[0]?.replicas.length ?? 0;
  const lines = [`Topic: ${d.name}\tTopicId: ${d.topicId}\tPartitions: ${d.partitions.length}\tReplicationFactor: ${rf}`];
  for (const p of d.partitions) {
    lines.push(
      `\tPartition: ${p.partition}\tLeader: ${p.leaderId < 0 ? 'none' : p.leaderId}\tLeaderEpoch: ${p.leaderEpoch}\tReplicas: ${ids(p.replicas)}\tIsr: ${ids(p.isr)}\t${offsetsText(p)}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

function describeJson(d: TopicDescription): unknown {
  return {
    name: d.name,
    topicId: d.topicId,
    partitions: d.partitions.map((p) => ({
      partition: p.partition,
      leader: p.leaderId,
      leaderEpoch: p.leaderEpoch,
      replicas: p.replicas,
      isr: p.isr,
      earliestOffset: p.earliestOffset,
      latestOffset: p.latestOffset,
      ...(p.offsetsError !== null ? { offsetsError: p.offsetsError.code } : {}),
    })),
  };
}

const createCommand: FjordCommand = {
  command: 'create <name>',
  describe: 'Create a topic',
  builder: (y) =>
    y
      .positional('name', { type: 'string', describe: 'Topic name: ASCII letters, digits, ".", "_", "-"' })
      .option('partitions', { type: 'number', describe: 'Number of partitions (the cluster default when omitted)' })
      .option('replication-factor', { type: 'number', describe: 'Copies of each partition (the cluster default when omitted)' })
      .option('config', { type: 'string', array: true, describe: 'Topic config key=value, repeatable (retention.ms=60000 cleanup.policy=compact ...)' }),
  run: async (args, io) => {
    const name = String(args['name']);
    const numPartitions = intArg(args, 'partitions', 1);
    const replicationFactor = intArg(args, 'replication-factor', 1);
    const configs = parseConfigPairs(stringsArg(args, 'config'));
    return withClient(args, async (client) => {
      const admin = client.admin();
      await admin.createTopic({
        name,
        ...(numPartitions !== undefined ? { numPartitions } : {}),
        ...(replicationFactor !== undefined ? { replicationFactor } : {}),
        configs,
      });
      await waitUntilLed(admin, name, intArg(args, 'request-timeout-ms', 1) ?? 10_000);
      const info = await admin.topic(name);
      io.out(`created topic ${name} (partitions: ${info.partitions.length}, replication factor: ${info.partitions[0]?.replicas.length ?? 0})\n`);
      return 0;
    });
  },
};

const listCommand: FjordCommand = {
  command: 'list',
  describe: 'List topics, one name per line',
  builder: (y) => y.option('json', { type: 'boolean', describe: 'One JSON object per topic (name, topicId, partitions)' }),
  run: async (args, io) =>
    withClient(args, async (client) => {
      const topics = await client.admin().listTopics();
      for (const t of topics) io.out(args['json'] === true ? `${JSON.stringify({ name: t.name, topicId: t.topicId, partitions: t.partitions.length })}\n` : `${t.name}\n`);
      return 0;
    }),
};

const describeCommand: FjordCommand = {
  command: 'describe <name>',
  describe: "Show a topic's partitions: leader, leader epoch, replicas, ISR and offsets",
  builder: (y) => y.positional('name', { type: 'string' }).option('json', { type: 'boolean', describe: 'One JSON object' }),
  run: async (args, io) =>
    withClient(args, async (client) => {
      const d = await client.admin().describeTopic(String(args['name']));
      io.out(args['json'] === true ? `${JSON.stringify(describeJson(d))}\n` : formatDescription(d));
      return 0;
    }),
};

const deleteCommand: FjordCommand = {
  command: 'delete <name>',
  describe: 'Delete a topic and its data',
  builder: (y) => y.positional('name', { type: 'string' }),
  run: async (args, io) =>
    withClient(args, async (client) => {
      const name = String(args['name']);
      const [r] = await client.admin().deleteTopics([name]);
      if (r?.error !== null && r?.error !== undefined) throw r.error;
      io.out(`deleted topic ${name}\n`);
      return 0;
    }),
};

export const topicCommand: FjordCommand = {
  command: 'topic',
  describe: 'Create, list, describe and delete topics',
  builder: withDataOptions,
  run: async (_args: Readonly<Record<string, unknown>>, _io: CommandIo) => {
    throw new UsageError('name a topic command (fjord topic --help)');
  },
  subcommands: [createCommand, listCommand, describeCommand, deleteCommand],
};
