/**
 * What a workload needs from a system under test (Fjord or NATS JetStream):
 * create a replicated log, publish as fast as the client allows, publish one
 * record and wait for its ack, read records back, and find / kill the log's
 * leader process.
 */
import type { ManagedChild } from '@fjord/testkit';

export interface OnePublisher {
  /** Publishes one record; resolves once it is acknowledged (acks=all / R3 stored), rejects on a final failure. */
  publish(payload: Buffer): Promise<void>;
  close(): Promise<void>;
}

export interface SystemUnderTest {
  readonly name: 'fjord' | 'nats';
  /** A fresh log (Fjord topic, NATS stream) with `replicas` copies, ready to take writes. */
  createLog(log: string, replicas: number): Promise<void>;
  /**
   * The best client setup's maximum-rate publish of up to `count` 100-byte
   * records, issuing none after `deadlineMs` (performance.now() time);
   * resolves with how many were published once all are acknowledged.
   */
  publishBurst(log: string, count: number, deadlineMs: number): Promise<number>;
  /** A per-record publisher; `retrying`: retry through failures (failover run). */
  publisher(log: string, options: { retrying: boolean }): Promise<OnePublisher>;
  /** Reads `count` records from the start of the log (the consume figure). */
  consume(log: string, count: number): Promise<void>;
  /** Every record in the log, as payloads (failover check). */
  readAll(log: string): Promise<Buffer[]>;
  /** The process leading the log now. */
  leaderProcess(log: string): Promise<ManagedChild>;
  close(): Promise<void>;
}
