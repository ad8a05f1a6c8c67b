/** The closing report: a human table (both systems, the Fjord/NATS ratio, the target) and the JSON line, last. */
import { type Figures, out, round } from './common.js';

interface Row {
  label: string;
  key: keyof Figures;
  target: string;
  met: (fjord: number, nats: number | null) => boolean;
}

const ROWS: readonly Row[] = [
  { label: 'R3 publish, acks=all (msg/s)', key: 'publishR3PerSec', target: '>= 3x NATS', met: (f, n) => n !== null && f >= 3 * n },
  { label: 'latency p50 at 5k msg/s (ms)', key: 'latencyP50Ms', target: '-', met: () => true },
  { label: 'latency p99 at 5k msg/s (ms)', key: 'latencyP99Ms', target: '<= 0.8x NATS', met: (f, n) => n !== null && f <= 0.8 * n },
  { label: 'latency p99.9 at 5k msg/s (ms)', key: 'latencyP999Ms', target: '-', met: () => true },
  { label: 'consume R3 (msg/s)', key: 'consumePerSec', target: '>= 3x NATS', met: (f, n) => n !== null && f >= 3 * n },
  { label: 'single node publish (msg/s)', key: 'singleNodePublishPerSec', target: '>= 1.5x NATS R1', met: (f, n) => n !== null && f >= 1.5 * n },
  { label: 'failover: longest ack gap (ms)', key: 'failoverGapMs', target: '<= 1000 ms', met: (f) => f <= 1000 },
  { label: 'failover: acked records lost', key: 'lost', target: '0', met: (f) => f === 0 },
  { label: 'failover: acked records duplicated', key: 'duplicated', target: '0', met: (f) => f === 0 },
];

function show(v: number | null): string {
  if (v === null) return 'n/a';
  return Math.abs(v) >= 100 ? String(Math.round(v)) : String(round(v));
}

export function report(fjord: Figures, nats: Figures): void {
  out('');
  out('| figure | fjord | nats | fjord/nats | target | met |');
  out('| --- | --- | --- | --- | --- | --- |');
  for (const r of ROWS) {
    const f = fjord[r.key];
    const n = nats[r.key];
    const ratio = f === null || n === null || n === 0 ? 'n/a' : `${round(f / n)}x`;
    const met = f === null ? 'n/a' : r.target === '-' ? '' : r.met(f, n) ? 'yes' : 'NO';
    out(`| ${r.label} | ${show(f)} | ${show(n)} | ${ratio} | ${r.target} | ${met} |`);
  }
  out('');
  out(JSON.stringify({ fjord, nats }));
}
