// Goal: exact, message-by-message Raft behaviour for named scenarios, kept as
// reviewable transcripts in packages/raft/testdata/*.txt (each file opens with
// its goal). FJORD_REWRITE=1 npx vitest run packages/raft/test/interaction.test.ts
// regenerates the expected outputs; review the diff before committing.
import { isFjordError, Rng } from '@fjord/protocol';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { confToString, type ConfChange, type RaftMessage } from '../src/index.js';
import { formatMessage, SafetyChecker, SimCluster } from '../src/sim/index.js';
import { idList, intArg, parseTranscript, renderTranscript, type Block } from './transcript.js';

const DIR = join(import.meta.dirname, '..', 'testdata');
const REWRITE = process.env.FJORD_REWRITE === '1';

class Runner {
  private c: SimCluster | undefined;
  private delivered: string[] = [];

  private cluster(b: Block): SimCluster {
    if (this.c === undefined) throw new Error(`line ${b.line}: no cluster yet`);
    return this.c;
  }

  private tryErr(f: () => void): string {
    try {
      f();
      return 'ok';
    } catch (err) {
      if (isFjordError(err)) return `error ${err.code}: ${err.message}`;
      throw err;
    }
  }

  run(b: Block): string {
    switch (b.command) {
      case 'cluster': {
        const num = (k: string, d: number): number => Number(b.kv.get(k) ?? d);
        this.c = new SimCluster({
          voters: idList(b.kv.get('voters')),
          spares: idList(b.kv.get('spares')),
          rng: new Rng(num('seed', 1)),
          checker: new SafetyChecker(),
          snapshotEveryEntries: num('snapshot-every', 0),
          onDeliver: (m: RaftMessage) => this.delivered.push(formatMessage(m)),
          raft: {
            electionTicks: num('election', 10),
            heartbeatTicks: num('heartbeat', 1),
            maxMsgBytes: num('max-msg-bytes', 1 << 20),
            maxInflightMsgs: num('max-inflight', 256),
            maxUncommittedBytes: 1 << 30,
            preVote: b.args.includes('prevote'),
            checkQuorum: b.args.includes('checkquorum'),
          },
        });
        return 'ok';
      }
      case 'campaign': {
        const c = this.cluster(b);
        c.node(intArg(b, 0)).raw?.campaign();
        return this.settle(c);
      }
      case 'stabilize':
        return this.settle(this.cluster(b));
      case 'tick': {
        const c = this.cluster(b);
        const n = b.args.length > 1 ? intArg(b, 1) : 1;
        if (b.args[0] === 'all') {
          for (let i = 0; i < n; i++) c.tick();
          return this.drain();
        }
        for (let i = 0; i < n; i++) c.tickNode(c.node(intArg(b, 0)));
        return this.settle(c);
      }
      case 'propose': {
        const c = this.cluster(b);
        const r = c.propose(c.node(intArg(b, 0)), intArg(b, 1), 0);
        return r === 'ok' ? this.settle(c) : `error ${r}`;
      }
      case 'conf-change': {
        const c = this.cluster(b);
        const types: Record<string, ConfChange['type']> = { 'add-voter': 'AddVoter', 'add-learner': 'AddLearner', remove: 'RemoveNode' };
        const type = types[b.args[1] ?? ''];
        if (type === undefined) throw new Error(`line ${b.line}: conf-change <id> add-voter|add-learner|remove <node>`);
        const r = this.tryErr(() => c.node(intArg(b, 0)).raw?.proposeConfChange({ type, nodeId: intArg(b, 2) }));
        return r === 'ok' ? this.settle(c) : r;
      }
      case 'transfer-leader': {
        const c = this.cluster(b);
        const r = this.tryErr(() => c.node(intArg(b, 0)).raw?.transferLeader(intArg(b, 1)));
        return r === 'ok' ? this.settle(c) : r;
      }
      case 'read-index': {
        const c = this.cluster(b);
        const r = c.readIndex(c.node(intArg(b, 0)), b.args[1] ?? 'ctx');
        if (r !== 'ok') return `error ${r}`;
        const before = c.readsServed;
        const out = this.settle(c);
        return [out, `reads served: ${c.readsServed - before}`].filter((x) => x !== '').join('\n');
      }
      case 'partition': {
        const c = this.cluster(b);
        c.net.partition(idList(b.args[0]), idList(b.args[1]));
        return 'ok';
      }
      case 'heal':
        this.cluster(b).net.healPartitions();
        return 'ok';
      case 'crash': {
        const c = this.cluster(b);
        c.crash(c.node(intArg(b, 0)));
        return 'ok';
      }
      case 'restart': {
        const c = this.cluster(b);
        c.start(c.node(intArg(b, 0)));
        return 'ok';
      }
      case 'status':
        return this.status(this.cluster(b));
      case 'reads-served':
        return `reads served: ${this.cluster(b).readsServed}`;
      default:
        throw new Error(`line ${b.line}: unknown command ${b.command}`);
    }
  }

  private settle(c: SimCluster): string {
    c.pump();
    return this.drain();
  }

  private drain(): string {
    const out = this.delivered.join('\n');
    this.delivered = [];
    return out;
  }

  private status(c: SimCluster): string {
    const lines: string[] = [];
    for (const n of c.nodes.values()) {
      const r = n.raw?.raft;
      if (r === undefined) {
        lines.push(`n${n.id}: down`);
        continue;
      }
      lines.push(
        `n${n.id}: ${r.role} term=${r.term} lead=${r.lead} commit=${r.log.committed} last=${r.log.lastIndex()} first=${r.log.firstIndex()} applied=${n.app.appliedIndex} writes=[${n.app.writes.join(',')}] ${confToString(r.conf)}`,
      );
    }
    return lines.join('\n');
  }
}

describe('interaction transcripts', () => {
  for (const file of readdirSync(DIR).filter((f) => f.endsWith('.txt')).sort()) {
    it(file, () => {
      const path = join(DIR, file);
      const text = readFileSync(path, 'utf8');
      const parsed = parseTranscript(text);
      expect(parsed.blocks[0]?.preamble[0] ?? '', 'each transcript opens with its goal').toMatch(/^# Goal:/);
      const runner = new Runner();
      const outputs = parsed.blocks.map((b) => runner.run(b));
      const actual = renderTranscript(parsed, outputs);
      if (REWRITE) writeFileSync(path, actual);
      else expect(actual).toBe(text);
    });
  }
});
