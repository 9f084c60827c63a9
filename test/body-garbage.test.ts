/**
 * noteBodyBytes asks for a minor GC once per COLLECT_EVERY bytes of body, in any process: with
 * --expose-gc it uses the process's `gc`; without (the koa-lighty command, a Koa application
 * under plain `node`, and these tests) it makes its own, leaving no `gc` behind on any global.
 * The effect on RSS is measured by the benchmark (bench/memory.ts), not here.
 */
import { constants, PerformanceObserver } from 'node:perf_hooks';
import vm from 'node:vm';
import test from 'ava';
import { COLLECT_EVERY, noteBodyBytes } from '../src/http/body-garbage.js';
import { eventually } from './helpers/wait.js';

test.serial(
  'a minor GC per COLLECT_EVERY bytes of body, none in between (a process started with --expose-gc)',
  (t) => {
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
  },
);

test.serial(
  'without --expose-gc: the young generation is still collected, and no global gc appears',
  async (t) => {
    t.is(typeof globalThis.gc, 'undefined', 'ava runs this file without --expose-gc');
    const forcedMinor: number[] = [];
    const observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        const { kind, flags } = (entry as unknown as { detail: { kind: number; flags: number } }).detail;
        // V8 marks a GC that was asked for (rather than started by allocation) as forced.
        if (
          kind === constants.NODE_PERFORMANCE_GC_MINOR &&
          flags & constants.NODE_PERFORMANCE_GC_FLAGS_FORCED
        )
          forcedMinor.push(entry.startTime);
      }
    });
    observer.observe({ entryTypes: ['gc'] });
    t.teardown(() => observer.disconnect());

    noteBodyBytes(COLLECT_EVERY);
    noteBodyBytes(COLLECT_EVERY);
    noteBodyBytes(COLLECT_EVERY - 1);
    // The observer is told later, by a task of its own: how much later depends on the machine's
    // load (100 ms was once not enough). The deadline only bounds how long a failure takes.
    t.true(
      await eventually(() => forcedMinor.length >= 2, 30_000),
      `forced minor GCs: ${forcedMinor.length}`,
    );
    t.true(forcedMinor.length <= 3);
    t.is(typeof globalThis.gc, 'undefined');
    t.is(vm.runInNewContext('typeof gc'), 'undefined', 'contexts made later get no gc either');
  },
);
