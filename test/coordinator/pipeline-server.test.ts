/**
 * Goal: the Pipeline stream's own rules (request-pipeline.ts), over real gRPC
 * on 127.0.0.1 with the shipped client, driven by request handlers the test
 * controls (the coordinator's handlers are covered against real nodes in
 * pipeline.test.ts; here the point is what the stream does around them):
 * - at most maxInFlight requests run at once per stream: the server stops
 *   reading, and resumes as answers go out (every request still answered);
 * - a handler's FjordError reaches the caller as the same FjordError a unary
 *   call's status gives (code, message, details); a non-Fjord error is
 *   UNKNOWN_SERVER_ERROR, and an AssertionError also reaches onFatal;
 * - a half-closed stream ends with status OK once every answer is out;
 * - a cancelled stream: the running request finishes, its answer is
 *   dropped, the stream's `closed` resolves.
 */
import { describe, expect, it } from 'vitest';
import { Server, ServerCredentials, credentials, status, type ClientDuplexStream, type ServerDuplexStream, type ServerUnaryCall, type ServiceError, type sendUnaryData } from '@grpc/grpc-js';
import pino from 'pino';
import { AssertionError, CoordinatorPipeline, FjordError, fromServiceError, grpcChannelOptions, loadFjordGrpc, toServiceError, type CoordinatorPipelineKind } from '@fjord/protocol';
import { servePipeline, type PipelineHandler, type PipelineStream } from '@fjord/coordinator';
import { waitFor } from '@fjord/testkit';
import { closeAfterEach } from '../support/close-after-each.js';
import { failure } from './coordinator-cluster.js';

const track = closeAfterEach();

/** A gate a handler waits on until the test opens it. */
class Gate {
  private open: (() => void) | null = null;
  readonly opened = new Promise<void>((resolve) => {
    this.open = resolve;
  });
  release(): void {
    this.open?.();
  }
}

interface TestServer {
  address: string;
  streams: PipelineStream[];
  fatal: unknown[];
  close(): void;
}

const KINDS: CoordinatorPipelineKind[] = ['registerBroker', 'brokerHeartbeat', 'createTopics', 'deleteTopics', 'createPartitions', 'alterPartition', 'electLeaders', 'allocateProducerIds', 'getMetadata'];

/** A real gRPC server with the Coordinator service: Pipeline served by servePipeline over `handler`; Status fails unary with `unaryError`. */
async function startServer(options: { handler: PipelineHandler; maxInFlight: number; unaryError?: FjordError }): Promise<TestServer> {
  const server = new Server(grpcChannelOptions(4 * 1024 * 1024));
  const streams: PipelineStream[] = [];
  const fatal: unknown[] = [];
  const handlers = Object.fromEntries(KINDS.map((k) => [k, options.handler])) as Record<CoordinatorPipelineKind, PipelineHandler>;
  server.addService(loadFjordGrpc().coordinator.service, {
    Pipeline: (call: ServerDuplexStream<unknown, unknown>) => {
      streams.push(servePipeline(call, { handlers, maxInFlight: options.maxInFlight, logger: pino({ level: 'silent' }), onFatal: (err) => fatal.push(err) }, (err) => call.emit('error', toServiceError(err))));
    },
    Status: (_call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
      if (options.unaryError === undefined) callback(null, {});
      else callback(toServiceError(options.unaryError) as ServiceError);
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err === null ? resolve(p) : reject(err)));
  });
  const s: TestServer = {
    address: `127.0.0.1:${port}`,
    streams,
    fatal,
    close: () => server.forceShutdown(),
  };
  return track(s);
}

function pipeline(address: string): CoordinatorPipeline {
  return track(new CoordinatorPipeline({ address, defaultTimeoutMs: 10_000 }).start());
}

describe('Pipeline stream rules (request-pipeline.ts over real gRPC)', () => {
  it('runs at most maxInFlight requests at once, and answers every request', async () => {
    const maxInFlight = 4;
    let running = 0;
    let maxRunning = 0;
    const gates: Gate[] = [];
    const server = await startServer({
      maxInFlight,
      handler: async (request) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        const gate = new Gate();
        gates.push(gate);
        await gate.opened;
        running--;
        return { brokerEpoch: (request as { brokerId: number }).brokerId * 10 };
      },
    });
    const p = pipeline(server.address);
    const calls = Array.from({ length: 12 }, (_, i) => p.call<{ brokerEpoch: string }>('registerBroker', { brokerId: i + 1 }));
    // Open one gate each time the server is at its bound: were it still reading, all 12 would be running by then.
    for (let released = 0; released < 12; released++) {
      await waitFor(() => running === Math.min(maxInFlight, 12 - released) && gates.length > released, { timeoutMs: 10_000, what: `the server at its bound after ${released} answers` });
      gates[released]?.release();
    }
    const answers = await Promise.all(calls);
    expect(answers.map((a) => a.brokerEpoch)).toEqual(Array.from({ length: 12 }, (_, i) => String((i + 1) * 10)));
    expect(maxRunning).toBe(maxInFlight);
  });

  it('gives a handler FjordError exactly as the unary status path does; other errors are UNKNOWN_SERVER_ERROR, assertions also reach onFatal', async () => {
    const notLeader = new FjordError('RAFT_NOT_LEADER', 'the leader is node 2', { leaderId: 2, leaderAddress: '127.0.0.1:1' });
    const server = await startServer({
      maxInFlight: 16,
      unaryError: notLeader,
      handler: async (request) => {
        const what = (request as { brokerId: number }).brokerId;
        if (what === 1) throw notLeader;
        if (what === 2) throw new TypeError('a bug');
        if (what === 3) throw new AssertionError('a broken invariant');
        return { brokerEpoch: 7 };
      },
    });
    const p = pipeline(server.address);
    const [viaPipeline, bug, broken, fine] = await Promise.all([
      failure(p.call('registerBroker', { brokerId: 1 })),
      failure(p.call('registerBroker', { brokerId: 2 })),
      failure(p.call('registerBroker', { brokerId: 3 })),
      p.call<{ brokerEpoch: string }>('registerBroker', { brokerId: 4 }),
    ]);
    const client = track(new (loadFjordGrpc().coordinator)(server.address, credentials.createInsecure()));
    const viaUnary = await failure(
      new Promise((resolve, reject) => {
        (client as unknown as { Status: (req: unknown, cb: (err: ServiceError | null, res: unknown) => void) => void }).Status({}, (err, res) => (err === null ? resolve(res) : reject(err)));
      }).catch((err: unknown) => {
        // What every Fjord unary client does with a failed call's status.
        throw fromServiceError(err);
      }),
    );
    expect(viaPipeline.code).toBe('RAFT_NOT_LEADER');
    expect(viaPipeline.message).toBe(viaUnary.message);
    expect(viaPipeline.details).toEqual(viaUnary.details);
    expect(viaPipeline.retriable).toBe(true);
    expect(bug.code).toBe('UNKNOWN_SERVER_ERROR');
    expect(bug.message).toMatch(/a bug/);
    expect(broken.code).toBe('UNKNOWN_SERVER_ERROR');
    expect(fine.brokerEpoch).toBe('7');
    expect(server.fatal).toHaveLength(1);
    expect(server.fatal[0]).toBeInstanceOf(AssertionError);
  });

  it('ends a half-closed stream with status OK once every answer is out', async () => {
    const gate = new Gate();
    const server = await startServer({
      maxInFlight: 16,
      handler: async (request) => {
        await gate.opened;
        return { brokerEpoch: (request as { brokerId: number }).brokerId };
      },
    });
    const client = track(new (loadFjordGrpc().coordinator)(server.address, credentials.createInsecure()));
    const stream = (client as unknown as { Pipeline: () => ClientDuplexStream<unknown, Record<string, unknown>> }).Pipeline();
    const answers: Record<string, unknown>[] = [];
    stream.on('data', (a: Record<string, unknown>) => answers.push(a));
    const ended = new Promise<{ code: number; answersBefore: number }>((resolve) => stream.on('status', (s: { code: number }) => resolve({ code: s.code, answersBefore: answers.length })));
    stream.write({ id: 1, registerBroker: { brokerId: 5 } });
    stream.write({ id: 2, registerBroker: { brokerId: 6 } });
    stream.end();
    await waitFor(() => server.streams.length === 1, { timeoutMs: 5_000, what: 'the stream served' });
    gate.release();
    const end = await ended;
    expect(end.code).toBe(status.OK);
    expect(end.answersBefore).toBe(2);
    expect(answers.map((a) => [a['id'], (a['registerBroker'] as { brokerEpoch: string }).brokerEpoch])).toEqual(
      expect.arrayContaining([
        ['1', '5'],
        ['2', '6'],
      ]),
    );
  });

  it('drops the answers of a cancelled stream; the work itself finishes and the stream is over', async () => {
    const gate = new Gate();
    let finished = 0;
    const server = await startServer({
      maxInFlight: 16,
      handler: async () => {
        await gate.opened;
        finished++;
        return { brokerEpoch: 1 };
      },
    });
    const p = new CoordinatorPipeline({ address: server.address, defaultTimeoutMs: 10_000 }).start();
    const pending = failure(p.call('registerBroker', { brokerId: 1 }));
    await waitFor(() => server.streams.length === 1, { timeoutMs: 5_000, what: 'the stream served' });
    p.close();
    const err = await pending;
    expect(err.code).toBe('COORDINATOR_NOT_AVAILABLE');
    await server.streams[0]?.closed;
    gate.release();
    await waitFor(() => finished === 1, { timeoutMs: 5_000, what: 'the running request to finish' });
  });
});
