// Goal: prove the checkers can fail. Each deliberately broken variant of the
// core (TestingBugs, a test-only option) must be caught by the simulator within
// a bounded number of seeds, and the same fault profile without the bug must
// stay clean. A checker that never fires proves nothing.
import { describe, expect, it } from 'vitest';
import { runSeed, type SwarmParams } from '../src/sim/index.js';
import type { TestingBugs } from '../src/index.js';

interface Case {
  readonly bug: keyof TestingBugs;
  /** The fault profile aimed at the bug (swarm overrides). */
  readonly params: Partial<SwarmParams>;
  readonly maxSeeds: number;
  readonly expect: RegExp;
}

const CHURN: Partial<SwarmParams> = {
  voters: 5,
  preVote: false,
  checkQuorum: false,
  crashPerMille: 0,
  maxDelayTicks: 5,
  maxMsgBytes: 1,
  maxInflightMsgs: 1,
  electionTicks: 6,
  heartbeatTicks: 3,
  partitionPerMille: 150,
  healPerMille: 150,
  dropPerMille: 200,
  proposePerMille: 900,
  snapshotEveryEntries: 0,
};

const CASES: readonly Case[] = [
  // Figure 8 of the Raft paper needs long runs of leader churn.
  {
    bug: 'commitOldTermEntries',
    params: { ...CHURN, voters: 3, spares: 0, faultTicks: 1000 },
    maxSeeds: 400,
    expect: /leader completeness|state machine safety|acknowledged write/,
  },
  {
    bug: 'skipPersistVote',
    params: { voters: 5, preVote: false, checkQuorum: false, crashPerMille: 100, restartPerMille: 600, maxDelayTicks: 6, dupPerMille: 200, electionTicks: 6, heartbeatTicks: 1, partitionPerMille: 20 },
    maxSeeds: 200,
    expect: /voted twice|two leaders/,
  },
  { bug: 'grantVoteWithoutLogCheck', params: { voters: 5, partitionPerMille: 30, crashPerMille: 10 }, maxSeeds: 200, expect: /leader completeness|state machine safety|two leaders/ },
  {
    bug: 'readIndexWithoutHeartbeat',
    params: { voters: 3, checkQuorum: false, partitionPerMille: 30, healPerMille: 10, readPerMille: 300, dropPerMille: 0, crashPerMille: 0 },
    maxSeeds: 200,
    expect: /linearizability/,
  },
  { bug: 'skipPrevLogTermCheck', params: CHURN, maxSeeds: 200, expect: /log matching|state machine safety|leader completeness/ },
];

describe('broken variants are caught', () => {
  for (const c of CASES) {
    it(`${c.bug}: found within ${c.maxSeeds} seeds`, () => {
      let found: { seed: number; violation: string } | undefined;
      for (let seed = 1; seed <= c.maxSeeds && found === undefined; seed++) {
        const r = runSeed({ seed, bugs: { [c.bug]: true }, params: c.params });
        if (!r.ok) found = { seed, violation: r.violation ?? '' };
      }
      expect(found, `no violation in ${c.maxSeeds} seeds`).toBeDefined();
      expect(found?.violation).toMatch(c.expect);
    });
  }

  it('the same fault profiles without bugs are clean (no false alarms)', () => {
    for (const c of CASES) {
      for (let seed = 1; seed <= 40; seed++) {
        const r = runSeed({ seed, params: c.params });
        expect(r.violation, `${c.bug} profile, seed ${seed}`).toBeUndefined();
      }
    }
  });
});
