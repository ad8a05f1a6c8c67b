// Goal: the LevelDB Raft store keeps exactly what each Ready made durable:
// a bootstrap configuration, entries (including a conflicting tail replaced
// by a shorter one), the hard state, a received snapshot that replaces the
// log, and a local snapshot with compaction; a reopened store loads the same
// MemoryLog. A Ready's entries are one run (one LevelDB key); a conflicting
// tail that cuts into runs, and logs written one key per entry by an older
// node, load the same. Real LevelDB in a temp dir.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Level } from 'level';
import type { Entry, Ready } from '@fjord/raft';
import { encodeJsonValue, entryToJson } from '../src/raft-codec.js';
import { LevelRaftStore } from '../src/level-raft-store.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'fjord-store-'));
  dirs.push(d);
  return d;
}

function normal(index: number, term: number): Entry {
  return { type: 'Normal', index, term, data: new Uint8Array([index % 256]) };
}

function ready(parts: Partial<Ready>): Ready {
  return { softState: undefined, hardState: undefined, entries: [], snapshot: undefined, committedEntries: [], messages: [], earlyMessages: [], readStates: [], mustSync: true, ...parts };
}

const conf = { voters: [1, 2, 3], learners: [] };

describe('LevelRaftStore', () => {
  it('bootstraps, appends, truncates a conflicting tail, and reloads the same log', async () => {
    const dir = tempDir();
    let store = await LevelRaftStore.open({ dir });
    const { log, bootstrapped } = await store.load({ bootstrapConf: conf });
    expect(bootstrapped).toBe(true);
    await store.persistReady(ready({ entries: [1, 2, 3, 4, 5].map((i) => normal(i, 1)), hardState: { term: 1, vote: 1, commit: 2 } }), log);
    await store.persistReady(ready({ entries: [normal(3, 2)], hardState: { term: 2, vote: 2, commit: 2 } }), log);
    expect(log.lastIndex()).toBe(3);
    expect(store.stats.batches).toBe(3);
    await store.close();

    store = await LevelRaftStore.open({ dir });
    const again = await store.load({ bootstrapConf: conf });
    expect(again.bootstrapped).toBe(false);
    expect(again.log.allEntries()).toEqual([normal(1, 1), normal(2, 1), normal(3, 2)]);
    expect(again.log.hardState()).toEqual({ term: 2, vote: 2, commit: 2 });
    expect(again.log.snapshot().meta.conf).toEqual(conf);
    await store.close();
  });

  it('installs a received snapshot and compacts after a local one', async () => {
    const dir = tempDir();
    let store = await LevelRaftStore.open({ dir });
    const { log } = await store.load({ bootstrapConf: null });
    expect(log.snapshot().meta.conf.voters).toEqual([]);
    await store.persistReady(ready({ entries: [1, 2].map((i) => normal(i, 1)) }), log);
    const snapshot = { meta: { index: 10, term: 2, conf: { voters: [1, 2, 3], learners: [4] } }, data: new Uint8Array([9, 9]) };
    await store.persistReady(ready({ snapshot, entries: [normal(11, 2), normal(12, 2)], hardState: { term: 2, vote: 0, commit: 12 } }), log);
    expect(log.firstIndex()).toBe(11);
    await store.saveSnapshot({ log, index: 12, conf: snapshot.meta.conf, data: new Uint8Array([7]), compactTo: 11 });
    await store.persistReady(ready({ entries: [normal(13, 2)] }), log);
    await store.close();

    store = await LevelRaftStore.open({ dir });
    const again = await store.load({ bootstrapConf: null });
    expect(again.log.snapshot().meta).toEqual({ index: 12, term: 2, conf: { voters: [1, 2, 3], learners: [4] } });
    expect([...again.log.snapshot().data]).toEqual([7]);
    // On restart the log starts at the snapshot (entries kept behind it for catch-up are not reloaded).
    expect(again.log.firstIndex()).toBe(13);
    expect(again.log.allEntries()).toEqual([normal(13, 2)]);
    await store.close();
  });

  it('defers a commit-only hard state to the next batch or close (it needs no durability)', async () => {
    const dir = tempDir();
    let store = await LevelRaftStore.open({ dir });
    const { log } = await store.load({ bootstrapConf: conf });
    await store.persistReady(ready({ entries: [normal(1, 1), normal(2, 1)], hardState: { term: 1, vote: 1, commit: 0 } }), log);
    const batches = store.stats.batches;
    await store.persistReady(ready({ hardState: { term: 1, vote: 1, commit: 2 }, mustSync: false }), log);
    expect(store.stats.batches).toBe(batches);
    expect(log.hardState().commit).toBe(2);
    expect((await store.storedHardState())?.commit).toBe(0);
    await store.persistReady(ready({ entries: [normal(3, 1)] }), log);
    expect((await store.storedHardState())?.commit).toBe(2);
    await store.persistReady(ready({ hardState: { term: 1, vote: 1, commit: 3 }, mustSync: false }), log);
    await store.close();
    store = await LevelRaftStore.open({ dir });
    expect((await store.load({ bootstrapConf: conf })).log.hardState()).toEqual({ term: 1, vote: 1, commit: 3 });
    await store.close();
  });

  it('stores the entries of a Ready as one run, and a conflicting tail that cuts into runs reloads the same', async () => {
    const dir = tempDir();
    let store = await LevelRaftStore.open({ dir });
    const { log } = await store.load({ bootstrapConf: conf });
    const ops = store.stats.ops;
    await store.persistReady(ready({ entries: Array.from({ length: 100 }, (_, i) => normal(i + 1, 1)), hardState: { term: 1, vote: 1, commit: 0 } }), log);
    expect(store.stats.ops - ops).toBe(2); // the run and the hard state
    await store.persistReady(ready({ entries: [101, 102, 103].map((i) => normal(i, 1)) }), log);
    await store.persistReady(ready({ entries: [104, 105, 106].map((i) => normal(i, 1)) }), log);
    // A new leader's entries from 102 replace 102..106: run 101 keeps its head, run 104 goes.
    await store.persistReady(ready({ entries: [normal(102, 2)], hardState: { term: 2, vote: 2, commit: 50 } }), log);
    await store.persistReady(ready({ entries: [normal(103, 2), normal(104, 2)], hardState: { term: 2, vote: 2, commit: 104 } }), log);
    const expected = [...Array.from({ length: 101 }, (_, i) => normal(i + 1, 1)), normal(102, 2), normal(103, 2), normal(104, 2)];
    expect(log.allEntries()).toEqual(expected);
    await store.close();

    store = await LevelRaftStore.open({ dir });
    const again = await store.load({ bootstrapConf: conf });
    expect(again.log.allEntries()).toEqual(expected);
    // Compaction drops whole runs only: 1..100 and 101 (its tail was replaced) go; 102 and 103..104 stay.
    await store.saveSnapshot({ log: again.log, index: 103, conf, data: new Uint8Array([1]), compactTo: 101 });
    await store.close();
    const raw = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
    const keys: string[] = [];
    for await (const key of raw.keys({ gte: 'r', lt: 's' })) keys.push(key);
    await raw.close();
    expect(keys.map((k) => Number.parseInt(k.slice(1), 16))).toEqual([102, 103]);
    store = await LevelRaftStore.open({ dir });
    expect((await store.load({ bootstrapConf: conf })).log.allEntries()).toEqual([normal(104, 2)]);
    await store.close();
  });

  it('loads a log written one key per entry (the older layout) and replaces its tail', async () => {
    const dir = tempDir();
    let store = await LevelRaftStore.open({ dir });
    await store.load({ bootstrapConf: conf });
    await store.close();
    const raw = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
    for (const e of [1, 2, 3].map((i) => normal(i, 1))) await raw.put(`e${e.index.toString(16).padStart(16, '0')}`, encodeJsonValue(entryToJson(e)));
    await raw.close();

    store = await LevelRaftStore.open({ dir });
    const { log } = await store.load({ bootstrapConf: conf });
    expect(log.allEntries()).toEqual([normal(1, 1), normal(2, 1), normal(3, 1)]);
    await store.persistReady(ready({ entries: [normal(3, 2), normal(4, 2)], hardState: { term: 2, vote: 1, commit: 4 } }), log);
    await store.close();
    store = await LevelRaftStore.open({ dir });
    const again = await store.load({ bootstrapConf: conf });
    expect(again.log.allEntries()).toEqual([normal(1, 1), normal(2, 1), normal(3, 2), normal(4, 2)]);
    await store.saveSnapshot({ log: again.log, index: 3, conf, data: new Uint8Array(0), compactTo: 2 });
    await store.close();
    const after = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
    const legacy: string[] = [];
    for await (const key of after.keys({ gte: 'e', lt: 'f' })) legacy.push(key);
    await after.close();
    expect(legacy).toEqual([]);
  });

  it('refuses a directory another process holds', async () => {
    const dir = tempDir();
    const store = await LevelRaftStore.open({ dir });
    await expect(LevelRaftStore.open({ dir })).rejects.toMatchObject({ code: 'INVALID_CONFIG' });
    await store.close();
  });
});
