import type { Socket } from 'node:net';
import memjs from 'memjs';
import { StoreDeadlineExceeded, withDeadline } from './deadline.js';
import { libmemcachedServerIndex } from './libmemcached-hash.js';
import { parseMemcachedServer } from './memcached-servers.js';
import { decodeTime, encodeTime } from './time-value.js';
import type { TriggerStore } from './types.js';

export interface MemcachedStoreOptions {
  /** "host:port" of each server (`trigger-before-download.memcache-hosts`); a key lives on one. */
  servers: readonly string[];
  /** Key prefix (`trigger-before-download.memcache-namespace`); default ''. */
  namespace?: string;
  /** Longest wait for any one call, connecting included; default 500 ms. */
  deadlineMs?: number;
}

/**
 * lighttpd's memcached store, in lighttpd's format, so lighttpd 1.4.63 and koa-lighty can
 * share one memcached: key = namespace + identity with every space turned into '-', value =
 * the 8-byte little-endian time, flags 0, expiry = the trigger timeout (0 = never expires).
 *
 * Freshness is 'by-item-expiry', as in lighttpd: an entry exists until memcached expires it,
 * and the stored time is never compared with a clock. So timeout 0 means "forever" here but
 * "the same second" in the by-age stores — lighttpd's own difference, kept.
 *
 * Every call settles within the deadline: memjs's own timeouts are set to it, and a race with
 * a timer guarantees it even where memjs would wait longer. A dead, silent or restarted server
 * is an error (the middleware denies, or lets through with failOpen); memjs reconnects on the
 * next call, so a restarted memcached is used again without restarting koa-lighty.
 */
export function memcachedStore(options: MemcachedStoreOptions): TriggerStore {
  if (options.servers.length === 0) throw new TypeError('memcachedStore needs at least one server');
  const namespace = options.namespace ?? '';
  const deadlineMs = options.deadlineMs ?? 500;
  const seconds = deadlineMs / 1000;
  const servers = options.servers.map((text) => {
    const { host, port } = parseMemcachedServer(text);
    return new memjs.Server(host, port, undefined, undefined, {
      timeout: seconds,
      conntimeout: seconds,
      // TCP keep-alive notices a peer that vanished without closing (a host gone from the net).
      keepAlive: true,
      keepAliveDelay: 30,
    });
  });
  for (const server of servers) failPendingOnClose(server);
  const client = new memjs.Client(servers, {
    // memjs counts attempts, not retries: 0 (like 1) means one attempt and no retry. A retry
    // would only spend the deadline; the next request tries again anyway.
    retries: 0,
    // No failover: each key belongs to one server, as with libmemcached's defaults. Moving it
    // to another server would forget who triggered and disagree with lighttpd.
    failover: false,
    // memjs logs failures to the console by default; the middleware logs outages itself.
    logger: { log() {} },
  });
  const serverIndex = (key: string) => libmemcachedServerIndex(key, servers.length);
  // memjs types getServer as string, but uses the result as an index into its server list.
  client.getServer = (key: string) => serverIndex(key) as unknown as string;

  const keyOf = (identity: string) => (namespace + identity).replaceAll(' ', '-');

  /**
   * Runs one memjs call within the deadline. When the deadline passes first, the connection
   * is reset: memjs forgets callbacks whose socket closed without an error, and a stale
   * request deadline left behind would fail the first call on the next connection.
   */
  const call = <T>(key: string, what: string, run: (done: (err: Error | null, value: T) => void) => void) => {
    const work = new Promise<T>((resolve, reject) => {
      run((err, value) => (err ? reject(err) : resolve(value)));
    });
    return withDeadline(work, deadlineMs, `memcached ${what}`).catch((error: unknown) => {
      if (error instanceof StoreDeadlineExceeded) {
        servers[serverIndex(key)]!.error(error);
      }
      throw error;
    });
  };

  return {
    name: 'memcached',
    freshness: 'by-item-expiry',
    async get(identity) {
      const key = keyOf(identity);
      const value = await call<Buffer | null>(key, 'get', (done) =>
        client.get(key, (err, v) => done(err, v)),
      );
      if (value === null) return undefined;
      // lighttpd only asked whether the key exists; a value it cannot read still counts.
      return decodeTime(value) ?? 0;
    },
    async set(identity, time, ttlSeconds) {
      const key = keyOf(identity);
      await call<boolean | null>(key, 'set', (done) =>
        client.set(key, encodeTime(time), { expires: ttlSeconds }, (err, ok) => done(err, ok)),
      );
    },
    async delete(identity) {
      const key = keyOf(identity);
      await call<boolean | null>(key, 'delete', (done) => client.delete(key, (err, ok) => done(err, ok)));
    },
    async close() {
      client.close();
    },
  };
}

/**
 * memjs forgets requests whose connection closes without a socket error (memcached stopped
 * or restarted cleanly): their callbacks would wait forever, and the request deadline left
 * in its queue later fails a request on the next connection. Failing them when the socket
 * closes answers at once and leaves memjs clean for the reconnect.
 */
function failPendingOnClose(server: memjs.Server): void {
  const openSocket = server.sock.bind(server);
  const current = () => (server as unknown as { _socket?: Socket })._socket;
  server.sock = (sasl, go) => {
    const before = current();
    openSocket(sasl, go);
    const socket = current();
    if (socket === undefined || socket === before) return;
    socket.once('close', () => {
      // memjs's own close handler ran first and dropped the socket; error() fails what
      // was pending on it and clears memjs's queues (a no-op when error() already did).
      if (current() === undefined) server.error(new Error('memcached closed the connection'));
    });
  };
}
