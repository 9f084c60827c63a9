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
 * young generation, where those buffers still are: well under a millisecond) frees them. This
 * needs `gc`, which the server's V8 flags expose (src/server/node-flags.ts); in a process
 * without it (a Koa application started with plain `node`) this does nothing.
 */
export const COLLECT_EVERY = 8 * 1024 * 1024;

let sinceCollection = 0;

/** Counts body bytes passed on (request or response); collects the young generation every COLLECT_EVERY. */
export function noteBodyBytes(count: number): void {
  sinceCollection += count;
  if (sinceCollection < COLLECT_EVERY) return;
  sinceCollection = 0;
  globalThis.gc?.({ type: 'minor' });
}
