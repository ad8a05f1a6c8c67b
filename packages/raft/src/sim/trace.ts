/**
 * A bounded ring of recent simulator events, formatted only when a seed fails
 * (formatting every message would dominate the run time).
 */
import type { RaftMessage } from '../types.js';

export type TraceItem = { t: number; node: number; text: string } | { t: number; node: number; msg: RaftMessage; dir: 'deliver' };

export class Trace {
  private readonly items: TraceItem[] = [];
  private next = 0;

  constructor(private readonly capacity: number) {}

  add(item: TraceItem): void {
    if (this.items.length < this.capacity) this.items.push(item);
    else this.items[this.next] = item;
    this.next = (this.next + 1) % this.capacity;
  }

  note(t: number, node: number, text: string): void {
    this.add({ t, node, text });
  }

  lines(): string[] {
    const ordered = this.items.length < this.capacity ? this.items : [...this.items.slice(this.next), ...this.items.slice(0, this.next)];
    return ordered.map((it) => `t=${String(it.t).padStart(5)} n${it.node}  ${'text' in it ? it.text : formatMessage(it.msg)}`);
  }
}

/** One line per message, used by the trace and by transcript tests. */
export function formatMessage(m: RaftMessage): string {
  const head = `${m.from}->${m.to} ${m.type} term=${m.term}`;
  switch (m.type) {
    case 'RequestVote':
      return `${head}${m.preVote ? ' pre' : ''}${m.leaderTransfer ? ' transfer' : ''} last=${m.lastLogIndex}/${m.lastLogTerm}`;
    case 'RequestVoteResponse':
      return `${head}${m.preVote ? ' pre' : ''} ${m.granted ? 'granted' : 'rejected'}`;
    case 'AppendEntries': {
      const ents = m.entries.map((e) => (e.type === 'Normal' ? `${e.term}/${e.index}` : `${e.term}/${e.index}:${e.change.type}(${e.change.nodeId})`));
      return `${head} prev=${m.prevLogIndex}/${m.prevLogTerm} commit=${m.commit} entries=[${ents.join(' ')}]${m.commitOnly === true ? ' notice' : ''}`;
    }
    case 'AppendEntriesResponse':
      return m.reject ? `${head} reject index=${m.index} hint=${m.rejectHint}/${m.hintTerm}` : `${head} index=${m.index}`;
    case 'Heartbeat':
      return `${head} commit=${m.commit}${m.readCtx === '' ? '' : ` ctx=${m.readCtx}`}`;
    case 'HeartbeatResponse':
      return `${head}${m.readCtx === '' ? '' : ` ctx=${m.readCtx}`}`;
    case 'InstallSnapshot':
      return `${head} snapshot=${m.snapshot.meta.index}/${m.snapshot.meta.term} voters=(${m.snapshot.meta.conf.voters.join(',')})`;
    case 'TimeoutNow':
      return head;
    case 'ReadIndex':
      return `${head} ctx=${m.readCtx}`;
    case 'ReadIndexResponse':
      return `${head} ctx=${m.readCtx} index=${m.index}`;
  }
}
