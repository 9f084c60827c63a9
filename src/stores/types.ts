/**
 * Where trigger-before-download remembers when a client last opened a trigger page (or a
 * download). One small interface, so that memcached can keep lighttpd's key and value format
 * and a lighttpd 1.4.63 and koa-lighty can share one memcached.
 *
 * Keys are client identities (an IP address text, or an IPv6 /64); each store turns them into
 * its own key format. Times are Unix times in whole seconds.
 */
export interface TriggerStore {
  /** Used in log lines ("memcached unreachable: …"). */
  readonly name: string;
  /**
   * How freshness is decided, which is where lighttpd's two stores differ:
   * - 'by-age' (gdbm in lighttpd; here memory and file): an entry is fresh while
   *   `now − stored ≤ timeout`, so timeout 0 means "within the same second".
   * - 'by-item-expiry' (memcached): the server drops the item after the timeout and any entry
   *   that still exists is fresh; timeout 0 means "never expires". The stored time is not
   *   compared with the local clock, so several hosts with skewed clocks still agree.
   */
  readonly freshness: 'by-age' | 'by-item-expiry';
  /** The Unix time stored for `identity`, or undefined when there is none. */
  get(identity: string): Promise<number | undefined>;
  /** Stores `time` for `identity`; `ttlSeconds` is the trigger timeout (0: see `freshness`). */
  set(identity: string, time: number, ttlSeconds: number): Promise<void>;
  delete(identity: string): Promise<void>;
  /** Releases connections, files and timers; the store is not used afterwards. */
  close(): Promise<void>;
}
