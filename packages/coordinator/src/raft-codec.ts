/**
 * Raft messages and entries <-> bytes, for the gRPC transport
 * (proto/fjord/v1/raft.proto carries each message as opaque bytes) and the
 * LevelDB log store. A format byte leads every encoding:
 *
 *   0x01 (v1)  JSON (entry and snapshot payloads as base64). Rare, small
 *              messages (votes, heartbeats, acks, snapshots) and stored
 *              metadata (hard state, snapshot meta) stay in it: a dump stays
 *              readable and their cost does not matter.
 *   0x02 (v2)  binary, for the bytes every write pays for: entries (one per
 *              write, encoded for the log store and for each follower) and
 *              AppendEntries. JSON + base64 of each entry was most of the
 *              codec's share of a node's CPU.
 *
 * v2 layouts (big-endian; indexes and terms as float64, checked to be safe
 * integers on decode):
 *   entry          [0x02][kind: 1 Normal | 2 ConfChange][index f64][term f64][payload]
 *                  payload: the data (Normal) or JSON {change, conf} (ConfChange)
 *   entry block    [count u32] then count x ([bytes u32][entry])
 *   AppendEntries  [0x02][header bytes u32][header: v1-style JSON of every field
 *                  but entries][entry block]
 * Decoders accept both versions (logs written by an older node still load).
 *
 * Decoding is the trust boundary for peer traffic (issue 4 "garbage on the
 * Raft port"): anything that is not a well-formed message for this node is
 * `null` (the caller counts and drops it), never an exception. Shape is
 * checked here; ranges and Raft semantics by the core's `messageProblem`.
 */
import { assert } from '@fjord/protocol';
import { messageProblem, type ConfState, type Entry, type HardState, type NodeId, type RaftMessage, type Snapshot, type SnapshotMeta } from '@fjord/raft';

export const RAFT_CODEC_FORMAT_V1 = 0x01;
export const RAFT_CODEC_FORMAT_V2 = 0x02;

const ENTRY_NORMAL = 1;
const ENTRY_CONF_CHANGE = 2;
const ENTRY_HEAD_BYTES = 1 + 1 + 8 + 8;
/** More entries than this in one block is garbage (a Raft batch is bounded by maxRaftMsgBytes long before). */
const MAX_BLOCK_ENTRIES = 1 << 20;

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

function entryBytes(e: Entry): number {
  return ENTRY_HEAD_BYTES + (e.type === 'Normal' ? e.data.byteLength : 0);
}

/** Writes entry `e` (v2) at `offset` of `out`; returns the offset after it. */
function writeEntry(e: Entry, out: Uint8Array, view: DataView, offset: number, confPayload: Uint8Array | null): number {
  out[offset] = RAFT_CODEC_FORMAT_V2;
  out[offset + 1] = e.type === 'Normal' ? ENTRY_NORMAL : ENTRY_CONF_CHANGE;
  view.setFloat64(offset + 2, e.index);
  view.setFloat64(offset + 10, e.term);
  const payload = e.type === 'Normal' ? e.data : (confPayload as Uint8Array);
  out.set(payload, offset + ENTRY_HEAD_BYTES);
  return offset + ENTRY_HEAD_BYTES + payload.byteLength;
}

function confPayloadOf(e: Entry): Uint8Array | null {
  return e.type === 'ConfChange' ? encoder.encode(JSON.stringify({ change: { type: e.change.type, nodeId: e.change.nodeId }, conf: confToJson(e.conf) })) : null;
}

export function encodeEntry(e: Entry): Uint8Array {
  const conf = confPayloadOf(e);
  const out = new Uint8Array(entryBytes(e) + (conf?.byteLength ?? 0));
  writeEntry(e, out, new DataView(out.buffer), 0, conf);
  return out;
}

function safeCount(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

/** A v2 entry in `bytes` (the whole view); the data is copied, so the entry never pins a network buffer. */
function decodeEntryV2(bytes: Uint8Array): Entry | null {
  if (bytes.byteLength < ENTRY_HEAD_BYTES || bytes[0] !== RAFT_CODEC_FORMAT_V2) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const index = view.getFloat64(2);
  const term = view.getFloat64(10);
  if (!safeCount(index) || !safeCount(term)) return null;
  const payload = bytes.subarray(ENTRY_HEAD_BYTES);
  if (bytes[1] === ENTRY_NORMAL) return { type: 'Normal', index, term, data: new Uint8Array(payload) };
  if (bytes[1] !== ENTRY_CONF_CHANGE) return null;
  let o: unknown;
  try {
    o = JSON.parse(decoder.decode(payload));
  } catch {
    return null;
  }
  if (typeof o !== 'object' || o === null) return null;
  return entryFromJson({ ...(o as Record<string, unknown>), type: 'ConfChange', index, term });
}

export function decodeEntry(bytes: Uint8Array): Entry | null {
  if (bytes.byteLength > 0 && bytes[0] === RAFT_CODEC_FORMAT_V2) return decodeEntryV2(bytes);
  return entryFromJson(parseFormatted(bytes));
}

/** Entries -> one entry block (v2), optionally behind `prefix` bytes the caller fills. */
export function encodeEntryBlock(entries: readonly Entry[], prefixBytes = 0): Uint8Array {
  const confs = entries.map(confPayloadOf);
  let total = prefixBytes + 4;
  for (let i = 0; i < entries.length; i++) total += 4 + entryBytes(entries[i] as Entry) + (confs[i]?.byteLength ?? 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(prefixBytes, entries.length);
  let offset = prefixBytes + 4;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i] as Entry;
    const bytes = entryBytes(e) + (confs[i]?.byteLength ?? 0);
    view.setUint32(offset, bytes);
    offset = writeEntry(e, out, view, offset + 4, confs[i] ?? null);
  }
  assert(offset === total, 'entry block size');
  return out;
}

/** An entry block starting at `offset` and running to the end of `bytes`, or null when malformed. */
export function decodeEntryBlock(bytes: Uint8Array, offset = 0): Entry[] | null {
  if (offset < 0 || bytes.byteLength - offset < 4) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint32(offset);
  if (count > MAX_BLOCK_ENTRIES || count * (4 + ENTRY_HEAD_BYTES) > bytes.byteLength - offset - 4) return null;
  let at = offset + 4;
  const entries: Entry[] = [];
  for (let i = 0; i < count; i++) {
    if (bytes.byteLength - at < 4) return null;
    const n = view.getUint32(at);
    at += 4;
    if (n > bytes.byteLength - at) return null;
    const e = decodeEntryV2(bytes.subarray(at, at + n));
    if (e === null) return null;
    entries.push(e);
    at += n;
  }
  return at === bytes.byteLength ? entries : null;
}

function snapshotToJson(s: Snapshot): Json {
  return { meta: snapshotMetaToJson(s.meta), data: b64(s.data) };
}

export function encodeRaftMessage(m: RaftMessage): Uint8Array {
  switch (m.type) {
    case 'AppendEntries': {
      const header = encoder.encode(JSON.stringify({ type: m.type, from: m.from, to: m.to, term: m.term, prevLogIndex: m.prevLogIndex, prevLogTerm: m.prevLogTerm, commit: m.commit, ...(m.commitOnly === true ? { commitOnly: true } : {}) }));
      const out = encodeEntryBlock(m.entries, 5 + header.byteLength);
      out[0] = RAFT_CODEC_FORMAT_V2;
      new DataView(out.buffer).setUint32(1, header.byteLength);
      out.set(header, 5);
      return out;
    }
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
  if (bytes.byteLength > 0 && bytes[0] === RAFT_CODEC_FORMAT_V2) return decodeAppendEntriesV2(bytes, self);
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

function decodeAppendEntriesV2(bytes: Uint8Array, self: NodeId): { message: RaftMessage } | { problem: string } {
  if (bytes.byteLength < 5) return { problem: 'truncated binary message' };
  const headerBytes = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(1);
  if (headerBytes > bytes.byteLength - 5) return { problem: 'binary message header overruns it' };
  let header: unknown;
  try {
    header = JSON.parse(decoder.decode(bytes.subarray(5, 5 + headerBytes)));
  } catch {
    return { problem: 'binary message header is not JSON' };
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header) || (header as Record<string, unknown>)['type'] !== 'AppendEntries') return { problem: 'binary message is not AppendEntries' };
  const entries = decodeEntryBlock(bytes, 5 + headerBytes);
  if (entries === null) return { problem: 'malformed entry block' };
  const candidate = { ...(header as Record<string, unknown>), entries };
  const problem = messageProblem(candidate, self);
  if (problem !== undefined) return { problem };
  return { message: candidate as unknown as RaftMessage };
}
