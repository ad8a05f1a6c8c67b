/**
 * Whether a Raft snapshot received from a peer can be restored here: its
 * envelope (address book + metadata snapshot, raft-node.ts
 * encodeSnapshotEnvelope) decodes and the metadata snapshot passes
 * metadata-snapshot.ts's checks. The Raft shell restores an installed
 * snapshot under an assert (a local snapshot that does not restore is a
 * broken invariant), so the transport asks this before a peer's snapshot
 * reaches Raft (grpc-raft-transport.ts, SnapshotTransferOptions.dataProblem).
 * It decodes the metadata once more than the restore does; snapshots are rare.
 */
import { decodeSnapshot } from './metadata-snapshot.js';
import { decodeSnapshotEnvelope } from './raft-node.js';

export function snapshotDataProblem(data: Uint8Array): string | undefined {
  const envelope = decodeSnapshotEnvelope(data);
  if (envelope === null) return 'the snapshot envelope does not decode';
  if (envelope.machine.byteLength === 0) return undefined;
  const decoded = decodeSnapshot(envelope.machine);
  return decoded.ok ? undefined : `the metadata snapshot does not restore: ${decoded.error.message}`;
}
