/**
 * The Broker gRPC service (proto/fjord/v1/broker.proto): wire messages in,
 * replica-manager calls, wire messages out. Per-partition failures travel as
 * error_code/error_message; whole-request failures (bad acks, a malformed
 * stream) as a gRPC status with the catalog code in `fjord-error-code`. No
 * input can throw out of a handler: an operating error becomes a typed answer
 * and the broker stays up; only a broken invariant (AssertionError) escapes.
 */
import type { Logger } from 'pino';
import type { ServerDuplexStream, ServerUnaryCall, sendUnaryData, UntypedServiceImplementation } from '@grpc/grpc-js';
import { FjordError, errorFields, failServerStream, isFjordError, toServiceError, wireToSafeInteger } from '@fjord/protocol';
import type { MetadataImage } from './metadata-image.js';
import type { FetchPartitionInput, FetchPartitionOutput, ReplicaManager } from './replica-manager.js';

/** CreateTopics / DeleteTopics / producer ids: the coordinator's business, reached through this interface. */
export interface ControlPlane {
  createTopics(request: unknown): Promise<unknown>;
  deleteTopics(request: unknown): Promise<unknown>;
  allocateProducerId(): Promise<{ producerId: number; producerEpoch: number }>;
}

interface WireTopicPartitions<P> {
  name: string;
  partitions: P[];
}

export interface BrokerServiceOptions {
  replicaManager: ReplicaManager;
  controlPlane: ControlPlane | null;
  logger: Logger;
  /** Requests a ReplicaFetch stream may have queued (the follower sends one at a time). */
  maxReplicaFetchInflight: number;
}

function fjordOrThrow(e: unknown): FjordError {
  if (isFjordError(e)) return e;
  throw e;
}

function asInt(value: unknown, field: string): number {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  return wireToSafeInteger(value, field);
}

function fetchResultsByTopic(outputs: readonly FetchPartitionOutput[]): { name: string; partitions: unknown[] }[] {
  const topics = new Map<string, unknown[]>();
  for (const o of outputs) {
    let list = topics.get(o.topic);
    if (list === undefined) {
      list = [];
      topics.set(o.topic, list);
    }
    list.push({ partition: o.partition, ...errorFields(o.error), highWatermark: o.highWatermark, logStartOffset: o.logStartOffset, records: o.records });
  }
  return [...topics].map(([name, partitions]) => ({ name, partitions }));
}

export function metadataResponse(image: MetadataImage, topics: readonly string[]): unknown {
  const wanted = topics.length === 0 ? null : new Set(topics);
  const byName = new Map(image.topics.map((t) => [t.name, t]));
  const names = wanted === null ? [...byName.keys()] : [...wanted];
  return {
    clusterId: image.clusterId,
    metadataVersion: image.version,
    brokers: image.brokers.filter((b) => !b.fenced).map((b) => ({ brokerId: b.brokerId, host: b.host, port: b.port, rack: b.rack })),
    topics: names.map((name) => {
      const t = byName.get(name);
      if (t === undefined) {
        return { name, topicId: '', ...errorFields(new FjordError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`)), partitions: [] };
      }
      return {
        name,
        topicId: t.topicId,
        errorCode: '',
        errorMessage: '',
        partitions: t.partitions.map((p) => ({
          partition: p.partition,
          errorCode: p.leader < 0 ? 'LEADER_NOT_AVAILABLE' : '',
          errorMessage: p.leader < 0 ? 'the partition has no leader' : '',
          leaderId: p.leader,
          leaderEpoch: p.leaderEpoch,
          replicas: [...p.replicas],
          isr: [...p.isr],
        })),
      };
    }),
  };
}

export function createBrokerService(options: BrokerServiceOptions): UntypedServiceImplementation {
  const rm = options.replicaManager;
  const logger = options.logger.child({ component: 'broker-service' });

  const unary = <Req, Res>(name: string, handler: (req: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res> | Res) => {
    return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
      let promise: Promise<Res>;
      try {
        promise = Promise.resolve(handler(call.request, call));
      } catch (e) {
        promise = Promise.reject(e as Error);
      }
      promise.then(
        (res) => callback(null, res),
        (e: unknown) => {
          const err = fjordOrThrowLogged(e, name);
          logger.debug({ rpc: name, err }, 'request refused');
          callback(toServiceError(err));
        },
      );
    };
  };

  const fjordOrThrowLogged = (e: unknown, rpc: string): FjordError => {
    if (isFjordError(e)) return e;
    // A broken invariant: log loudly and take the node down (STYLE.md D).
    logger.fatal({ rpc, err: e }, 'invariant broken while serving a request');
    process.exitCode = 70;
    setImmediate(() => {
      throw e;
    });
    return new FjordError('UNKNOWN_SERVER_ERROR', 'internal error');
  };

  const fetchPartitions = (topics: WireTopicPartitions<{ partition: number; fetchOffset: unknown; partitionMaxBytes: number; currentLeaderEpoch: number }>[]): FetchPartitionInput[] => {
    const out: FetchPartitionInput[] = [];
    for (const t of topics) {
      for (const p of t.partitions) {
        out.push({ topic: t.name, partition: p.partition, fetchOffset: asInt(p.fetchOffset, 'fetchOffset'), partitionMaxBytes: p.partitionMaxBytes, currentLeaderEpoch: p.currentLeaderEpoch });
      }
    }
    return out;
  };

  return {
    Produce: unary('Produce', async (req: { acks: number; timeoutMs: number; topics: WireTopicPartitions<{ partition: number; records: Buffer }>[] }) => {
      if (req.acks !== 0 && req.acks !== 1 && req.acks !== -1) throw new FjordError('INVALID_REQUIRED_ACKS', `acks must be 0, 1 or -1, got ${req.acks}`);
      const partitions = req.topics.flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.partition, records: p.records })));
      const outputs = await rm.produce({ acks: req.acks, timeoutMs: req.timeoutMs, partitions });
      const topics = new Map<string, unknown[]>();
      for (const o of outputs) {
        const list = topics.get(o.topic) ?? [];
        topics.set(o.topic, list);
        list.push({ partition: o.partition, ...errorFields(o.error), baseOffset: o.baseOffset, logAppendTimeMs: o.logAppendTimeMs, logStartOffset: o.logStartOffset });
      }
      return { topics: [...topics].map(([name, partitions]) => ({ name, partitions })) };
    }),

    Fetch: unary('Fetch', async (req: { maxWaitMs: number; minBytes: number; maxBytes: number; topics: WireTopicPartitions<{ partition: number; fetchOffset: unknown; partitionMaxBytes: number; currentLeaderEpoch: number }>[] }, call) => {
      const abort = new AbortController();
      call.on('cancelled', () => abort.abort());
      const outputs = await rm.fetch({ maxWaitMs: req.maxWaitMs, minBytes: req.minBytes, maxBytes: req.maxBytes, partitions: fetchPartitions(req.topics), signal: abort.signal });
      return { topics: fetchResultsByTopic(outputs) };
    }),

    ReplicaFetch: (call: ServerDuplexStream<unknown, unknown>): void => {
      const abort = new AbortController();
      let queued = 0;
      let chain: Promise<void> = Promise.resolve();
      const end = (): void => abort.abort();
      call.on('cancelled', end);
      call.on('error', end);
      call.on('end', () => {
        end();
        call.end();
      });
      call.on('data', (raw: unknown) => {
        if (abort.signal.aborted) return;
        if (queued >= options.maxReplicaFetchInflight) {
          abort.abort();
          failServerStream(call, new FjordError('INVALID_REQUEST', `more than ${options.maxReplicaFetchInflight} replica fetches in flight on one stream`));
          return;
        }
        queued++;
        chain = chain.then(async () => {
          try {
            if (abort.signal.aborted) return;
            const req = raw as {
              replicaId: number;
              brokerEpoch: unknown;
              maxWaitMs: number;
              minBytes: number;
              maxBytes: number;
              correlationId: unknown;
              partitions: { topic: string; partition: number; fetchOffset: unknown; currentLeaderEpoch: number; partitionMaxBytes: number }[];
            };
            let correlationId: number;
            let outputs: FetchPartitionOutput[];
            try {
              correlationId = asInt(req.correlationId, 'correlationId');
              outputs = await rm.replicaFetch({
                replicaId: req.replicaId,
                brokerEpoch: asInt(req.brokerEpoch, 'brokerEpoch'),
                maxWaitMs: req.maxWaitMs,
                minBytes: req.minBytes,
                maxBytes: req.maxBytes,
                partitions: req.partitions.map((p) => ({
                  topic: p.topic,
                  partition: p.partition,
                  fetchOffset: asInt(p.fetchOffset, 'fetchOffset'),
                  currentLeaderEpoch: p.currentLeaderEpoch,
                  partitionMaxBytes: p.partitionMaxBytes,
                })),
                signal: abort.signal,
              });
            } catch (e) {
              const err = fjordOrThrowLogged(e, 'ReplicaFetch');
              abort.abort();
              failServerStream(call, err);
              return;
            }
            if (abort.signal.aborted) return;
            call.write({
              correlationId,
              partitions: outputs.map((o) => ({
                topic: o.topic,
                partition: o.partition,
                ...errorFields(o.error),
                highWatermark: o.highWatermark,
                logStartOffset: o.logStartOffset,
                records: o.records,
              })),
            });
          } finally {
            queued--;
          }
        });
      });
    },

    ListOffsets: unary('ListOffsets', (req: { topics: WireTopicPartitions<{ partition: number; timestamp: unknown; currentLeaderEpoch: number }>[] }) => {
      const parts = req.topics.flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.partition, timestamp: asInt(p.timestamp, 'timestamp'), currentLeaderEpoch: p.currentLeaderEpoch })));
      const outputs = rm.listOffsets(parts);
      const topics = new Map<string, unknown[]>();
      for (const o of outputs) {
        const list = topics.get(o.topic) ?? [];
        topics.set(o.topic, list);
        list.push({ partition: o.partition, ...errorFields(o.error), offset: o.offset, timestamp: o.timestamp, leaderEpoch: o.leaderEpoch });
      }
      return { topics: [...topics].map(([name, partitions]) => ({ name, partitions })) };
    }),

    OffsetForLeaderEpoch: unary('OffsetForLeaderEpoch', (req: { replicaId: number; partitions: { topic: string; partition: number; currentLeaderEpoch: number; leaderEpoch: number }[] }) => {
      const outputs = rm.offsetForLeaderEpoch(req.partitions);
      return { partitions: outputs.map((o) => ({ topic: o.topic, partition: o.partition, ...errorFields(o.error), leaderEpoch: o.leaderEpoch, endOffset: o.endOffset })) };
    }),

    Metadata: unary('Metadata', (req: { topics: string[] }) => metadataResponse(rm.metadata, req.topics)),

    CreateTopics: unary('CreateTopics', (req: unknown) => {
      if (options.controlPlane === null) throw new FjordError('COORDINATOR_NOT_AVAILABLE', 'this broker has no coordinator session');
      return options.controlPlane.createTopics(req);
    }),

    DeleteTopics: unary('DeleteTopics', (req: unknown) => {
      if (options.controlPlane === null) throw new FjordError('COORDINATOR_NOT_AVAILABLE', 'this broker has no coordinator session');
      return options.controlPlane.deleteTopics(req);
    }),

    InitProducerId: unary('InitProducerId', async () => {
      if (options.controlPlane === null) throw new FjordError('COORDINATOR_NOT_AVAILABLE', 'this broker has no coordinator session');
      try {
        const id = await options.controlPlane.allocateProducerId();
        return { errorCode: '', errorMessage: '', producerId: id.producerId, producerEpoch: id.producerEpoch };
      } catch (e) {
        return { ...errorFields(fjordOrThrow(e)), producerId: -1, producerEpoch: -1 };
      }
    }),
  };
}
