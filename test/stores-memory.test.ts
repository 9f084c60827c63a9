import test from 'ava';
import { memoryStore } from '../src/stores/memory.js';

test('memory store: remembers, forgets on delete, and decides freshness by age', async (t) => {
  const store = memoryStore();
  t.teardown(() => store.close());
  t.is(store.freshness, 'by-age');
  t.is(await store.get('10.0.0.1'), undefined);
  await store.set('10.0.0.1', 1_700_000_000, 10);
  t.is(await store.get('10.0.0.1'), 1_700_000_000);
  await store.set('10.0.0.1', 1_700_000_005, 10);
  t.is(await store.get('10.0.0.1'), 1_700_000_005);
  await store.delete('10.0.0.1');
  t.is(await store.get('10.0.0.1'), undefined);
});

test('memory store: the sweep drops entries older than their timeout and keeps the rest', async (t) => {
  let nowMs = 1_700_000_000_000;
  const store = memoryStore({ now: () => nowMs });
  t.teardown(() => store.close());
  await store.set('old', 1_700_000_000, 5);
  await store.set('young', 1_700_000_004, 5);
  await store.set('long', 1_700_000_000, 60);
  nowMs += 5_000; // old is exactly 5 s old: still fresh (now − stored ≤ timeout)
  store.sweep();
  t.is(store.size, 3);
  nowMs += 1_000;
  store.sweep();
  t.is(store.size, 2);
  t.is(await store.get('old'), undefined);
  t.is(await store.get('young'), 1_700_000_004);
  t.is(await store.get('long'), 1_700_000_000);
});

test('memory store: the sweep runs by itself on its interval', async (t) => {
  const store = memoryStore({ sweepIntervalMs: 20, now: () => 1_700_000_100_000 });
  t.teardown(() => store.close());
  await store.set('stale', 1_700_000_000, 10);
  await new Promise((resolve) => setTimeout(resolve, 80));
  t.is(store.size, 0);
});

test('memory store: memory stays bounded; the entry stored longest ago goes first', async (t) => {
  const store = memoryStore({ maxEntries: 3 });
  t.teardown(() => store.close());
  await store.set('a', 1, 100);
  await store.set('b', 2, 100);
  await store.set('c', 3, 100);
  await store.set('a', 4, 100); // refreshed: now the most recent
  await store.set('d', 5, 100);
  t.is(store.size, 3);
  t.is(await store.get('b'), undefined);
  t.is(await store.get('a'), 4);
  t.is(await store.get('c'), 3);
  t.is(await store.get('d'), 5);
});
