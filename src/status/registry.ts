/**
 * What the status page shows, gathered in one place: the server's own counters (requests,
 * bytes, latency, open connections), counted by track() for every request, and the objects
 * of the stages that have figures of their own (FastCGI pools, trigger stores, secdownload),
 * which the stages hand over when they are built. createApp makes one per process; the page
 * only reads it.
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Context, Middleware, Next } from 'koa';
import type { KeyTarget } from '../middleware/fastcgi-hosts.js';
import type { SecdownloadCounts } from '../middleware/secdownload.js';
import type { TriggerCounts } from '../middleware/trigger.js';
import type { OutageLog } from '../stores/outage-log.js';
import type { TriggerStore } from '../stores/types.js';
import { LatencyHistogram, SlidingRate } from './histogram.js';

export interface TriggerSource {
  readonly store: TriggerStore;
  readonly outage: OutageLog;
  readonly counts: Readonly<TriggerCounts>;
}

export interface StatusRegistryOptions {
  /** server.max-connections in force (lighttpd's BusyServers + IdleServers). */
  connectionLimit?: number;
  /** This process is worker `index` of `count` (--workers): its figures are its own. */
  worker?: { index: number; count: number };
  now?: () => number;
}

/** lighttpd's default: a third of 4096 file descriptors. */
const DEFAULT_CONNECTION_LIMIT = 1365;

// Per-connection and per-response facts live on the objects themselves: no map entry per request.
const ACTIVE = Symbol('koa-lighty.status.active');
const BYTES_COUNTED = Symbol('koa-lighty.status.bytesCounted');
const CURRENT = Symbol('koa-lighty.status.current');
const STARTED = Symbol('koa-lighty.status.started');
const SOCKET = Symbol('koa-lighty.status.socket');

interface TrackedSocket extends Socket {
  [ACTIVE]?: number;
  [BYTES_COUNTED]?: number;
  [CURRENT]?: Context | undefined;
}

interface TrackedResponse extends ServerResponse {
  [STARTED]?: number;
  [SOCKET]?: TrackedSocket;
}

/** One open connection as the page lists it. */
export interface ConnectionView {
  remoteAddress: string;
  bytesRead: number;
  bytesWritten: number;
  /** The request being served, if any (keep-alive otherwise). */
  request?: { method: string; host: string; url: string; seconds: number };
}

export class StatusRegistry {
  readonly startedAt: number;
  readonly worker: { index: number; count: number } | undefined;
  readonly connectionLimit: number;
  readonly now: () => number;
  requests = 0;
  bytesOut = 0;
  readonly latency = new LatencyHistogram();
  readonly requestRate = new SlidingRate();
  readonly trafficRate = new SlidingRate();
  /** Connections that have sent a request and are still open. */
  readonly connections = new Set<Socket>();
  readonly fastcgi: (readonly KeyTarget[])[] = [];
  readonly triggers: TriggerSource[] = [];
  readonly secdownloads: Readonly<SecdownloadCounts>[] = [];
  /** Counts every request; mount it outermost, so refused and failed requests count too. */
  readonly track: Middleware;

  constructor(options: StatusRegistryOptions = {}) {
    this.now = options.now ?? Date.now;
    this.startedAt = this.now();
    this.worker = options.worker;
    this.connectionLimit = options.connectionLimit || DEFAULT_CONNECTION_LIMIT;
    const registry = this;
    const forget = function (this: TrackedSocket) {
      registry.connections.delete(this);
      this[CURRENT] = undefined;
    };
    const done = function (this: TrackedResponse) {
      const socket = this[SOCKET]!;
      socket[ACTIVE]! -= 1;
      if (socket[ACTIVE] === 0) socket[CURRENT] = undefined;
      const now = registry.now();
      registry.latency.observe(performance.now() - this[STARTED]!);
      registry.requests++;
      registry.requestRate.count(now);
      const written = socket.bytesWritten - (socket[BYTES_COUNTED] ?? 0);
      socket[BYTES_COUNTED] = socket.bytesWritten;
      registry.bytesOut += written;
      registry.trafficRate.count(now, written);
    };
    this.track = function statusTrack(ctx: Context, next: Next) {
      const socket = ctx.req.socket as TrackedSocket;
      const res = ctx.res as TrackedResponse;
      if (socket[ACTIVE] === undefined) {
        socket[ACTIVE] = 0;
        registry.connections.add(socket);
        socket.on('close', forget);
      }
      socket[ACTIVE]! += 1;
      socket[CURRENT] = ctx;
      res[STARTED] = performance.now();
      res[SOCKET] = socket;
      res.on('close', done);
      return next();
    };
  }

  watchFastcgi(targets: readonly KeyTarget[]): void {
    this.fastcgi.push(targets);
  }

  watchTrigger(source: TriggerSource): void {
    this.triggers.push(source);
  }

  watchSecdownload(counts: Readonly<SecdownloadCounts>): void {
    this.secdownloads.push(counts);
  }

  /** Connections with a request under way (lighttpd's states other than keep-alive). */
  get activeConnections(): number {
    let active = 0;
    for (const socket of this.connections) if ((socket as TrackedSocket)[ACTIVE]! > 0) active++;
    return active;
  }

  /** lighttpd's scoreboard: one letter per open connection (h: handling a request, k: keep-alive), then _ per free one. */
  scoreboard(): string {
    let board = '';
    for (const socket of this.connections) board += (socket as TrackedSocket)[ACTIVE]! > 0 ? 'h' : 'k';
    return board + '_'.repeat(Math.max(0, this.connectionLimit - this.connections.size));
  }

  connectionViews(): ConnectionView[] {
    const now = performance.now();
    return [...this.connections].map((s) => {
      const socket = s as TrackedSocket;
      const ctx = socket[CURRENT];
      const started = (ctx?.res as TrackedResponse | undefined)?.[STARTED];
      return {
        remoteAddress: socket.remoteAddress ?? '',
        bytesRead: socket.bytesRead,
        bytesWritten: socket.bytesWritten,
        request:
          ctx && started !== undefined
            ? {
                method: ctx.method,
                host: ctx.get('host'),
                url: ctx.originalUrl,
                seconds: Math.floor((now - started) / 1000),
              }
            : undefined,
      };
    });
  }
}
