/**
 * The acknowledged-history checker behind every failover test and drill: each
 * acknowledged record is read back exactly once, and records of one partition
 * come back in the order they were acknowledged. Records that were sent but not
 * acknowledged (timeouts, lost responses) may be absent, but never duplicated.
 */
export interface AckedRecord {
  partition: number;
  /** A unique id per record (the producer writes it into the value). */
  id: string;
}

export interface ConsumedRecord {
  partition: number;
  offset: number;
  id: string;
}

export interface HistoryReport {
  ok: boolean;
  ackedCount: number;
  consumedCount: number;
  lost: AckedRecord[];
  duplicated: { id: string; offsets: number[] }[];
  /** Acked records of one partition read back out of acknowledgement order. */
  reordered: { partition: number; id: string; after: string }[];
  /** Consumed offsets that did not strictly increase within a partition. */
  nonMonotonicOffsets: { partition: number; offset: number; previous: number }[];
}

export function checkHistory(input: { acked: readonly AckedRecord[]; consumed: readonly ConsumedRecord[] }): HistoryReport {
  const offsetsById = new Map<string, number[]>();
  const positionById = new Map<string, { partition: number; index: number }>();
  const nonMonotonicOffsets: HistoryReport['nonMonotonicOffsets'] = [];
  const lastOffset = new Map<number, number>();
  const perPartitionIndex = new Map<number, number>();

  for (const r of input.consumed) {
    const prev = lastOffset.get(r.partition);
    if (prev !== undefined && r.offset <= prev) nonMonotonicOffsets.push({ partition: r.partition, offset: r.offset, previous: prev });
    lastOffset.set(r.partition, r.offset);
    const offsets = offsetsById.get(r.id) ?? [];
    offsets.push(r.offset);
    offsetsById.set(r.id, offsets);
    const index = perPartitionIndex.get(r.partition) ?? 0;
    perPartitionIndex.set(r.partition, index + 1);
    if (!positionById.has(r.id)) positionById.set(r.id, { partition: r.partition, index });
  }

  const duplicated = [...offsetsById.entries()].filter(([, offsets]) => offsets.length > 1).map(([id, offsets]) => ({ id, offsets }));
  const lost: AckedRecord[] = [];
  const reordered: HistoryReport['reordered'] = [];
  const lastSeen = new Map<number, { id: string; index: number }>();
  for (const a of input.acked) {
    const pos = positionById.get(a.id);
    if (pos === undefined || pos.partition !== a.partition) {
      lost.push(a);
      continue;
    }
    const prev = lastSeen.get(a.partition);
    if (prev !== undefined && pos.index < prev.index) reordered.push({ partition: a.partition, id: a.id, after: prev.id });
    lastSeen.set(a.partition, { id: a.id, index: pos.index });
  }

  return {
    ok: lost.length === 0 && duplicated.length === 0 && reordered.length === 0 && nonMonotonicOffsets.length === 0,
    ackedCount: input.acked.length,
    consumedCount: input.consumed.length,
    lost,
    duplicated,
    reordered,
    nonMonotonicOffsets,
  };
}
