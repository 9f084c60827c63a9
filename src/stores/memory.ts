import type { TriggerStore } from './types.js';

export interface MemoryStoreOptions {
  /**
   * Upper bound on remembered clients. When full, the entry stored longest ago is dropped
   * (its client is asked to visit the site again): memory stays bounded even under a flood
   * of distinct addresses. Default 1,000,000 (some 100 MB at most).
   */
  maxEntries?: number;
  /** How often expired entries are swept; default 60 s, like lighttpd's gdbm clean-up. */
  sweepIntervalMs?: number;
  /** The clock, in milliseconds since the epoch (tests inject one). Default Date.now. */
  now?: () => number;
}

/** The memory store; `sweep()` and `size` are there for tests and the status page. */
export interface MemoryStore extends TriggerStore {
  /** Drops every entry older than its timeout now (also run every sweepIntervalMs). */
  sweep(): void;
  readonly size: number;
}

interface Entry {
  time: number;
  ttlSeconds: number;
}

/**
 * The default store: one process, gone on restart. Freshness 'by-age', like lighttpd's gdbm
 * (timeout 0 allows the same second only). Good for a single koa-lighty; several processes
 * or hosts need fileStore or memcachedStore.
 */
export function memoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  const maxEntries = options.maxEntries ?? 1_000_000;
  const now = options.now ?? Date.now;
  // A Map iterates in insertion order; set() re-inserts, so the first entry is the stalest.
  const entries = new Map<string, Entry>();

  const sweep = () => {
    const seconds = Math.floor(now() / 1000);
    for (const [identity, entry] of entries) {
      if (seconds - entry.time > entry.ttlSeconds) entries.delete(identity);
    }
  };
  const sweeper = setInterval(sweep, options.sweepIntervalMs ?? 60_000);
  // The sweep is housekeeping: it must not keep a process alive that has nothing else to do.
  sweeper.unref();

  return {
    name: 'memory store',
    freshness: 'by-age',
    sweep,
    get size() {
      return entries.size;
    },
    async get(identity) {
      return entries.get(identity)?.time;
    },
    async set(identity, time, ttlSeconds) {
      entries.delete(identity);
      entries.set(identity, { time, ttlSeconds });
      if (entries.size > maxEntries) {
        const stalest = entries.keys().next().value;
        if (stalest !== undefined) entries.delete(stalest);
      }
    },
    async delete(identity) {
      entries.delete(identity);
    },
    async close() {
      clearInterval(sweeper);
      entries.clear();
    },
  };
}
