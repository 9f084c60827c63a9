import { createRequire } from 'node:module';
import type { open as openLmdb } from 'lmdb';
import { decodeTime, encodeTime } from './time-value.js';
import type { TriggerStore } from './types.js';

export interface FileStoreOptions {
  /** How often expired entries are swept; default 60 s (lighttpd swept gdbm once a minute). */
  sweepIntervalMs?: number;
  /** The clock used by the sweep, in milliseconds since the epoch. Default Date.now. */
  now?: () => number;
}

/** The file store; `sweep()` is there for tests. */
export interface FileStore extends TriggerStore {
  /** Deletes every entry older than the longest timeout given to set() (also run periodically). */
  sweep(): Promise<void>;
}

/**
 * The role lighttpd's gdbm file played (`trigger-before-download.gdbm-filename`): entries
 * survive a restart, and every process that opens the same file shares them, so
 * `--workers N` agree without a memcached. LMDB locks the file itself, which gdbm in lighttpd
 * did not. Key = identity (no namespace, as with gdbm); value = the 8-byte time.
 * Freshness 'by-age', like gdbm: timeout 0 allows the same second only.
 */
/**
 * lmdb is loaded by the first fileStore(), not at start: with its buffers it costs ~28 MiB of
 * RSS, which a server without a file store should not pay.
 */
function lmdbOpen(): typeof openLmdb {
  return (createRequire(import.meta.url)('lmdb') as { open: typeof openLmdb }).open;
}

export function fileStore(path: string, options: FileStoreOptions = {}): FileStore {
  const open = lmdbOpen();
  const now = options.now ?? Date.now;
  // lmdb treats a path with an extension as a file (plus `<path>-lock`), else as a directory.
  const db = open<Buffer, string>({ path, encoding: 'binary', compression: false });
  // The sweep needs a timeout, which only set() learns; the longest one seen keeps every
  // entry that any caller would still call fresh.
  let longestTtl: number | undefined;

  const sweep = async () => {
    if (longestTtl === undefined) return;
    const ttl = longestTtl;
    const seconds = Math.floor(now() / 1000);
    // Inside one write transaction, so an entry another process refreshes meanwhile is read
    // again under the lock and kept.
    await db.transaction(() => {
      for (const { key, value } of db.getRange()) {
        const time = decodeTime(value);
        if (time === undefined || seconds - time > ttl) db.remove(key);
      }
    });
  };
  // Housekeeping only: a failed sweep is retried next time, and the timer never keeps the
  // process alive.
  const sweeper = setInterval(() => sweep().catch(() => {}), options.sweepIntervalMs ?? 60_000);
  sweeper.unref();

  return {
    name: `file store ${path}`,
    freshness: 'by-age',
    sweep,
    async get(identity) {
      // Read the newest snapshot: lmdb-js may otherwise reuse a read transaction from before
      // another worker's write (seen: a trigger stored by one process missed by the next).
      db.resetReadTxn();
      const value = db.get(identity);
      return value === undefined ? undefined : decodeTime(value);
    },
    async set(identity, time, ttlSeconds) {
      longestTtl = Math.max(longestTtl ?? 0, ttlSeconds);
      await db.put(identity, encodeTime(time));
    },
    async delete(identity) {
      await db.remove(identity);
    },
    async close() {
      clearInterval(sweeper);
      await db.close();
    },
  };
}
