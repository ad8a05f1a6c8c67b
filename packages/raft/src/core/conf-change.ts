/**
 * Membership changes, one server at a time (Raft thesis §4.1-4.3). A change is
 * validated here against the current configuration and produces the complete
 * next configuration, which travels inside the log entry.
 */
import type { ConfChange, ConfState, NodeId } from '../types.js';

export const EMPTY_CONF: ConfState = Object.freeze({ voters: Object.freeze([]), learners: Object.freeze([]) });

/** Returns the next configuration, or a reason the change is invalid. */
export function applyConfChange(conf: ConfState, change: ConfChange): ConfState | string {
  const id = change.nodeId;
  if (!Number.isSafeInteger(id) || id <= 0) return `invalid node id ${id}`;
  const isVoter = conf.voters.includes(id);
  const isLearner = conf.learners.includes(id);
  switch (change.type) {
    case 'AddVoter':
      if (isVoter) return `node ${id} is already a voter`;
      // Promoting a learner or adding a new voter: either way, one voter more.
      return normalize({ voters: [...conf.voters, id], learners: conf.learners.filter((x) => x !== id) });
    case 'AddLearner':
      if (isLearner) return `node ${id} is already a learner`;
      // Demoting a voter is not supported: remove it and add it back as a learner.
      if (isVoter) return `node ${id} is a voter; remove it first`;
      return normalize({ voters: conf.voters, learners: [...conf.learners, id] });
    case 'RemoveNode':
      if (!isVoter && !isLearner) return `node ${id} is not a member`;
      if (isVoter && conf.voters.length === 1) return 'cannot remove the last voter';
      return normalize({ voters: conf.voters.filter((x) => x !== id), learners: conf.learners.filter((x) => x !== id) });
  }
}

export function normalize(conf: ConfState): ConfState {
  return Object.freeze({
    voters: Object.freeze([...conf.voters].sort((a, b) => a - b)),
    learners: Object.freeze([...conf.learners].sort((a, b) => a - b)),
  });
}

export function isMember(conf: ConfState, id: NodeId): boolean {
  return conf.voters.includes(id) || conf.learners.includes(id);
}

/** Structural validation of a configuration received from the network. */
export function confProblem(conf: unknown): string | undefined {
  if (typeof conf !== 'object' || conf === null) return 'conf is not an object';
  const c = conf as { voters?: unknown; learners?: unknown };
  if (!Array.isArray(c.voters) || !Array.isArray(c.learners)) return 'conf needs voters and learners arrays';
  const seen = new Set<number>();
  for (const id of [...(c.voters as unknown[]), ...(c.learners as unknown[])]) {
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0) return 'conf has an invalid node id';
    if (seen.has(id)) return 'conf lists a node twice';
    seen.add(id);
  }
  return undefined;
}

export function confToString(conf: ConfState): string {
  const l = conf.learners.length > 0 ? ` learners=(${conf.learners.join(',')})` : '';
  return `voters=(${conf.voters.join(',')})${l}`;
}
