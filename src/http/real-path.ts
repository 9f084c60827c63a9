import { realpath } from 'node:fs/promises';

/**
 * realpath(3) through a one-second cache, like the stat cache in ./file-info.ts. Every
 * send-file, secdownload and `follow-symlink = disable` request resolves symlinks before it
 * trusts a path; uncached that is one thread-pool trip and a readlink per path component per
 * request, the largest single cost of a small send-file (measured: about 25 µs of system
 * time a request).
 *
 * A cached answer can only be stale, never unsafe: callers serve the resolved path they were
 * given, which was inside their root when it was resolved. Failures are kept too (ENOENT for a
 * second, as lighttpd's stat cache keeps a missing file).
 */
const TRUST_MS = 1000;
const MAX_ENTRIES = 10_000;

const cache = new Map<string, { at: number; real: Promise<string> }>();

export function realPath(path: string): Promise<string> {
  const now = Date.now();
  const held = cache.get(path);
  if (held && now - held.at < TRUST_MS) return held.real;
  const real = realpath(path);
  // Kept rejected promises must not count as unhandled between their uses.
  real.catch(() => {});
  if (cache.size >= MAX_ENTRIES) cache.clear();
  cache.set(path, { at: now, real });
  return real;
}

/** Forget every resolved path (with forgetFile, for tests that move files and links). */
export function forgetRealPaths(): void {
  cache.clear();
}
