/**
 * Raft messages and entries <-> bytes, for the gRPC transport
 * (proto/fjord/v1/raft.proto carries each message as opaque bytes) and the
 * LevelDB log store. JSON behind a format byte (like command-codec.ts): Raft
 * traffic between coordinators is small, and a dump stays readable; entry and
 * snapshot payloads travel as base64.
 *
 * Decoding is the trust boundary for peer traffic (issue 4 "garbage on the
 * Raft port"): anything that is not a well-formed message for this node is
 * `null` (the caller counts and drops it), never an exception. Shape is
 * checked here; ranges and Raft semantics by the core's `messageProblem`.
 */
import { messageProblem, type ConfState, type Entry, type HardState, type NodeId, type RaftMessage, type Snapshot, type SnapshotMeta } from '@fjord/raft';

export const RAFT_CODEC_FORMAT_V1 = 0x01;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function b64(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64');
}

const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

function unb64(value: unknown): Uint8Array | null {
  if (typeof value !== 'string' || value.length % 4 !== 0 || !BASE64_RE.test(value)) return null;
  const buf = Buffer.from(value, 'base64');
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

function confToJson(conf: ConfState): Json {
  return { voters: [...conf.voters], learners: [...conf.learners] };
}

function isIdList(value: unknown): value is number[] {
  return Array.isArray(value) && value.length <= 1024 && value.every((v) => typeof v === 'number' && Number.isSafeInteger(v) && v > 0);
}

function confFromJson(value: unknown): ConfState | null {
  if (typeof value !== 'object' || value === null) return null;
  const o = value as Record<string, unknown>;
  if (!isIdList(o['voters']) || !isIdList(o['learners'])) return null;
  return { voters: o['voters'], learners: o['learners'] };
}

export function entryToJson(e: Entry): Json {
  if (e.type === 'Normal') return { type: 'Normal', index: e.index, term: e.term, data: b64(e.data) };
  return { type: 'ConfChange', index: e.index, term: e.term, change: { type: e.change.type, nodeId: e.change.nodeId }, conf: confToJson(e.conf) };
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

export function entryFromJson(value: unknown): Entry | null {
  if (typeof value !== 'object' || value === null) return null;
  const o = value as Record<string, unknown>;
  const index = o['index'];
  const term = o['term'];
  if (!isCount(index) || !isCount(term)) return null;
  if (o['type'] === 'Normal') {
    const data = unb64(o['data']);
    return data === null ? null : { type: 'Normal', index, term, data };
  }
  if (o['type'] === 'ConfChange') {
    const change = o['change'];
    if (typeof change !== 'object' || change === null) return null;
    const c = change as Record<string, unknown>;
    const type = c['type'];
    const nodeId = c['nodeId'];
    if ((type !== 'AddVoter' && type !== 'AddLearner' && type !== 'RemoveNode') || typeof nodeId !== 'number' || !Number.isSafeInteger(nodeId) || nodeId < 1) return null;
    const conf = confFromJson(o['conf']);
    return conf === null ? null : { type: 'ConfChange', index, term, change: { type, nodeId }, conf };
  }
  return null;
}

export function snapshotMetaToJson(meta: SnapshotMeta): Json {
  return { index: meta.index, term: meta.term, conf: confToJson(meta.conf) };
}

export function snapshotMetaFromJson(value: unknown): SnapshotMeta | null {
  if (typeof value !== 'object' || value === null) return null;
  const o = value as Record<string, unknown>;
  const conf = confFromJson(o['conf']);
  if (!isCount(o['index']) || !isCount(o['term']) || conf === null) return null;
  return { index: o['index'], term: o['term'], conf };
}

export function hardStateFromJson(value: unknown): HardState | null {
  if (typeof value !== 'object' || value === null) return null;
  const o = value as Record<string, unknown>;
  if (!isCount(o['term']) || !isCount(o['vote']) || !isCount(o['commit'])) return null;
  return { term: o['term'], vote: o['vote'], commit: o['commit'] };
}

function withFormat(json: Json): Uint8Array {
  const body = encoder.encode(JSON.stringify(json));
  const out = new Uint8Array(body.byteLength + 1);
  out[0] = RAFT_CODEC_FORMAT_V1;
  out.set(body, 1);
  return out;
}

/** Bytes -> JSON value, or null when the format byte or the JSON is wrong. */
export function parseFormatted(bytes: Uint8Array): unknown {
  if (bytes.byteLength < 2 || bytes[0] !== RAFT_CODEC_FORMAT_V1) return null;
  try {
    return JSON.parse(decoder.decode(bytes.subarray(1))) as unknown;
  } catch {
    return null;
  }
}

export function encodeJsonValue(json: Json): Uint8Array {
  return withFormat(json);
}

export function encodeEntry(e: Entry): Uint8Array {
  return withFormat(entryToJson(e));
}

export function decodeEntry(bytes: Uint8Array): Entry | null {
  return entryFromJson(parseFormatted(bytes));
}

function snapshotToJson(s: Snapshot): Json {
  return { meta: snapshotMetaToJson(s.meta), data: b64(s.data) };
}

export function encodeRaftMessage(m: RaftMessage): Uint8Array {
  switch (m.type) {
    case 'AppendEntries':
      return withFormat({ ...m, entries: m.entries.map(entryToJson) });
    case 'InstallSnapshot':
      return withFormat({ ...m, snapshot: snapshotToJson(m.snapshot) });
    default:
      return withFormat({ ...m });
  }
}

const MESSAGE_TYPES = new Set(['RequestVote', 'RequestVoteResponse', 'AppendEntries', 'AppendEntriesResponse', 'Heartbeat', 'HeartbeatResponse', 'InstallSnapshot', 'TimeoutNow', 'ReadIndex', 'ReadIndexResponse']);

/**
 * Bytes from a peer -> a message for node `self`, or a reason it was dropped.
 * The core's `messageProblem` checks every field's range and the entries'
 * order, so a message that passes is safe to `step()`.
 */
export function decodeRaftMessage(bytes: Uint8Array, self: NodeId): { message: RaftMessage } | { problem: string } {
  const value = parseFormatted(bytes);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { problem: 'not a formatted JSON object' };
  const o = value as Record<string, unknown>;
  if (typeof o['type'] !== 'string' || !MESSAGE_TYPES.has(o['type'])) return { problem: 'unknown message type' };
  let candidate: Record<string, unknown> = o;
  if (o['type'] === 'AppendEntries') {
    if (!Array.isArray(o['entries'])) return { problem: 'entries not an array' };
    const entries: Entry[] = [];
    for (const raw of o['entries'] as unknown[]) {
      const e = entryFromJson(raw);
      if (e === null) return { problem: 'malformed entry' };
      entries.push(e);
    }
    candidate = { ...o, entries };
  } else if (o['type'] === 'InstallSnapshot') {
    const s = o['snapshot'];
    if (typeof s !== 'object' || s === null) return { problem: 'snapshot missing' };
    const meta = snapshotMetaFromJson((s as Record<string, unknown>)['meta']);
    const data = unb64((s as Record<string, unknown>)['data']);
    if (meta === null || data === null) return { problem: 'malformed snapshot' };
    candidate = { ...o, snapshot: { meta, data } };
  }
  const problem = messageProblem(candidate, self);
  if (problem !== undefined) return { problem };
  return { message: candidate as unknown as RaftMessage };
}
