// Goal: the persistent map behaves exactly like a Map (checked against one
// over a seeded random sequence of sets and deletes), never changes an old
// version when a new one is made, iterates deterministically, and an update
// copies one path and shares the rest, so its cost does not grow with the
// size (the reason it exists).
import { describe, expect, it } from 'vitest';
import { Rng } from '@fjord/protocol';
import { PersistentMap } from '../src/persistent-map.js';

describe('PersistentMap', () => {
  it('matches a Map over random operations, and old versions never change', () => {
    const rng = new Rng(5);
    let map = PersistentMap.empty<number>();
    const model = new Map<string, number>();
    const versions: [PersistentMap<number>, Map<string, number>][] = [];
    for (let i = 0; i < 5000; i++) {
      const key = `k${rng.int(700)}`;
      if (rng.chance(2, 3)) {
        map = map.set(key, i);
        model.set(key, i);
      } else {
        const next = map.delete(key);
        if (!model.has(key)) expect(next).toBe(map);
        map = next;
        model.delete(key);
      }
      if (i % 500 === 0) versions.push([map, new Map(model)]);
    }
    expect(map.size).toBe(model.size);
    expect(new Map(map)).toEqual(model);
    for (const [key, value] of model) expect(map.get(key)).toBe(value);
    expect(map.has('absent')).toBe(false);
    for (const [old, snapshot] of versions) {
      expect(old.size).toBe(snapshot.size);
      expect(new Map(old.entries())).toEqual(snapshot);
    }
    expect([...map.keys()].length).toBe(model.size);
    expect([...map.values()].sort()).toEqual([...model.values()].sort());
    let seen = 0;
    map.forEach(() => seen++);
    expect(seen).toBe(model.size);
  });

  it('iterates deterministically, whatever the insertion history', () => {
    const a = PersistentMap.from([['x', 1], ['y', 2], ['z', 3]]);
    const b = PersistentMap.empty<number>().set('z', 3).set('x', 1).set('y', 2);
    expect([...a.keys()].sort()).toEqual(['x', 'y', 'z']);
    expect(new Map(a)).toEqual(new Map(b));
    // vitest equality looks inside: different values are not equal.
    expect(PersistentMap.from([['a', 1]])).not.toEqual(PersistentMap.from([['a', 2]]));
    expect(PersistentMap.from([['a', 1]])).toEqual(PersistentMap.from([['a', 1]]));
  });

  it('an update copies one path and shares everything else (so its cost does not grow with the size)', () => {
    type Root = readonly (readonly (readonly unknown[] | undefined)[] | undefined)[];
    const rootOf = (m: PersistentMap<number>): Root => (m as unknown as { root: Root }).root;
    const big = PersistentMap.from(Array.from({ length: 50_000 }, (_, i) => [`topic-${i}`, i] as const));
    const next = big.set('topic-123', -1);
    const [a, b] = [rootOf(big), rootOf(next)];
    let sharedMids = 0;
    let sharedLeaves = 0;
    let leaves = 0;
    for (let r = 0; r < a.length; r++) {
      if (a[r] === b[r]) sharedMids++;
      const [ma, mb] = [a[r] ?? [], b[r] ?? []];
      for (let m = 0; m < ma.length; m++) {
        leaves++;
        if (ma[m] === mb[m]) sharedLeaves++;
      }
    }
    expect(sharedMids).toBe(a.length - 1);
    expect(sharedLeaves).toBe(leaves - 1);
    // Leaves stay short: the largest holds a small fraction of the keys.
    const longest = Math.max(...a.flatMap((mid) => (mid ?? []).map((leaf) => leaf?.length ?? 0)));
    expect(longest).toBeLessThan(64);
    expect(big.get('topic-123')).toBe(123);
    expect(next.get('topic-123')).toBe(-1);
  });
});
