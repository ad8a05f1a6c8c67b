/**
 * Validation of messages from the network. The shell feeds the core whatever
 * the network brings, so the core checks shape and ranges before acting:
 * a malformed message is dropped (and logged), never trusted and never a crash.
 * Semantic checks (stale term, indexes beyond our log) happen in raft.ts, where
 * Raft says how to answer them.
 */
import type { Entry, NodeId, RaftMessage } from '../types.js';
import { confProblem } from './conf-change.js';

const MAX_CTX_CHARS = 1024;

function isIndex(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

function isNodeId(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x > 0;
}

function isCtx(x: unknown): boolean {
  return typeof x === 'string' && x.length <= MAX_CTX_CHARS;
}

/** Returns why `m` is malformed for node `self`, or undefined when it is well-formed. */
export function messageProblem(m: unknown, self: NodeId): string | undefined {
  if (typeof m !== 'object' || m === null) return 'not an object';
  const msg = m as RaftMessage;
  if (!isNodeId(msg.from) || !isNodeId(msg.to)) return 'bad from/to';
  if (msg.to !== self) return `addressed to ${msg.to}`;
  if (msg.from === self) return 'from self';
  if (!isIndex(msg.term)) return 'bad term';
  switch (msg.type) {
    case 'RequestVote':
      if (!isIndex(msg.lastLogIndex) || !isIndex(msg.lastLogTerm)) return 'bad last log';
      if (msg.lastLogTerm > msg.term) return 'last log term above term';
      if (typeof msg.preVote !== 'boolean' || typeof msg.leaderTransfer !== 'boolean') return 'bad flags';
      if (msg.term === 0) return 'vote request in term 0';
      return undefined;
    case 'RequestVoteResponse':
      if (typeof msg.preVote !== 'boolean' || typeof msg.granted !== 'boolean') return 'bad flags';
      return undefined;
    case 'AppendEntries': {
      if (msg.term === 0) return 'append in term 0';
      if (!isIndex(msg.prevLogIndex) || !isIndex(msg.prevLogTerm) || !isIndex(msg.commit)) return 'bad indexes';
      if (msg.prevLogTerm > msg.term) return 'prev log term above term';
      if ((msg.prevLogIndex === 0) !== (msg.prevLogTerm === 0)) return 'prev log index/term mismatch at 0';
      if (!Array.isArray(msg.entries)) return 'entries not an array';
      if (msg.commitOnly !== undefined && typeof msg.commitOnly !== 'boolean') return 'bad commitOnly';
      if (msg.commitOnly === true && msg.entries.length > 0) return 'commit notice with entries';
      let expect = msg.prevLogIndex + 1;
      let lastTerm = msg.prevLogTerm;
      for (const e of msg.entries as unknown[]) {
        const p = entryProblem(e, expect, lastTerm, msg.term);
        if (p !== undefined) return p;
        expect++;
        lastTerm = (e as Entry).term;
      }
      return undefined;
    }
    case 'AppendEntriesResponse':
      if (typeof msg.reject !== 'boolean') return 'bad reject';
      if (!isIndex(msg.index) || !isIndex(msg.rejectHint) || !isIndex(msg.hintTerm)) return 'bad indexes';
      return undefined;
    case 'Heartbeat':
      if (msg.term === 0) return 'heartbeat in term 0';
      if (!isIndex(msg.commit) || !isCtx(msg.readCtx)) return 'bad heartbeat';
      return undefined;
    case 'HeartbeatResponse':
      return isCtx(msg.readCtx) ? undefined : 'bad ctx';
    case 'InstallSnapshot': {
      if (msg.term === 0) return 'snapshot in term 0';
      const s = msg.snapshot as unknown;
      if (typeof s !== 'object' || s === null) return 'bad snapshot';
      const snap = msg.snapshot;
      if (typeof snap.meta !== 'object' || snap.meta === null) return 'bad snapshot meta';
      if (!isNodeId(snap.meta.index) || !isNodeId(snap.meta.term) || snap.meta.term > msg.term) return 'bad snapshot index/term';
      if (!(snap.data instanceof Uint8Array)) return 'bad snapshot data';
      const cp = confProblem(snap.meta.conf);
      if (cp !== undefined) return cp;
      if (snap.meta.conf.voters.length === 0) return 'snapshot without voters';
      return undefined;
    }
    case 'TimeoutNow':
      return msg.term === 0 ? 'timeout-now in term 0' : undefined;
    case 'ReadIndex':
      return isCtx(msg.readCtx) && msg.readCtx !== '' ? undefined : 'bad ctx';
    case 'ReadIndexResponse':
      if (msg.term === 0) return 'read index response in term 0';
      return isCtx(msg.readCtx) && msg.readCtx !== '' && isIndex(msg.index) ? undefined : 'bad read index response';
    default:
      return `unknown type ${String((msg as { type?: unknown }).type)}`;
  }
}

function entryProblem(e: unknown, index: number, minTerm: number, maxTerm: number): string | undefined {
  if (typeof e !== 'object' || e === null) return 'entry not an object';
  const entry = e as Entry;
  if (entry.index !== index) return `entry index ${String(entry.index)}, expected ${index}`;
  if (!isIndex(entry.term) || entry.term < minTerm || entry.term > maxTerm || entry.term === 0) return 'entry term out of order';
  switch (entry.type) {
    case 'Normal':
      return entry.data instanceof Uint8Array ? undefined : 'entry data not bytes';
    case 'ConfChange': {
      const cp = confProblem(entry.conf);
      if (cp !== undefined) return cp;
      if (entry.conf.voters.length === 0) return 'conf entry without voters';
      const c = entry.change as unknown;
      if (typeof c !== 'object' || c === null) return 'bad conf change';
      if (!isNodeId(entry.change.nodeId)) return 'bad conf change node';
      if (!['AddVoter', 'AddLearner', 'RemoveNode'].includes(entry.change.type)) return 'bad conf change type';
      return undefined;
    }
    default:
      return 'unknown entry type';
  }
}
