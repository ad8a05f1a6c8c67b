// Goal: codes are API. docs/errors.md lists exactly the catalog's codes with the
// same flags, and FjordError carries what the catalog says.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CATALOG, ERROR_CODES, FjordError, errorCodeFromKafka, isFjordError, isRetriable } from '@fjord/protocol';

const docPath = join(import.meta.dirname, '..', '..', '..', 'docs', 'errors.md');

function documentedRows(): Map<string, string[]> {
  const rows = new Map<string, string[]>();
  for (const line of readFileSync(docPath, 'utf8').split('\n')) {
    const m = /^\| `([A-Z_]+)` \|(.*)\|$/.exec(line);
    if (m) rows.set(m[1] as string, (m[2] as string).split('|').map((c) => c.trim()));
  }
  return rows;
}

describe('error catalog', () => {
  it('docs/errors.md lists exactly the catalog codes, with matching flags', () => {
    const rows = documentedRows();
    expect([...rows.keys()].sort()).toEqual([...ERROR_CODES].sort());
    for (const code of ERROR_CODES) {
      const e = ERROR_CATALOG[code];
      const [kafka, retriable, refresh, rejoin] = rows.get(code) as string[];
      expect(kafka, code).toBe(e.kafkaCode === null ? '—' : String(e.kafkaCode));
      expect(retriable, code).toBe(e.retriable ? 'yes' : 'no');
      expect(refresh, code).toBe(e.refreshMetadata ? 'yes' : 'no');
      expect(rejoin, code).toBe(e.rejoinGroup ? 'yes' : 'no');
    }
  });

  it('Kafka numeric codes are unique', () => {
    const seen = new Set<number>();
    for (const code of ERROR_CODES) {
      const k = ERROR_CATALOG[code].kafkaCode;
      if (k === null) continue;
      expect(seen.has(k), `${code} reuses ${k}`).toBe(false);
      seen.add(k);
      expect(errorCodeFromKafka(k)).toBe(code);
    }
  });

  it('FjordError carries code, flags and details; other errors are not retriable', () => {
    const err = new FjordError('NOT_LEADER_OR_FOLLOWER', 'partition t-0', { topic: 't', partition: 0 });
    expect(err.code).toBe('NOT_LEADER_OR_FOLLOWER');
    expect(err.kafkaCode).toBe(6);
    expect(err.retriable).toBe(true);
    expect(err.refreshMetadata).toBe(true);
    expect(err.details).toEqual({ topic: 't', partition: 0 });
    expect(err.message).toContain('partition t-0');
    expect(isFjordError(err, 'NOT_LEADER_OR_FOLLOWER')).toBe(true);
    expect(isFjordError(err, 'CORRUPT_MESSAGE')).toBe(false);
    expect(isRetriable(err)).toBe(true);
    expect(isRetriable(new Error('boom'))).toBe(false);
    expect(isRetriable(new FjordError('INVALID_TOPIC'))).toBe(false);
  });
});
