// Shared helpers for the raft unit tests: small deterministic clusters over the
// simulator's network with zero delay and every safety checker on.
import { Rng } from '@fjord/protocol';
import { SafetyChecker, SimCluster, type NodeRaftOptions, type SimNode } from '../src/sim/index.js';
import type { RawNode } from '../src/index.js';

export const DEFAULT_RAFT: NodeRaftOptions = {
  electionTicks: 10,
  heartbeatTicks: 1,
  maxMsgBytes: 1 << 20,
  maxInflightMsgs: 256,
  maxUncommittedBytes: 1 << 30,
  preVote: false,
  checkQuorum: false,
};

export function newCluster(opts: { voters?: number[]; spares?: number[]; raft?: Partial<NodeRaftOptions>; seed?: number; snapshotEveryEntries?: number; checker?: boolean } = {}): SimCluster {
  return new SimCluster({
    voters: opts.voters ?? [1, 2, 3],
    spares: opts.spares ?? [],
    raft: { ...DEFAULT_RAFT, ...opts.raft },
    rng: new Rng(opts.seed ?? 42),
    ...(opts.checker === false ? {} : { checker: new SafetyChecker() }),
    ...(opts.snapshotEveryEntries === undefined ? {} : { snapshotEveryEntries: opts.snapshotEveryEntries }),
  });
}

export function raw(n: SimNode): RawNode {
  if (n.raw === undefined) throw new Error(`n${n.id} is down`);
  return n.raw;
}

/** Forces `id` to campaign and delivers everything. */
export function elect(c: SimCluster, id: number): void {
  raw(c.node(id)).campaign();
  c.pump();
}

export function ticks(c: SimCluster, n: number): void {
  for (let i = 0; i < n; i++) c.tick();
}
