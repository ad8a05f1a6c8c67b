/**
 * The workloads of issue 5's benchmark, the same for both systems:
 * R3 publish throughput, publish-to-ack latency at a fixed rate (open loop:
 * each record's latency counts from when it was due, so a stall shows up in
 * every record it delayed instead of hiding behind a slowed sender), consume,
 * single-node publish, and failover (kill -9 of the log's leader while
 * publishing at a fixed rate: the longest gap between acks, and acknowledged
 * records lost or duplicated, read back and compared by the id in each payload).
 */
import { KNOBS, idOf, nowMs, out, payloadFor, percentile, round, sleep } from './common.js';
import type { SystemUnderTest } from './system.js';

/** Publishes up to `count` records for at most KNOBS.publishMaxSeconds; returns { perSec, published }. */
export async function publishThroughput(sys: SystemUnderTest, log: string, count: number): Promise<{ perSec: number; published: number }> {
  const t0 = nowMs();
  const published = await sys.publishBurst(log, count, t0 + KNOBS.publishMaxSeconds * 1000);
  const elapsedMs = nowMs() - t0;
  const perSec = published / (elapsedMs / 1000);
  out(`  ${sys.name}: published ${published} records to ${log} in ${round(elapsedMs / 1000)} s: ${Math.round(perSec)} msg/s`);
  return { perSec, published };
}

export async function consumeThroughput(sys: SystemUnderTest, log: string, count: number): Promise<number> {
  const t0 = nowMs();
  await sys.consume(log, count);
  const perSec = count / ((nowMs() - t0) / 1000);
  out(`  ${sys.name}: consumed ${count} records of ${log}: ${Math.round(perSec)} msg/s`);
  return perSec;
}

/**
 * Calls `send(i, dueMs)` for i = 0..total-1 at `ratePerSec`, each when due
 * (a 1 ms timer loop; records that fell due while the loop slept go out at once).
 */
async function openLoop(ratePerSec: number, total: number, send: (i: number, dueMs: number) => void, stop: () => boolean = () => false): Promise<void> {
  const start = nowMs();
  const intervalMs = 1000 / ratePerSec;
  let i = 0;
  while (i < total && !stop()) {
    const due = Math.min(total, Math.floor((nowMs() - start) / intervalMs) + 1);
    for (; i < due; i++) send(i, start + i * intervalMs);
    await sleep(1);
  }
}

export async function latencyAtFixedRate(sys: SystemUnderTest, log: string): Promise<{ p50: number; p99: number; p999: number; errors: number }> {
  const total = Math.round(KNOBS.latencyRatePerSec * KNOBS.latencySeconds);
  const publisher = await sys.publisher(log, { retrying: false });
  const latencies = new Float64Array(total);
  let done = 0;
  let errors = 0;
  const payload = payloadFor(0);
  const settled = new Promise<void>((resolve) => {
    const onSettled = (): void => {
      if (++done === total) resolve();
    };
    void openLoop(KNOBS.latencyRatePerSec, total, (i, dueMs) => {
      publisher.publish(payload).then(
        () => {
          latencies[i] = nowMs() - dueMs;
          onSettled();
        },
        (e: unknown) => {
          latencies[i] = Number.POSITIVE_INFINITY;
          if (errors++ === 0) out(`  ${sys.name}: first publish error: ${String(e)}`);
          onSettled();
        },
      );
    });
  });
  await settled;
  await publisher.close();
  latencies.sort();
  const r = { p50: percentile(latencies, 50), p99: percentile(latencies, 99), p999: percentile(latencies, 99.9), errors };
  out(`  ${sys.name}: ${total} records at ${KNOBS.latencyRatePerSec}/s: p50 ${round(r.p50)} ms, p99 ${round(r.p99)} ms, p99.9 ${round(r.p999)} ms, ${errors} errors`);
  return r;
}

export async function failover(sys: SystemUnderTest, log: string): Promise<{ gapMs: number; lost: number; duplicated: number; acked: number; failed: number }> {
  const publisher = await sys.publisher(log, { retrying: true });
  const acked: number[] = [];
  const ackTimes: number[] = [];
  let failed = 0;
  let killed = false;
  const pending = new Set<Promise<void>>();
  const total = Math.round((KNOBS.failoverRatePerSec * (KNOBS.failoverBeforeMs + KNOBS.failoverAfterMs)) / 1000);
  const victim = await sys.leaderProcess(log);
  const killer = (async () => {
    await sleep(KNOBS.failoverBeforeMs);
    await victim.kill('SIGKILL');
    killed = true;
  })();
  await openLoop(KNOBS.failoverRatePerSec, total, (i) => {
    const p = publisher.publish(payloadFor(i + 1)).then(
      () => {
        acked.push(i + 1);
        ackTimes.push(nowMs());
      },
      (e: unknown) => {
        if (failed++ === 0) out(`  ${sys.name}: first publish error: ${String(e)}`);
      },
    );
    pending.add(p);
    void p.finally(() => pending.delete(p));
  });
  await killer;
  await Promise.allSettled([...pending]);
  await publisher.close();
  ackTimes.sort((a, b) => a - b);
  let gapMs = 0;
  for (let i = 1; i < ackTimes.length; i++) gapMs = Math.max(gapMs, (ackTimes[i] as number) - (ackTimes[i - 1] as number));
  const counts = new Map<number, number>();
  for (const p of await sys.readAll(log)) {
    const id = idOf(p);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  let lost = 0;
  let duplicated = 0;
  for (const id of acked) {
    const n = counts.get(id) ?? 0;
    if (n === 0) lost++;
    else if (n > 1) duplicated++;
  }
  out(
    `  ${sys.name}: failover at ${KNOBS.failoverRatePerSec}/s, killed ${victim.name} (${killed ? 'dead' : 'alive?'}) ${round(KNOBS.failoverBeforeMs / 1000)} s in: ` +
      `longest ack gap ${Math.round(gapMs)} ms, ${acked.length} acked, ${failed} failed, ${lost} lost, ${duplicated} duplicated, ${counts.size} distinct ids stored`,
  );
  return { gapMs, lost, duplicated, acked: acked.length, failed };
}
