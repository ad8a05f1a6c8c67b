// Goal: the simulator's safety and liveness campaign in CI. At least 1,000
// seeds per run: a fixed list (1..FIXED) that always runs, RANDOM seeds drawn
// fresh each run, and PER_PROFILE seeds of each aimed fault profile
// (SIM_PROFILES) against the real core. A failing seed prints the one command
// that replays it and the last events before the violation.
import { randomInt } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { formatFailure, runSeed, SIM_PROFILES, type SwarmParams } from '../src/sim/index.js';

const FIXED = Number(process.env.FJORD_SIM_FIXED_SEEDS ?? 600);
const RANDOM = Number(process.env.FJORD_SIM_RANDOM_SEEDS ?? 400);
const PER_PROFILE = Number(process.env.FJORD_SIM_PROFILE_SEEDS ?? 40);
const CHUNK = 100;

function runChunk(seeds: readonly number[], profile?: string): void {
  const params: Partial<SwarmParams> | undefined = profile === undefined ? undefined : SIM_PROFILES[profile];
  const failures: string[] = [];
  for (const seed of seeds) {
    const r = runSeed({ seed, ...(profile === undefined ? {} : { profile }), ...(params === undefined ? {} : { params }) });
    if (!r.ok) failures.push(formatFailure(r));
  }
  expect(failures.join('\n\n')).toBe('');
}

describe('simulator: fixed seeds', () => {
  for (let start = 1; start <= FIXED; start += CHUNK) {
    const seeds = Array.from({ length: Math.min(CHUNK, FIXED - start + 1) }, (_, i) => start + i);
    it(`seeds ${start}..${start + seeds.length - 1} are safe and live`, () => runChunk(seeds));
  }
});

describe('simulator: random seeds', () => {
  const seeds = Array.from({ length: RANDOM }, () => randomInt(1, 2 ** 47));
  for (let start = 0; start < seeds.length; start += CHUNK) {
    const chunk = seeds.slice(start, start + CHUNK);
    it(`${chunk.length} random seeds (first ${chunk[0]}) are safe and live`, () => runChunk(chunk));
  }
});

describe('simulator: aimed fault profiles', () => {
  for (const name of Object.keys(SIM_PROFILES)) {
    const seeds = Array.from({ length: PER_PROFILE }, () => randomInt(1, 2 ** 47));
    it(`${PER_PROFILE} random seeds of profile ${name} (first ${seeds[0]}) are safe and live`, () => runChunk(seeds, name));
  }
});

describe('simulator: determinism', () => {
  it('one seed replays the exact same run', () => {
    for (const seed of [7, 123456, 2 ** 40 + 3]) {
      const a = runSeed({ seed });
      const b = runSeed({ seed });
      expect(b.ticks).toBe(a.ticks);
      expect(b.stats).toEqual(a.stats);
      expect(b.params).toEqual(a.params);
    }
  });

  it('a seed exercises the system: commits, elections and acknowledged writes happen', () => {
    let acked = 0;
    let elections = 0;
    let reads = 0;
    for (let seed = 1; seed <= 50; seed++) {
      const r = runSeed({ seed });
      acked += r.stats.acked;
      elections += r.stats.elections;
      reads += r.stats.readsServed;
    }
    expect(acked).toBeGreaterThan(1000);
    expect(elections).toBeGreaterThan(100);
    expect(reads).toBeGreaterThan(100);
  });
});
