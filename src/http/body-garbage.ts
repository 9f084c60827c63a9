/**
 * Keeps large bodies from piling up dead buffers. Every socket read of a body makes a buffer
 * of its own: Node's HTTP parser copies each request-body chunk (up to 64 KiB), and each read
 * from a backend's socket is a fresh buffer. V8 frees them only when a garbage collection
 * runs, and a stream of body bytes makes almost no other garbage, so the young generation
 * fills slowly and nothing starts a collection until V8's external-memory limit (64 MiB of
 * buffers since the last full GC): two 100 MiB uploads took a server that had just served
 * hello.php from 105 to 141 MiB RSS, with 43 MiB of dead buffers waiting (bench/README.md,
 * Memory).
 *
 * After every COLLECT_EVERY bytes of body passed on, either way, a minor GC (a scavenge of the
 * young generation, where those buffers still are: well under a millisecond) frees them, in
 * any process: the koa-lighty command and a Koa application started with plain `node` alike.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

export const COLLECT_EVERY = 8 * 1024 * 1024;

type Collector = (options: { type: 'minor' }) => void;

let sinceCollection = 0;
let ownCollector: Collector | undefined;

/** Counts body bytes passed on (request or response); collects the young generation every COLLECT_EVERY. */
export function noteBodyBytes(count: number): void {
  sinceCollection += count;
  if (sinceCollection < COLLECT_EVERY) return;
  sinceCollection = 0;
  collector()({ type: 'minor' });
}

/** The process's own `gc` under --expose-gc (V8's flags are then left alone), else ours. */
function collector(): Collector {
  if (typeof globalThis.gc === 'function') return globalThis.gc as Collector;
  ownCollector ??= exposeGc();
  return ownCollector;
}

/**
 * V8's `gc` without --expose-gc on the command line: the flag is set just long enough to make
 * one new context, whose `gc` is kept, and then reset (Jest's leak detector does the same). So
 * no command-line flag is needed, and the application's global object never gets a `gc`.
 * Made on first need: a process that never passes 8 MiB of body never touches V8's flags.
 */
function exposeGc(): Collector {
  try {
    v8.setFlagsFromString('--expose-gc');
    return vm.runInNewContext('gc') as Collector;
  } catch {
    // A Node that refuses (a locked-down embedding): large bodies then wait for V8's own GC.
    return () => {};
  } finally {
    v8.setFlagsFromString('--no-expose-gc');
  }
}
