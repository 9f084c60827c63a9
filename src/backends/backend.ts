/**
 * A backend is one host block of `fastcgi.server`: either an address someone else serves
 * (host/port or socket), or FastCGI programs we spawn from `bin-path` (max-procs of them,
 * on port+n or socket-n, as lighttpd). Each process gets its own BackendPool; the balancer
 * picks a host, then the least-loaded process within it (spec 3.6).
 */

import { basename } from 'node:path';
import type { FastCgiAddress } from '../fastcgi/connection.js';
import { BackendPool, type BackendPoolOptions } from '../fastcgi/pool.js';
import type { Logger } from '../log.js';
import { FastCgiProcess, type FastCgiProcessOptions, splitBinPath } from './fastcgi-process.js';

export interface Backend {
  /** For logs: the host block's label, else its address. */
  readonly label: string;
  /** The host block's own label (its key in fastcgi.server), if it has one: lighttpd's statistics name. */
  readonly name?: string;
  /** The spawned programs (bin-path), one per pool; none for a remote backend. */
  readonly processes?: readonly FastCgiProcess[];
  /** One pool per process; a remote backend has exactly one. */
  readonly pools: readonly BackendPool[];
  /** Requests running or waiting on this host. */
  readonly load: number;
  /** Idempotent: several fastcgi() middlewares of one app may share a backend. */
  start(): Promise<void>;
  /** Closes the pools (running requests are aborted) and stops spawned processes. Idempotent. */
  stop(): Promise<void>;
}

/** Where a backend listens, and how to start it when we spawn it: lighttpd's host options. */
export interface BackendAddressOptions {
  /** For logs (lighttpd's optional host label). */
  label?: string;
  /** IP literal; a value starting with `/` is a unix socket. Default 127.0.0.1 with binPath. */
  host?: string;
  /** TCP port; processes spawned from binPath listen on port, port+1, … */
  port?: number;
  /** Unix socket; processes spawned from binPath listen on socket-0, socket-1, … */
  socket?: string;
  /**
   * Spawn this command (`/usr/bin/php-cgi`, lighttpd's bin-path) on a socket we listen on, as
   * its fd 0, unless something already listens on the address.
   */
  binPath?: string;
  binEnvironment?: Record<string, string>;
  /** When given, only these variables of our environment reach the spawned process. */
  binCopyEnvironment?: string[];
  /** Processes to spawn (lighttpd's max-procs, default 4 as there); php-cgi forks PHP_FCGI_CHILDREN workers each. */
  maxProcs?: number;
}

export interface BackendOptions extends BackendAddressOptions {
  /** PHP_FCGI_MAX_REQUESTS for spawned processes. */
  maxRequests?: number;
  /** Pool settings (timeouts in ms); maxConns defaults to PHP_FCGI_CHILDREN for spawned processes. */
  pool?: Omit<BackendPoolOptions, 'address' | 'logger'>;
  logger?: Logger;
}

/** The address(es) a host block describes; spawned processes get port+n or socket-n. */
export function backendAddresses(options: BackendOptions): FastCgiAddress[] {
  let { host, socket } = options;
  if (host?.startsWith('/')) {
    socket = host; // lighttpd: a host starting with / is a unix socket
    host = undefined;
  }
  if (socket && (host !== undefined || options.port !== undefined)) {
    throw new Error('fastcgi backend: host/port and socket are mutually exclusive');
  }
  if (!socket && host === undefined && options.port === undefined && !options.binPath) {
    throw new Error('fastcgi backend: needs host and port, socket, or bin-path');
  }
  const procs = options.binPath ? Math.max(1, options.maxProcs ?? 4) : 1;
  const addresses: FastCgiAddress[] = [];
  for (let n = 0; n < procs; n++) {
    if (socket) addresses.push({ socket: options.binPath ? `${socket}-${n}` : socket });
    else
      addresses.push({ host: host ?? '127.0.0.1', port: (options.port ?? 80) + (options.binPath ? n : 0) });
  }
  return addresses;
}

export function createBackend(options: BackendOptions): Backend {
  const addresses = backendAddresses(options);
  const label = options.label ?? describeBackend(options);
  if (!options.binPath) {
    const pool = new BackendPool({ ...options.pool, address: addresses[0]!, logger: options.logger });
    return new RemoteBackend(label, pool, options.label);
  }
  // What the program prints, and what becomes of it, is logged under its name: `(php-cgi) …`.
  const source = basename(splitBinPath(options.binPath)[0] ?? '') || 'fastcgi';
  const processes = addresses.map(
    (address) =>
      new FastCgiProcess({
        binPath: options.binPath!,
        address,
        binEnvironment: options.binEnvironment,
        binCopyEnvironment: options.binCopyEnvironment,
        maxRequests: options.maxRequests,
        log: (line) => options.logger?.error(source, line),
      } satisfies FastCgiProcessOptions),
  );
  return new SpawnedBackend(label, processes, options, options.label);
}

function describeBackend(options: BackendOptions): string {
  if (options.socket) return options.socket;
  return `${options.host ?? '127.0.0.1'}:${options.port ?? 80}`;
}

function sumLoad(pools: readonly BackendPool[]): number {
  let load = 0;
  for (const pool of pools) load += pool.load;
  return load;
}

class RemoteBackend implements Backend {
  readonly pools: readonly BackendPool[];
  constructor(
    readonly label: string,
    pool: BackendPool,
    readonly name?: string,
  ) {
    this.pools = [pool];
  }
  get load(): number {
    return sumLoad(this.pools);
  }
  async start(): Promise<void> {}
  #stopping: Promise<void> | undefined;
  stop(): Promise<void> {
    this.#stopping ??= Promise.all(this.pools.map((pool) => pool.destroy())).then(() => {});
    return this.#stopping;
  }
}

class SpawnedBackend implements Backend {
  readonly pools: readonly BackendPool[];
  constructor(
    readonly label: string,
    readonly processes: FastCgiProcess[],
    options: BackendOptions,
    readonly name?: string,
  ) {
    this.pools = processes.map(
      (proc) =>
        new BackendPool({
          maxConns: proc.children,
          ...options.pool,
          address: proc.address,
          logger: options.logger,
        }),
    );
  }
  get load(): number {
    return sumLoad(this.pools);
  }
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  start(): Promise<void> {
    this.#starting ??= Promise.all(this.processes.map((proc) => proc.start())).then(() => {});
    return this.#starting;
  }
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      await Promise.all(this.pools.map((pool) => pool.destroy()));
      await Promise.all(this.processes.map((proc) => proc.stop()));
    })();
    return this.#stopping;
  }
}
