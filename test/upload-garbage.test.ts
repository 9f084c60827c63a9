/**
 * noteUploadedBytes asks for a minor GC once per COLLECT_EVERY bytes of request body, and
 * only when the process has `gc` (the server's --expose-gc); the effect on RSS is measured by
 * the benchmark, not here.
 */
import test from 'ava';
import { COLLECT_EVERY, noteUploadedBytes } from '../src/http/upload-garbage.js';

test.serial('a minor GC per COLLECT_EVERY bytes of body, none in between', (t) => {
  const calls: unknown[] = [];
  const saved = globalThis.gc;
  globalThis.gc = ((options?: unknown) => {
    calls.push(options);
  }) as typeof globalThis.gc;
  t.teardown(() => {
    globalThis.gc = saved;
  });
  noteUploadedBytes(COLLECT_EVERY); // whatever was counted before, this reaches the threshold
  calls.length = 0;
  const chunk = 64 * 1024;
  for (let sent = 0; sent < 3 * COLLECT_EVERY; sent += chunk) noteUploadedBytes(chunk);
  t.deepEqual(calls, [{ type: 'minor' }, { type: 'minor' }, { type: 'minor' }]);
});

test.serial('without gc (plain node) it does nothing and does not throw', (t) => {
  const saved = globalThis.gc;
  globalThis.gc = undefined;
  t.teardown(() => {
    globalThis.gc = saved;
  });
  t.notThrows(() => {
    for (let i = 0; i < 4; i++) noteUploadedBytes(COLLECT_EVERY);
  });
});
