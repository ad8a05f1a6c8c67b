/**
 * A test harness for in-process brokers over real gRPC on 127.0.0.1: temp
 * dirs, ephemeral ports, and a metadata image the test owns. The test plays
 * the coordinator's part by driving inputs: it hands images to the brokers
 * and applies their AlterPartition requests to its image (checking the
 * partition epoch, as the coordinator does). Nothing shipped is mocked.
 */
import { credentials, type Client, type ClientDuplexStream } from '@grpc/grpc-js';
import pino, { type Logger } from 'pino';
import { FjordError, errorFromFields, fromServiceError, grpcChannelOptions, loadFjordGrpc } from '@fjord/protocol';
import { freePorts, makeTempDir, type TempDir } from '@fjord/testkit';
import { BrokerNode, loadBrokerConfig, type IsrChannel, type MetadataImage, type PartitionImage, type TopicImage } from '../src/index.js';

export const testLogger: Logger = pino({ level: process.env['FJORD_TEST_LOG_LEVEL'] ?? 'silent' });

type Unary = (req: unknown, cb: (err: Error | null, res?: unknown) => void) => void;
export interface RawBrokerClient extends Client {
  produce: Unary;
  fetch: Unary;
  listOffsets: Unary;
  offsetForLeaderEpoch: Unary;
  metadata: Unary;
  initProducerId: Unary;
  replicaFetch(): ClientDuplexStream<unknown, unknown>;
}

export function rawClient(port: number): RawBrokerClient {
  const ctor = loadFjordGrpc().broker;
  return new ctor(`127.0.0.1:${port}`, credentials.createInsecure(), grpcChannelOptions(64 * 1024 * 1024)) as unknown as RawBrokerClient;
}

export function call<T>(client: RawBrokerClient, method: 'produce' | 'fetch' | 'listOffsets' | 'offsetForLeaderEpoch' | 'metadata' | 'initProducerId', req: unknown): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    client[method].call(client, req, (err, res) => {
      if (err !== null) reject(fromServiceError(err));
      else resolve(res as T);
    });
  });
}

export interface ProduceResult {
  errorCode: string;
  errorMessage: string;
  baseOffset: number;
}

/** One partition's produce, answered as { error, baseOffset }. */
export async function producePartition(client: RawBrokerClient, input: { topic: string; partition: number; records: Buffer; acks?: number; timeoutMs?: number }): Promise<{ error: FjordError | null; baseOffset: number }> {
  const res = await call<{ topics: { partitions: { errorCode: string; errorMessage: string; baseOffset: string }[] }[] }>(client, 'produce', {
    acks: input.acks ?? -1,
    timeoutMs: input.timeoutMs ?? 5_000,
    topics: [{ name: input.topic, partitions: [{ partition: input.partition, records: input.records }] }],
  });
  const p = res.topics[0]?.partitions[0];
  if (p === undefined) throw new Error('empty produce answer');
  return { error: errorFromFields(p), baseOffset: Number(p.baseOffset) };
}

export async function fetchPartition(
  client: RawBrokerClient,
  input: { topic: string; partition: number; fetchOffset: number; maxWaitMs?: number; minBytes?: number; currentLeaderEpoch?: number; partitionMaxBytes?: number },
): Promise<{ error: FjordError | null; highWatermark: number; records: Buffer }> {
  const res = await call<{ topics: { partitions: { errorCode: string; errorMessage: string; highWatermark: string; records: Buffer }[] }[] }>(client, 'fetch', {
    maxWaitMs: input.maxWaitMs ?? 0,
    minBytes: input.minBytes ?? 1,
    maxBytes: 16 * 1024 * 1024,
    topics: [
      {
        name: input.topic,
        partitions: [{ partition: input.partition, fetchOffset: input.fetchOffset, partitionMaxBytes: input.partitionMaxBytes ?? 1024 * 1024, currentLeaderEpoch: input.currentLeaderEpoch ?? -1 }],
      },
    ],
  });
  const p = res.topics[0]?.partitions[0];
  if (p === undefined) throw new Error('empty fetch answer');
  return { error: errorFromFields(p), highWatermark: Number(p.highWatermark), records: p.records };
}

export interface TestCluster {
  brokers: Map<number, BrokerNode>;
  ports: Map<number, number>;
  dirs: Map<number, TempDir>;
  image: MetadataImage;
  /** Every AlterPartition the brokers sent, in order. */
  alterRequests: { topic: string; partition: number; isr: readonly number[] }[];
  /** When false, AlterPartition requests are refused (the coordinator is unreachable). */
  acceptAlterPartition: boolean;
  publish(image: MetadataImage): void;
  setPartition(topic: string, partition: number, change: Partial<PartitionImage>): void;
  addTopic(topic: { name: string; partitions: number; replicas: readonly number[]; configs?: Record<string, string>; leader?: number }): void;
  partition(topic: string, partition: number): PartitionImage;
  startBroker(id: number): Promise<BrokerNode>;
  stopBroker(id: number): Promise<void>;
  close(): Promise<void>;
}

export async function startTestCluster(options: { brokerIds: readonly number[]; flags?: Record<string, unknown> }): Promise<TestCluster> {
  const portList = await freePorts(options.brokerIds.length);
  const ports = new Map(options.brokerIds.map((id, i) => [id, portList[i] as number]));
  const dirs = new Map(options.brokerIds.map((id) => [id, makeTempDir(`fjord-broker-${id}-`)]));
  const brokers = new Map<number, BrokerNode>();

  const cluster: TestCluster = {
    brokers,
    ports,
    dirs,
    image: {
      clusterId: 'test',
      version: 1,
      brokers: options.brokerIds.map((id) => ({ brokerId: id, host: '127.0.0.1', port: ports.get(id) as number, rack: '', brokerEpoch: 1, fenced: false })),
      topics: [],
    },
    alterRequests: [],
    acceptAlterPartition: true,
    publish(image) {
      cluster.image = image;
      for (const b of brokers.values()) b.applyMetadata(image);
    },
    partition(topic, partition) {
      const p = cluster.image.topics.find((t) => t.name === topic)?.partitions.find((x) => x.partition === partition);
      if (p === undefined) throw new Error(`no ${topic}-${partition} in the image`);
      return p;
    },
    setPartition(topic, partition, change) {
      const topics: TopicImage[] = cluster.image.topics.map((t) =>
        t.name !== topic ? t : { ...t, partitions: t.partitions.map((p) => (p.partition === partition ? { ...p, ...change } : p)) },
      );
      cluster.publish({ ...cluster.image, version: cluster.image.version + 1, topics });
    },
    addTopic(topic) {
      const partitions: PartitionImage[] = Array.from({ length: topic.partitions }, (_, i) => {
        const leader = topic.leader ?? (topic.replicas[i % topic.replicas.length] as number);
        return { partition: i, replicas: [...topic.replicas], leader, leaderEpoch: 1, isr: [...topic.replicas], partitionEpoch: 1 };
      });
      cluster.publish({
        ...cluster.image,
        version: cluster.image.version + 1,
        topics: [...cluster.image.topics, { name: topic.name, topicId: `id-${topic.name}`, configs: topic.configs ?? {}, partitions }],
      });
    },
    async startBroker(id) {
      const isrChannel: IsrChannel = {
        alterPartition: (req) => {
          cluster.alterRequests.push({ topic: req.topic, partition: req.partition, isr: req.isr });
          if (!cluster.acceptAlterPartition) return Promise.resolve({ ok: false, error: new FjordError('COORDINATOR_NOT_AVAILABLE', 'test: coordinator unreachable') });
          const current = cluster.partition(req.topic, req.partition);
          if (current.leaderEpoch !== req.leaderEpoch || current.partitionEpoch !== req.partitionEpoch) {
            return Promise.resolve({ ok: false, error: new FjordError('INVALID_UPDATE_VERSION', 'stale partition epoch') });
          }
          const partitionEpoch = current.partitionEpoch + 1;
          cluster.setPartition(req.topic, req.partition, { isr: [...req.isr], partitionEpoch });
          return Promise.resolve({ ok: true, isr: req.isr, partitionEpoch });
        },
      };
      const dir = dirs.get(id) as TempDir;
      const config = loadBrokerConfig({
        flags: {
          id,
          listen: `127.0.0.1:${ports.get(id) as number}`,
          dataDir: dir.path,
          unsafeNoFsync: true,
          replicaFetchWaitMaxMs: 200,
          replicaFetchBackoffMs: 20,
          isrCheckIntervalMs: 50,
          replicaLagTimeMaxMs: 1_000,
          ...options.flags,
        },
      });
      let nextProducerId = 1000 * id;
      const node = new BrokerNode({
        config,
        logger: testLogger.child({ node: `broker-${id}` }),
        isrChannel,
        controlPlane: {
          createTopics: () => Promise.reject(new FjordError('COORDINATOR_NOT_AVAILABLE', 'test cluster: use addTopic')),
          deleteTopics: () => Promise.reject(new FjordError('COORDINATOR_NOT_AVAILABLE', 'test cluster')),
          allocateProducerId: () => Promise.resolve({ producerId: nextProducerId++, producerEpoch: 0 }),
        },
      });
      await node.start();
      brokers.set(id, node);
      node.applyMetadata(cluster.image);
      return node;
    },
    async stopBroker(id) {
      const node = brokers.get(id);
      brokers.delete(id);
      await node?.close();
    },
    async close() {
      await Promise.all([...brokers.keys()].map((id) => cluster.stopBroker(id)));
      for (const d of dirs.values()) d.remove();
    },
  };
  for (const id of options.brokerIds) await cluster.startBroker(id);
  return cluster;
}
