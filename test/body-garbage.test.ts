/**
 * noteBodyBytes asks for a minor GC once per COLLECT_EVERY bytes of request body, and
 * only when the process has `gc` (the server's --expose-gc); the effect on RSS is measured by
 * the benchmark, not here.
 */
import test from 'ava';
import { COLLECT_EVERY, noteBodyBytes } from '../src/http/body-garbage.js';

test.serial('a minor GC per COLLECT_EVERY bytes of body, none in between', (t) => {
  const calls: unknown[] = [];
  const saved = globalThis.gc;
  globalThis.gc = ((options?: unknown) => {
    calls.push(options);
  }) as typeof globalThis.gc;
  t.teardown(() => {
    globalThis.gc = saved;
  });
  noteBodyBytes(COLLECT_EVERY); // whatever was counted before, this reaches the threshold
  calls.length = 0;
  const chunk = 64 * 1024;
  for (let sent = 0; sent < 3 * COLLECT_EVERY; sent += chunk) noteBodyBytes(chunk);
  t.deepEqual(calls, [{ type: 'minor' }, { type: 'minor' }, { type: 'minor' }]);
});

test.serial('without gc (plain node) it does nothing and does not throw', (t) => {
  const saved = globalThis.gc;
  globalThis.gc = undefined;
  t.teardown(() => {
    globalThis.gc = saved;
  });
  t.notThrows(() => {
    for (let i = 0; i < 4; i++) noteBodyBytes(COLLECT_EVERY);
  });
});
