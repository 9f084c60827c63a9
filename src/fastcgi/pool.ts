/**
 * The connections to one backend address. php-cgi shapes every rule here (design §5):
 *  - a worker is held by the connection it accepted, so the pool never opens more
 *    connections than the backend has workers (FCGI_MAX_CONNS, asked once), and closes
 *    idle ones after a while so that other clients get a turn;
 *  - past that limit requests wait in a FIFO queue, for queueTimeout at most (503);
 *  - a kept connection may have been closed by PHP_FCGI_MAX_REQUESTS: a request that sees
 *    it close before any answer is sent again, once, on a fresh connection;
 *  - a request whose client went away costs the connection (closing it is the only abort).
 * A "slot" is the right to hold one connection: idle connections hold one, so does every
 * request from the moment it leaves the queue until its exchange ends.
 */
import type { Logger } from '../log.js';
import { describeAddress, type FastCgiAddress, FastCgiConnection, getValues } from './connection.js';
import { ClosedBeforeResponse, ConnectFailed, PoolClosed, QueueTimeout, RequestAborted } from './errors.js';
import type { FastCgiResponse } from './exchange.js';
import {
  type AbortSignalLike,
  type BackendPoolOptions,
  type PoolRequest,
  type PoolSettings,
  poolSettings,
  shareOf,
} from './pool-options.js';
import { RequestBody } from './request-body.js';
import { type Waiter, WaitQueue } from './wait-queue.js';

export type { BackendPoolOptions, PoolRequest };

interface Lease {
  conn: FastCgiConnection | undefined;
}

const MAX_CONNS = 'FCGI_MAX_CONNS';

export class BackendPool {
  readonly address: FastCgiAddress;
  private readonly options: PoolSettings;
  private readonly logger: Logger | undefined;
  private limit: number;
  private limitKnown: Promise<void> | undefined;
  /** Idle connections, oldest first (taken from the end: the most recently used is warmest). */
  private readonly idle: FastCgiConnection[] = [];
  /** When each connection of `idle` became idle (same index). */
  private readonly idleSince: number[] = [];
  /** One timer for the oldest idle connection, not a timer and a Map entry per request (see `open`). */
  private idleSweep: NodeJS.Timeout | undefined;
  private readonly queue = new WaitQueue<Lease>();
  /**
   * Every open connection, idle or leased: what destroy() aborts through. Deliberately not a
   * set of running exchanges: a Set that gains and loses an entry per request made V8 promote
   * each request's objects to the old generation (a quarter of the PHP path's CPU, measured;
   * bench/README.md). Connections come and go rarely.
   */
  private readonly open = new Set<FastCgiConnection>();
  private slots = 0;
  private inFlight = 0;
  private connects = 0;
  private requests = 0;
  private failure: { at: number; message: string } | undefined;
  private closed = false;
  private drainedAfterClose: (() => void) | undefined;

  constructor(options: BackendPoolOptions) {
    this.address = options.address;
    this.logger = options.logger;
    this.options = poolSettings(options);
    this.limit = shareOf(Math.max(1, this.options.maxConns), this.options.share);
  }

  /** Requests running or waiting: what least-connection balancing compares. */
  get load(): number {
    return this.inFlight;
  }

  get queued(): number {
    return this.queue.length;
  }

  /** Connections open or being opened (idle ones included). Never above maxConns. */
  get connections(): number {
    return this.slots;
  }

  get idleConnections(): number {
    return this.idle.length;
  }

  /** Connections opened since start (lighttpd's gw.backend.*.connected). */
  get connectsMade(): number {
    return this.connects;
  }

  /** Requests taken since start, whatever became of them (lighttpd's fastcgi.requests). */
  get requestsTaken(): number {
    return this.requests;
  }

  /** The last request that failed on the backend's account (not the client's), and when. */
  get lastError(): { at: number; message: string } | undefined {
    return this.failure;
  }

  /** The connection limit in force: the backend's FCGI_MAX_CONNS, or the configured fallback. */
  get maxConns(): number {
    return this.limit;
  }

  /**
   * Runs one request. Resolves once the CGI header block is in, with the body as a stream;
   * rejects with a FastCgiError whose `status` is the answer to give the client.
   */
  async request(request: PoolRequest): Promise<FastCgiResponse> {
    if (this.closed) throw new PoolClosed(`pool for ${describeAddress(this.address)} is closed`);
    const { signal } = request;
    if (signal?.aborted) throw new RequestAborted('request aborted before it was sent');
    this.inFlight++;
    this.requests++;
    let settledInFlight = false;
    const done = () => {
      if (settledInFlight) return;
      settledInFlight = true;
      this.inFlight--;
      if (this.closed) this.checkDrained();
    };
    try {
      await this.learnLimit();
      const lease = await this.acquire(signal);
      return await this.run(request, lease, done);
    } catch (error) {
      done();
      if (!(error instanceof RequestAborted))
        this.failure = { at: Date.now(), message: (error as Error).message };
      throw error;
    }
  }

  private async run(request: PoolRequest, lease: Lease, done: () => void): Promise<FastCgiResponse> {
    // Kept for a retry: an iterable other than an array might not give its pairs twice.
    const params = Array.isArray(request.params) ? request.params : [...request.params];
    const body = new RequestBody(request.body, this.options.replayLimit);
    const onStderr = request.onStderr ?? ((line: string) => this.logger?.error('fastcgi', line));
    const { signal } = request;
    let reused = lease.conn !== undefined;
    let conn = lease.conn ?? (await this.connect());
    request.onConnection?.(reused);
    for (let attempt = 0; ; attempt++) {
      if (signal?.aborted) {
        this.release(conn);
        throw new RequestAborted('request aborted before it was sent');
      }
      const exchange = conn.request(
        {
          params,
          role: request.role,
          keepConn: this.options.keepConn,
          onStderr,
          readTimeout: this.options.readTimeout,
          writeTimeout: this.options.writeTimeout,
        },
        body,
      );
      const onAbort = () => exchange.abort('client went away');
      signal?.addEventListener('abort', onAbort, { once: true });
      const settle = (current: FastCgiConnection) => {
        signal?.removeEventListener('abort', onAbort);
        this.release(current);
        done();
      };
      try {
        const response = await exchange.response;
        const current = conn;
        exchange.ended.then(
          () => settle(current),
          () => settle(current),
        );
        return response;
      } catch (error) {
        signal?.removeEventListener('abort', onAbort);
        const retry =
          error instanceof ClosedBeforeResponse && reused && attempt === 0 && body.replayable && !this.closed;
        if (!retry) {
          this.release(conn);
          throw error;
        }
        // The kept connection was closed under us (PHP_FCGI_MAX_REQUESTS): keep its slot and
        // send the request again on a connection that nothing else has used.
        conn.destroy();
        reused = false;
        try {
          conn = await this.connect();
          request.onConnection?.(false);
        } catch (connectError) {
          // A connect error lets the balancer try another host with the same request, which
          // is only right if the body can start over there: a stream has been read from.
          throw body.restartable ? connectError : error;
        }
      }
    }
  }

  /** Asks the backend how many connections it serves, once (design §5: MAX_CONNS = workers). */
  private learnLimit(): Promise<void> {
    if (!this.options.askMaxConns) return Promise.resolve();
    this.limitKnown ??= getValues(this.address, [MAX_CONNS], this.options.getValuesTimeout).then(
      (values) => {
        const answer = Number(values.get(MAX_CONNS));
        if (Number.isInteger(answer) && answer > 0) this.limit = shareOf(answer, this.options.share);
        this.dispatch();
      },
      (error: Error) => {
        // A refused connect says nothing about the limit: ask again next time.
        if (error instanceof ConnectFailed) this.limitKnown = undefined;
        else
          this.logger?.warn(
            'fastcgi',
            `${describeAddress(this.address)}: ${error.message}; using max ${this.limit}`,
          );
      },
    );
    return this.limitKnown;
  }

  private acquire(signal: AbortSignalLike | undefined): Promise<Lease> {
    const now = this.tryLease();
    if (now) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const leave = (error: Error) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.queue.leave(waiter);
        reject(error);
      };
      const onAbort = () =>
        leave(new RequestAborted('request aborted while waiting for a backend connection'));
      const waiter: Waiter<Lease> = {
        waiting: true,
        grant: (lease) => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          resolve(lease);
        },
        cancel: (error) => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      const ms = this.options.queueTimeout;
      const timer = setTimeout(
        () =>
          leave(
            new QueueTimeout(`no connection to ${describeAddress(this.address)} became free within ${ms} ms`),
          ),
        ms,
      );
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(waiter);
    });
  }

  /** An idle connection, or a free slot to open one in; undefined when the limit is reached. */
  private tryLease(): Lease | undefined {
    while (this.idle.length > 0) {
      const conn = this.idle.pop()!;
      this.idleSince.pop();
      if (conn.idle) return { conn };
      this.slots--; // closed while idle, and its 'close' has not been handled yet
    }
    if (this.slots < this.limit) {
      this.slots++;
      return { conn: undefined };
    }
    return undefined;
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const lease = this.tryLease();
      if (!lease) return;
      const waiter = this.queue.shift();
      if (!waiter) {
        this.giveBack(lease);
        return;
      }
      waiter.grant(lease);
    }
  }

  private giveBack(lease: Lease): void {
    if (lease.conn) this.makeIdle(lease.conn);
    else this.freeSlot();
  }

  /** Opens a connection in a slot the caller holds; frees the slot if that fails. */
  private async connect(): Promise<FastCgiConnection> {
    try {
      const conn = await FastCgiConnection.connect(this.address, this.options.connectTimeout);
      this.connects++;
      this.open.add(conn);
      conn.on('close', () => this.onClosed(conn));
      return conn;
    } catch (error) {
      this.freeSlot();
      throw error;
    }
  }

  /** The exchange on `conn` is over: keep the connection for the next request, or drop it. */
  private release(conn: FastCgiConnection): void {
    if (conn.idle && !this.closed) {
      this.makeIdle(conn);
      this.dispatch();
    } else {
      conn.destroy();
      this.freeSlot();
    }
  }

  private makeIdle(conn: FastCgiConnection): void {
    this.idle.push(conn);
    this.idleSince.push(Date.now());
    this.armIdleSweep();
  }

  /** Closes the connections idle for idleTimeout, then waits for the next oldest. */
  private armIdleSweep(): void {
    if (this.idleSweep || this.idle.length === 0 || this.closed) return;
    const wait = Math.max(0, this.idleSince[0]! + this.options.idleTimeout - Date.now());
    this.idleSweep = setTimeout(() => {
      this.idleSweep = undefined;
      const expired = Date.now() - this.options.idleTimeout;
      while (this.idle.length > 0 && this.idleSince[0]! <= expired) {
        const conn = this.idle.shift()!;
        this.idleSince.shift();
        conn.destroy(); // no longer in `idle`, so its 'close' leaves the slot to us
        this.freeSlot();
      }
      this.armIdleSweep();
    }, wait);
    this.idleSweep.unref();
  }

  private onClosed(conn: FastCgiConnection): void {
    this.open.delete(conn);
    const at = this.idle.indexOf(conn);
    if (at < 0) return; // a leased connection: its request releases the slot
    this.idle.splice(at, 1);
    this.idleSince.splice(at, 1);
    this.freeSlot();
  }

  private freeSlot(): void {
    this.slots--;
    if (this.closed) this.checkDrained();
    else this.dispatch();
  }

  /**
   * Stops taking requests: waiting ones fail with PoolClosed, idle connections close, and
   * the promise resolves when the running requests have ended (abort them with destroy()).
   */
  close(): Promise<void> {
    this.closed = true;
    const closed = new PoolClosed(`pool for ${describeAddress(this.address)} is closed`);
    for (let waiter = this.queue.shift(); waiter; waiter = this.queue.shift()) waiter.cancel(closed);
    clearTimeout(this.idleSweep);
    this.idleSweep = undefined;
    this.idleSince.length = 0;
    for (const conn of this.idle.splice(0)) {
      conn.destroy();
      this.slots--;
    }
    return new Promise((resolve) => {
      this.drainedAfterClose = resolve;
      this.checkDrained();
    });
  }

  /** close(), and abort the requests still running. */
  destroy(): Promise<void> {
    const closing = this.close();
    for (const conn of this.open) conn.abort('backend pool destroyed');
    return closing;
  }

  private checkDrained(): void {
    if (this.inFlight === 0 && this.slots <= 0) this.drainedAfterClose?.();
  }
}
