/**
 * The Coordinator gRPC service (proto/fjord/v1/coordinator.proto) over a
 * RaftNode, and the controller shell.
 *
 * - Writes are planned and proposed on the Raft leader. A follower forwards
 *   the request unchanged to the leader it knows (one hop: a forwarded request
 *   that lands on a non-leader is answered RAFT_NOT_LEADER with the hint).
 * - Reads are linearizable through ReadIndex on the leader (followers forward
 *   them) unless the request opts into `allow_stale`, which serves this
 *   node's applied state.
 * - Parsing, planning and the wire mapping are pure (wire-requests.ts,
 *   controller/, wire.ts); this file only sequences them with I/O.
 * - The controller runs on the leader only: a timer calls `controllerTick`
 *   every controllerIntervalMs once the new leader has applied its own first
 *   entry (so it decides on a complete view), and proposes a decision's
 *   commands in one Raft batch; heartbeats go through `onHeartbeat`.
 * Bad input gets a typed error and changes nothing: whole-request failures are
 * a gRPC status with the catalog code in trailing metadata (toServiceError),
 * per-item failures are error fields.
 */
import { randomInt } from 'node:crypto';
import {
  AssertionError,
  COORDINATOR_PIPELINE_KINDS,
  FjordError,
  Rng,
  errorFields,
  fromServiceError,
  isFjordError,
  loadFjordGrpc,
  parseAddress,
  failServerStream,
  toServiceError,
  type CoordinatorPipelineKind,
} from '@fjord/protocol';
import { Metadata, credentials, type Client, type ServerDuplexStream, type ServerUnaryCall, type ServerWritableStream, type ServiceError, type UntypedServiceImplementation, type sendUnaryData } from '@grpc/grpc-js';
import type { NodeId, RaftRole } from '@fjord/raft';
import type { Logger } from 'pino';
import { encodeCommand } from './command-codec.js';
import type { CoordinatorConfig } from './config.js';
import type { MetadataCommand } from './metadata-command.js';
import type { EntryOutcome } from './metadata-machine.js';
import { topicById, type ApplyResult } from './metadata-state.js';
import { toFjordError, type CommandError } from './result.js';
import { deltaToWire, imageToWire, partitionToWire } from './wire.js';
import {
  allocateProducerIdsFromWire,
  alterPartitionFromWire,
  createPartitionsFromWire,
  createTopicsFromWire,
  deleteTopicsFromWire,
  electLeadersFromWire,
  getMetadataFromWire,
  heartbeatFromWire,
  registerBrokerFromWire,
  watchMetadataFromWire,
} from './wire-requests.js';
import { planCreatePartitionsBatch, planCreateTopics, planDeleteTopic } from './controller/topic-admin.js';
import { planElections } from './controller/elections.js';
import { newTopicId } from './controller/topic-id.js';
import { controllerTick, initialControllerState, onHeartbeat, onSessionLost, type ControllerOptions, type ControllerState } from './controller/controller-tick.js';
import { registrationConflict } from './controller/sessions.js';
import { encodeAddressEntry, type RaftNode } from './raft-node.js';
import { peerChannelOptions } from './grpc-raft-transport.js';
import { DEFAULT_PIPELINE_MAX_IN_FLIGHT, servePipeline, type PipelineHandler, type PipelineStream } from './request-pipeline.js';

const FORWARDED_KEY = 'fjord-forwarded';

type Handler = (request: unknown, metadata: Metadata) => Promise<unknown>;

export interface CoordinatorServiceOptions {
  readonly node: RaftNode;
  readonly config: CoordinatorConfig;
  readonly logger: Logger;
  readonly onFatal: (err: unknown) => void;
}

function roleToWire(role: RaftRole): string {
  switch (role) {
    case 'Follower':
      return 'follower';
    case 'PreCandidate':
      return 'pre-candidate';
    case 'Candidate':
      return 'candidate';
    case 'Leader':
      return 'leader';
  }
}

function fieldsOf(error: CommandError | null): { errorCode: string; errorMessage: string } {
  return error === null ? { errorCode: '', errorMessage: '' } : errorFields(toFjordError(error));
}

function endWithError(call: ServerDuplexStream<unknown, unknown>, err: FjordError): void {
  failServerStream(call, err);
}

function resultOf(outcome: EntryOutcome | null): ApplyResult {
  if (outcome === null || outcome.result === null) throw new AssertionError('a metadata command applied as an empty entry');
  return outcome.result;
}

export class CoordinatorService {
  private readonly node: RaftNode;
  private readonly config: CoordinatorConfig;
  private readonly log: Logger;
  private readonly rng = new Rng(randomInt(0, 2 ** 47));
  private readonly forwardClients = new Map<string, Client>();
  private readonly watchers = new Set<ServerWritableStream<unknown, unknown>>();
  /** Open BrokerSession streams (leader only), ended with RAFT_NOT_LEADER when this node steps down. */
  private readonly sessionStreams = new Set<ServerDuplexStream<unknown, unknown>>();
  /** Open Pipeline streams, ended when this node stops. */
  private readonly pipelines = new Set<PipelineStream>();
  private controller: ControllerState | null = null;
  private controllerBusy = false;
  private controllerTimer: NodeJS.Timeout | null = null;
  /** The index of the new leader's first entry: the leader plans on its state once it has applied it. */
  private leaderReadyIndex = Number.POSITIVE_INFINITY;
  private readonly controllerOptions: ControllerOptions;
  private stopped = false;

  constructor(private readonly options: CoordinatorServiceOptions) {
    this.node = options.node;
    this.config = options.config;
    this.log = options.logger.child({ component: 'coordinator-service' });
    this.controllerOptions = {
      sessionTimeoutMs: this.config.brokerSessionTimeoutMs,
      leaderRebalanceIntervalMs: this.config.leaderRebalanceIntervalMs,
      safetyIntervalMs: this.config.controllerSafetyIntervalMs,
    };
    this.node.onRoleChange((soft) => {
      if (soft.role === 'Leader') {
        this.leaderReadyIndex = this.node.status().lastIndex;
      } else {
        this.leaderReadyIndex = Number.POSITIVE_INFINITY;
        this.controller = null;
        this.endSessionStreams(this.notLeader());
      }
    });
  }

  start(): void {
    this.controllerTimer = setInterval(() => this.controllerStep(), this.config.controllerIntervalMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.controllerTimer !== null) clearInterval(this.controllerTimer);
    this.controllerTimer = null;
    for (const w of this.watchers) failServerStream(w, new FjordError('COORDINATOR_NOT_AVAILABLE', 'the coordinator node is stopping'));
    this.watchers.clear();
    this.endSessionStreams(new FjordError('COORDINATOR_NOT_AVAILABLE', 'the coordinator node is stopping'));
    for (const p of [...this.pipelines]) p.end(new FjordError('COORDINATOR_NOT_AVAILABLE', 'the coordinator node is stopping'));
    this.pipelines.clear();
    for (const c of this.forwardClients.values()) c.close();
    this.forwardClients.clear();
  }

  // ------------------------------------------------------------------ controller shell

  private leaderReady(): boolean {
    return this.node.isLeader && this.node.machine.appliedIndex >= this.leaderReadyIndex;
  }

  private controllerStep(): void {
    if (this.stopped || !this.leaderReady()) return;
    const nowMs = Date.now();
    if (this.controller === null) this.controller = initialControllerState(this.node.machine.state, nowMs);
    if (this.controllerBusy) return;
    const tick = controllerTick(this.controller, this.node.machine.state, nowMs, this.controllerOptions);
    this.controller = tick.state;
    if (tick.commands.length === 0) return;
    this.controllerBusy = true;
    this.log.info({ commands: tick.commands.map((c) => c.kind) }, 'controller proposes');
    this.node
      .proposeBatch(tick.commands.map(encodeCommand))
      .then((outcomes) => {
        for (const [i, o] of outcomes.entries()) {
          const r = o?.result;
          if (r !== undefined && r !== null && !r.ok) this.log.info({ command: tick.commands[i], error: r.error }, 'controller command rejected by apply');
        }
      })
      .catch((err: unknown) => this.handleBackgroundError(err, 'controller proposal failed'))
      .finally(() => {
        this.controllerBusy = false;
      });
  }

  private handleBackgroundError(err: unknown, what: string): void {
    if (isFjordError(err)) {
      this.log.info({ code: err.code, message: err.message }, what);
      return;
    }
    this.log.fatal({ err }, what);
    this.options.onFatal(err);
  }

  // ------------------------------------------------------------------ plumbing

  handlers(): UntypedServiceImplementation {
    const unary = (name: string, handler: Handler) => (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
      handler(call.request, call.metadata).then(
        (response) => callback(null, response),
        (err: unknown) => {
          if (isFjordError(err)) {
            this.log.debug({ rpc: name, code: err.code, message: err.message }, 'request failed');
            callback(toServiceError(err) as ServiceError);
            return;
          }
          this.log.error({ rpc: name, err }, 'request failed unexpectedly');
          callback(toServiceError(new FjordError('UNKNOWN_SERVER_ERROR', err instanceof Error ? err.message : String(err))) as ServiceError);
          if (err instanceof AssertionError) this.options.onFatal(err);
        },
      );
    };
    const onLeader = (name: string, leaderFn: (request: unknown) => Promise<unknown>): Handler => (request, metadata) => this.onLeader(name, request, metadata, leaderFn);
    const write = (name: string, leaderFn: (request: unknown) => Promise<unknown>) => unary(name, onLeader(name, leaderFn));
    // The requests a Pipeline stream carries run the very handlers of their unary RPCs.
    const shared = {
      RegisterBroker: onLeader('RegisterBroker', (r) => this.registerBroker(r)),
      BrokerHeartbeat: onLeader('BrokerHeartbeat', (r) => this.brokerHeartbeat(r)),
      CreateTopics: onLeader('CreateTopics', (r) => this.createTopics(r)),
      DeleteTopics: onLeader('DeleteTopics', (r) => this.deleteTopics(r)),
      CreatePartitions: onLeader('CreatePartitions', (r) => this.createPartitions(r)),
      AlterPartition: onLeader('AlterPartition', (r) => this.alterPartition(r)),
      ElectLeaders: onLeader('ElectLeaders', (r) => this.electLeaders(r)),
      AllocateProducerIds: onLeader('AllocateProducerIds', (r) => this.allocateProducerIds(r)),
      GetMetadata: (r: unknown) => this.getMetadata(r),
    } satisfies Record<(typeof COORDINATOR_PIPELINE_KINDS)[CoordinatorPipelineKind], Handler>;
    // A pipelined request has no call metadata of its own: it is never a forwarded one (forward() sets its own).
    const noMetadata = new Metadata();
    const pipelineHandlers = Object.fromEntries(Object.entries(COORDINATOR_PIPELINE_KINDS).map(([kind, rpc]) => [kind, (r: unknown) => shared[rpc](r, noMetadata)])) as Record<CoordinatorPipelineKind, PipelineHandler>;
    return {
      ...Object.fromEntries(Object.entries(shared).map(([rpc, handler]) => [rpc, unary(rpc, handler)])),
      Pipeline: (call: ServerDuplexStream<unknown, unknown>) => this.pipeline(call, pipelineHandlers),
      BrokerSession: (call: ServerDuplexStream<unknown, unknown>) => this.brokerSession(call),
      WatchMetadata: (call: ServerWritableStream<unknown, unknown>) => this.watchMetadata(call),
      Status: unary('Status', async () => this.statusResponse()),
      AddLearner: write('AddLearner', (r) => this.addLearner(r)),
      PromoteLearner: write('PromoteLearner', (r) => this.changeMembership(r, 'AddVoter')),
      RemoveNode: write('RemoveNode', (r) => this.changeMembership(r, 'RemoveNode')),
      TransferLeadership: write('TransferLeadership', (r) => this.transferLeadership(r)),
    };
  }

  /** Serves one Pipeline stream (request-pipeline.ts); at most maxWatchers of them per node, like the other long-lived streams. */
  private pipeline(call: ServerDuplexStream<unknown, unknown>, handlers: Record<CoordinatorPipelineKind, PipelineHandler>): void {
    if (this.stopped) {
      endWithError(call, new FjordError('COORDINATOR_NOT_AVAILABLE', 'the coordinator node is stopping'));
      return;
    }
    if (this.pipelines.size >= this.config.maxWatchers) {
      endWithError(call, new FjordError('POLICY_VIOLATION', `more than ${this.config.maxWatchers} pipeline streams on this node`));
      return;
    }
    const stream = servePipeline(call, { handlers, maxInFlight: DEFAULT_PIPELINE_MAX_IN_FLIGHT, logger: this.log, onFatal: this.options.onFatal }, (err) => endWithError(call, err));
    this.pipelines.add(stream);
    void stream.closed.then(() => this.pipelines.delete(stream));
  }

  /** Runs `leaderFn` on the leader, or forwards the request to it. */
  private async onLeader(method: string, request: unknown, metadata: Metadata, leaderFn: (request: unknown) => Promise<unknown>): Promise<unknown> {
    if (this.node.isLeader) {
      try {
        if (this.node.machine.appliedIndex < this.leaderReadyIndex) await this.node.waitApplied(this.leaderReadyIndex);
        return await leaderFn(request);
      } catch (err) {
        if (!isFjordError(err, 'RAFT_NOT_LEADER')) throw err;
      }
    }
    return this.forward(method, request, metadata);
  }

  private notLeader(): FjordError {
    const leaderId = this.node.softState.leaderId;
    return new FjordError('RAFT_NOT_LEADER', leaderId === 0 ? 'no leader is known yet' : `the leader is node ${leaderId}`, {
      leaderId,
      leaderAddress: this.node.addressOf(leaderId) ?? '',
    });
  }

  private async forward(method: string, request: unknown, metadata: Metadata): Promise<unknown> {
    const leaderId = this.node.softState.leaderId;
    const address = this.node.addressOf(leaderId);
    if (leaderId === 0 || leaderId === this.node.id || address === undefined || metadata.get(FORWARDED_KEY).length > 0) throw this.notLeader();
    let client = this.forwardClients.get(address);
    if (client === undefined) {
      const ctor = loadFjordGrpc().coordinator;
      client = new ctor(address, credentials.createInsecure(), peerChannelOptions(this.config.maxRequestBytes));
      this.forwardClients.set(address, client);
    }
    const md = new Metadata();
    md.set(FORWARDED_KEY, String(this.node.id));
    const fn = (client as unknown as Record<string, (req: unknown, md: Metadata, opts: { deadline: number }, cb: (err: ServiceError | null, res: unknown) => void) => void>)[method];
    if (fn === undefined) throw new AssertionError(`no client method ${method}`);
    return new Promise((resolve, reject) => {
      fn.call(client, request, md, { deadline: Date.now() + this.config.requestTimeoutMs }, (err, res) => {
        if (err !== null) reject(fromServiceError(err));
        else resolve(res);
      });
    });
  }

  private async proposeCommands(commands: readonly MetadataCommand[]): Promise<ApplyResult[]> {
    if (commands.length === 0) return [];
    const outcomes = await this.node.proposeBatch(commands.map(encodeCommand));
    return outcomes.map(resultOf);
  }

  // ------------------------------------------------------------------ brokers

  private async registerBroker(request: unknown): Promise<unknown> {
    const command = registerBrokerFromWire(request, this.config.clusterId);
    // A new incarnation may not replace one whose session is alive (Kafka's
    // DUPLICATE_BROKER_REGISTRATION). Sessions are the leader's soft state,
    // so this is checked here, before proposing, not in apply.
    const nowMs = Date.now();
    const metadata = this.node.machine.state;
    this.controller ??= initialControllerState(metadata, nowMs);
    const conflict = registrationConflict(metadata, this.controller.sessions, command, nowMs, this.controllerOptions.sessionTimeoutMs);
    if (conflict !== null) throw toFjordError(conflict);
    const [result] = await this.proposeCommands([command]);
    if (result === undefined || !result.ok) throw toFjordError(result?.ok === false ? result.error : { code: 'UNKNOWN_SERVER_ERROR', message: 'no result' });
    if (result.output.kind !== 'RegisterBroker') throw new AssertionError('RegisterBroker produced another output');
    return {
      brokerEpoch: result.output.brokerEpoch,
      metadataVersion: result.version,
      sessionTimeoutMs: this.config.brokerSessionTimeoutMs,
      heartbeatIntervalMs: this.config.brokerHeartbeatIntervalMs,
    };
  }

  private async brokerHeartbeat(request: unknown): Promise<unknown> {
    const hb = heartbeatFromWire(request);
    const nowMs = Date.now();
    const metadata = this.node.machine.state;
    const controller = this.controller ?? initialControllerState(metadata, nowMs);
    const recorded = onHeartbeat(controller, metadata, hb, nowMs, this.controllerOptions);
    if (!recorded.ok) throw toFjordError(recorded.error);
    this.controller = recorded.value.state;
    return { fenced: recorded.value.fenced, metadataVersion: metadata.version };
  }

  /**
   * BrokerSession (issue 5, failover gap): binds a stream to the broker's
   * session on the leader (first message). Left by the broker (a second
   * message, then a half-close): nothing happens.
   * Cut (cancelled: the connection was reset, the broker process died): the
   * session ends now (onSessionLost) and the controller runs at once, so the
   * dead broker is fenced and its leaderships move within milliseconds
   * instead of after brokerSessionTimeoutMs. Heartbeats stay the liveness
   * rule; this only shortens the wait when death is certain.
   */
  private brokerSession(call: ServerDuplexStream<unknown, unknown>): void {
    let bound: { brokerId: number; brokerEpoch: number } | null = null;
    let finished = false;
    const finish = (lost: boolean): void => {
      if (finished) return;
      finished = true;
      // Streams this node ended itself (step-down, stop) were removed first: not a loss.
      const registered = this.sessionStreams.delete(call);
      if (!lost || !registered || bound === null || this.controller === null || !this.leaderReady()) return;
      this.controller = onSessionLost(this.controller, bound, Date.now(), this.controllerOptions);
      this.log.info(bound, 'broker session stream cut (connection reset); session ended');
      this.controllerStep();
    };
    const refuse = (err: FjordError): void => {
      finish(false);
      endWithError(call, err);
    };
    call.on('data', (message: unknown) => {
      if (finished) return;
      if (bound !== null) {
        // A second message: the broker leaves on purpose (re-registration, shutdown).
        bound = null;
        return;
      }
      let hb: { brokerId: number; brokerEpoch: number };
      try {
        // Same fields as a heartbeat's first two (broker_id, broker_epoch).
        hb = heartbeatFromWire(message);
      } catch (err) {
        if (!isFjordError(err)) throw err;
        refuse(err);
        return;
      }
      if (!this.leaderReady()) {
        refuse(this.notLeader());
        return;
      }
      const current = this.node.machine.state.brokers.get(hb.brokerId);
      if (current?.brokerEpoch !== hb.brokerEpoch) {
        refuse(new FjordError('STALE_BROKER_EPOCH', `broker ${hb.brokerId} epoch ${hb.brokerEpoch} is not the current registration`));
        return;
      }
      if (this.sessionStreams.size >= this.config.maxWatchers) {
        refuse(new FjordError('POLICY_VIOLATION', `more than ${this.config.maxWatchers} broker session streams on this node`));
        return;
      }
      bound = { brokerId: hb.brokerId, brokerEpoch: hb.brokerEpoch };
      this.sessionStreams.add(call);
      this.controller ??= initialControllerState(this.node.machine.state, Date.now());
      call.write({ brokerEpoch: hb.brokerEpoch });
    });
    // grpc-js reports a reset connection as 'end' (then 'cancelled'), so an
    // end is a leave only after the broker's second message; without one the
    // connection was cut (the broker always says it leaves first).
    call.on('end', () => {
      finish(bound !== null);
      call.end();
    });
    call.on('cancelled', () => finish(true));
    call.on('error', () => finish(true));
  }

  private endSessionStreams(err: FjordError): void {
    const streams = [...this.sessionStreams];
    this.sessionStreams.clear();
    for (const call of streams) endWithError(call, err);
  }

  // ------------------------------------------------------------------ topics

  private placementSeed(): { startIndex: number; replicaShift: number } {
    return { startIndex: this.rng.int(1 << 30), replicaShift: this.rng.int(1 << 30) };
  }

  private async createTopics(request: unknown): Promise<unknown> {
    const parsed = createTopicsFromWire(request);
    const requests = parsed.items.flatMap((i) => (i.request === null ? [] : [i.request]));
    const planned = planCreateTopics({
      metadata: this.node.machine.state,
      requests,
      defaults: { partitionCount: this.config.defaultPartitions, replicationFactor: this.config.defaultReplicationFactor },
      nextTopicId: () => newTopicId(this.rng),
      nextPlacement: () => this.placementSeed(),
    });
    const commands = planned.flatMap((p) => (p.command === null ? [] : [p.command]));
    const results = parsed.validateOnly ? commands.map(() => null) : await this.proposeCommands(commands);
    let planIndex = 0;
    let commandIndex = 0;
    const topics = parsed.items.map((item) => {
      if (item.request === null) return { name: item.name, topicId: '', ...fieldsOf(item.error), numPartitions: 0, replicationFactor: 0 };
      const plan = planned[planIndex++];
      if (plan === undefined || plan.command === null) return { name: item.name, topicId: '', ...fieldsOf(plan?.error ?? null), numPartitions: 0, replicationFactor: 0 };
      const result = results[commandIndex++];
      const shape = { numPartitions: plan.command.assignment.length, replicationFactor: plan.command.assignment[0]?.length ?? 0 };
      if (result === null || result === undefined) return { name: item.name, topicId: plan.command.topicId, errorCode: '', errorMessage: '', ...shape };
      if (!result.ok) return { name: item.name, topicId: '', ...fieldsOf(result.error), numPartitions: 0, replicationFactor: 0 };
      return { name: item.name, topicId: plan.command.topicId, errorCode: '', errorMessage: '', ...shape };
    });
    return { topics };
  }

  private async deleteTopics(request: unknown): Promise<unknown> {
    const refs = deleteTopicsFromWire(request);
    const metadata = this.node.machine.state;
    const seen = new Set<string>();
    const plans = refs.map((ref) => {
      const plan = planDeleteTopic(metadata, ref);
      if (!plan.ok) return plan;
      if (seen.has(plan.value.topicId)) return { ok: false as const, error: { code: 'INVALID_REQUEST' as const, message: `topic ${plan.value.name} appears more than once in the request` } };
      seen.add(plan.value.topicId);
      return plan;
    });
    const commands = plans.flatMap((p) => (p.ok ? [p.value] : []));
    const results = await this.proposeCommands(commands);
    let k = 0;
    return {
      topics: refs.map((ref, i) => {
        const plan = plans[i];
        if (plan === undefined || !plan.ok) return { name: ref.name, topicId: ref.topicId, ...fieldsOf(plan?.ok === false ? plan.error : null) };
        const result = results[k++];
        return { name: plan.value.name, topicId: plan.value.topicId, ...fieldsOf(result !== undefined && !result.ok ? result.error : null) };
      }),
    };
  }

  private async createPartitions(request: unknown): Promise<unknown> {
    const parsed = createPartitionsFromWire(request);
    const requests = parsed.items.flatMap((i) => (i.request === null ? [] : [i.request]));
    const planned = planCreatePartitionsBatch({ metadata: this.node.machine.state, requests, nextPlacement: () => this.placementSeed() });
    const commands = planned.flatMap((p) => (p.command === null ? [] : [p.command]));
    const results = parsed.validateOnly ? [] : await this.proposeCommands(commands);
    let planIndex = 0;
    let commandIndex = 0;
    return {
      topics: parsed.items.map((item) => {
        if (item.request === null) return { name: item.name, ...fieldsOf(item.error) };
        const plan = planned[planIndex++];
        if (plan === undefined || plan.command === null) return { name: item.name, ...fieldsOf(plan?.error ?? null) };
        if (parsed.validateOnly) return { name: item.name, ...fieldsOf(null) };
        const result = results[commandIndex++];
        return { name: item.name, ...fieldsOf(result !== undefined && !result.ok ? result.error : null) };
      }),
    };
  }

  // ------------------------------------------------------------------ partitions

  private currentPartition(topicId: string, partition: number): unknown {
    const topic = topicById(this.node.machine.state, topicId);
    const p = topic?.partitions[partition];
    return topic === undefined || p === undefined ? null : partitionToWire(p, { topicId, topicName: topic.name });
  }

  private async alterPartition(request: unknown): Promise<unknown> {
    const parsed = alterPartitionFromWire(request);
    const commands = parsed.items.flatMap((i) => (i.request === null ? [] : [i.request]));
    const results = await this.proposeCommands(commands);
    let k = 0;
    return {
      items: parsed.items.map((item, i) => {
        const raw = (request as { items?: { topicId?: string; partition?: number }[] }).items?.[i];
        const topicId = item.request?.topicId ?? raw?.topicId ?? '';
        const partition = item.request?.partition ?? raw?.partition ?? 0;
        if (item.request === null) return { topicId, partition, ...fieldsOf(item.error), state: null };
        const result = results[k++];
        if (result === undefined || !result.ok) return { topicId, partition, ...fieldsOf(result?.ok === false ? result.error : null), state: this.currentPartition(topicId, partition) };
        const state = result.output.kind === 'AlterPartition' ? partitionToWire(result.output.partition, { topicId, topicName: topicById(this.node.machine.state, topicId)?.name ?? '' }) : this.currentPartition(topicId, partition);
        return { topicId, partition, errorCode: '', errorMessage: '', state };
      }),
    };
  }

  private async electLeaders(request: unknown): Promise<unknown> {
    const parsed = electLeadersFromWire(request);
    const plans = planElections(this.node.machine.state, parsed.electionType, parsed.partitions);
    const commands = plans.flatMap((p) => (p.command === null ? [] : [p.command]));
    const results = await this.proposeCommands(commands);
    let k = 0;
    return {
      items: plans.map((plan) => {
        const current = (): { leader: number; leaderEpoch: number } => {
          const p = this.node.machine.state.topics.get(plan.topic)?.partitions[plan.partition];
          return { leader: p?.leader ?? -1, leaderEpoch: p?.leaderEpoch ?? 0 };
        };
        if (plan.command === null) return { topic: plan.topic, partition: plan.partition, ...fieldsOf(plan.error), ...current() };
        const result = results[k++];
        return { topic: plan.topic, partition: plan.partition, ...fieldsOf(result !== undefined && !result.ok ? result.error : null), ...current() };
      }),
    };
  }

  private async allocateProducerIds(request: unknown): Promise<unknown> {
    const parsed = allocateProducerIdsFromWire(request);
    const [result] = await this.proposeCommands([{ kind: 'AllocateProducerIds', brokerId: parsed.brokerId, brokerEpoch: parsed.brokerEpoch, count: this.config.producerIdBlockSize }]);
    if (result === undefined || !result.ok) throw toFjordError(result?.ok === false ? result.error : { code: 'UNKNOWN_SERVER_ERROR', message: 'no result' });
    if (result.output.kind !== 'AllocateProducerIds') throw new AssertionError('AllocateProducerIds produced another output');
    return { firstProducerId: result.output.firstProducerId, count: result.output.count };
  }

  // ------------------------------------------------------------------ reads

  private async getMetadata(request: unknown): Promise<unknown> {
    const parsed = getMetadataFromWire(request);
    // Linearizable on any node (ReadIndex, thesis §6.4): a follower asks the
    // leader for its commit index and answers from its own copy once applied,
    // so reads spread over the cluster instead of all landing on the leader.
    if (!parsed.allowStale) await this.linearizable();
    const image = imageToWire(this.node.machine.state, parsed.topics);
    return { metadataVersion: image.metadataVersion, brokers: image.brokers, topics: image.topics, leaderNodeId: this.node.softState.leaderId, clusterId: this.config.clusterId };
  }

  /** ReadIndex here, with the leader's address on RAFT_NOT_LEADER so a client can go there. */
  private async linearizable(): Promise<void> {
    try {
      await this.node.readIndex();
    } catch (err) {
      if (isFjordError(err, 'RAFT_NOT_LEADER')) throw this.notLeader();
      throw err;
    }
  }

  private watchMetadata(call: ServerWritableStream<unknown, unknown>): void {
    const fail = (err: unknown): void => {
      const fjord = isFjordError(err) ? err : new FjordError('UNKNOWN_SERVER_ERROR', err instanceof Error ? err.message : String(err));
      failServerStream(call, fjord);
    };
    let parsed: { fromVersion: number; allowStale: boolean };
    try {
      parsed = watchMetadataFromWire(call.request);
    } catch (err) {
      fail(err);
      return;
    }
    if (this.watchers.size >= this.config.maxWatchers) {
      fail(new FjordError('POLICY_VIOLATION', `more than ${this.config.maxWatchers} watchers on this node`));
      return;
    }
    this.watchers.add(call);
    let cursor = parsed.fromVersion;
    let unsubscribe: (() => void) | null = null;
    const maxBufferedBytes = 4 * this.config.maxRequestBytes;
    const close = (): void => {
      this.watchers.delete(call);
      unsubscribe?.();
      unsubscribe = null;
    };
    const pump = (): void => {
      if (call.cancelled || call.destroyed) return close();
      const machine = this.node.machine;
      for (;;) {
        const plan = machine.history.plan(cursor, 1000);
        if (plan.kind === 'ahead') return;
        if (plan.kind === 'image') {
          const image = imageToWire(machine.state);
          call.write({ image });
          cursor = image.metadataVersion;
          continue;
        }
        if (plan.deltas.length === 0) return;
        for (const d of plan.deltas) {
          call.write({ delta: deltaToWire(d) });
          cursor = d.version;
        }
        if (call.writableLength > maxBufferedBytes) {
          close();
          fail(new FjordError('POLICY_VIOLATION', 'watcher too slow; re-watch from the last version it applied'));
          return;
        }
      }
    };
    call.on('cancelled', close);
    call.on('close', close);
    call.on('error', close);
    const start = parsed.allowStale ? Promise.resolve() : this.linearizable();
    start.then(
      () => {
        if (!this.watchers.has(call)) return;
        unsubscribe = this.node.onApplied(pump);
        pump();
      },
      (err: unknown) => {
        close();
        fail(err);
      },
    );
  }

  private statusResponse(): unknown {
    const s = this.node.status();
    const progress = new Map(s.progress.map((p) => [p.id, p]));
    const members = [...s.conf.voters.map((id) => ({ id, learner: false })), ...s.conf.learners.map((id) => ({ id, learner: true }))];
    return {
      nodeId: this.node.id,
      clusterId: this.config.clusterId,
      role: roleToWire(s.role),
      term: s.term,
      leaderNodeId: s.leaderId,
      commitIndex: s.commit,
      appliedIndex: this.node.machine.appliedIndex,
      metadataVersion: this.node.machine.state.version,
      peers: members.map(({ id, learner }) => {
        const p = progress.get(id);
        return {
          nodeId: id,
          address: this.node.addressOf(id) ?? '',
          learner,
          matchIndex: p?.match ?? 0,
          nextIndex: p?.next ?? 0,
          progressState: p === undefined ? '' : p.state.toLowerCase(),
          recentActive: p !== undefined,
        };
      }),
    };
  }

  // ------------------------------------------------------------------ membership

  private membersResponse(): unknown {
    const s = this.node.status();
    return {
      members: [...s.conf.voters.map((id) => ({ nodeId: id, address: this.node.addressOf(id) ?? '', learner: false })), ...s.conf.learners.map((id) => ({ nodeId: id, address: this.node.addressOf(id) ?? '', learner: true }))],
      leaderNodeId: s.leaderId,
    };
  }

  private nodeIdOf(request: unknown, field: string): NodeId {
    const value = (request as Record<string, unknown> | null)?.[field];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > 0xffff_ffff) throw new FjordError('INVALID_REQUEST', `${field} must be a node id >= 1`);
    return value;
  }

  private async addLearner(request: unknown): Promise<unknown> {
    const nodeId = this.nodeIdOf(request, 'nodeId');
    const address = (request as Record<string, unknown>)['address'];
    if (typeof address !== 'string' || parseAddress(address) === null) throw new FjordError('INVALID_REQUEST', 'address must be host:port');
    const conf = this.node.status().conf;
    if (conf.voters.includes(nodeId) || conf.learners.includes(nodeId)) throw new FjordError('INVALID_REQUEST', `node ${nodeId} is already a member`);
    // The address first, so every member can reach the learner once the change is in its log.
    await this.node.propose(encodeAddressEntry(nodeId, address));
    await this.node.proposeConfChange({ type: 'AddLearner', nodeId });
    return this.membersResponse();
  }

  private async changeMembership(request: unknown, type: 'AddVoter' | 'RemoveNode'): Promise<unknown> {
    const nodeId = this.nodeIdOf(request, 'nodeId');
    const conf = this.node.status().conf;
    if (type === 'AddVoter' && !conf.learners.includes(nodeId)) throw new FjordError('INVALID_REQUEST', `node ${nodeId} is not a learner`);
    if (type === 'RemoveNode' && !conf.learners.includes(nodeId) && !conf.voters.includes(nodeId)) throw new FjordError('INVALID_REQUEST', `node ${nodeId} is not a member`);
    await this.node.proposeConfChange({ type, nodeId });
    return this.membersResponse();
  }

  private async transferLeadership(request: unknown): Promise<unknown> {
    const raw = (request as Record<string, unknown> | null)?.['targetNodeId'] ?? 0;
    let target = typeof raw === 'number' && Number.isSafeInteger(raw) && raw >= 0 ? raw : -1;
    if (target < 0) throw new FjordError('INVALID_REQUEST', 'targetNodeId must be a node id (0: any)');
    const s = this.node.status();
    if (target === 0) {
      const best = s.progress.filter((p) => p.id !== this.node.id && !p.learner).sort((a, b) => b.match - a.match)[0];
      if (best === undefined) throw new FjordError('INVALID_REQUEST', 'no other voter to transfer to');
      target = best.id;
    }
    if (!s.conf.voters.includes(target) || target === this.node.id) throw new FjordError('INVALID_REQUEST', `node ${target} is not another voter`);
    const moved = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new FjordError('REQUEST_TIMED_OUT', `leadership did not move to ${target} in time`));
      }, this.config.requestTimeoutMs);
      const off = this.node.onRoleChange((soft) => {
        if (soft.leaderId === target) {
          clearTimeout(timer);
          off();
          resolve();
        }
      });
    });
    this.node.transferLeader(target);
    await moved;
    return this.membersResponse();
  }
}

