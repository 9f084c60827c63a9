/**
 * What a BackendPool is told: the backend's address, its limits and timeouts (all in ms),
 * and what one request brings. The defaults are lighttpd's where it has one.
 */
import type { Readable } from 'node:stream';
import type { Logger } from '../log.js';
import type { FastCgiAddress } from './connection.js';
import type { NameValue } from './records.js';
import { DEFAULT_REPLAY_LIMIT } from './request-body.js';

export interface BackendPoolOptions {
  address: FastCgiAddress;
  /** Connections to open when the backend does not answer FCGI_GET_VALUES in time (default 1). */
  maxConns?: number;
  /** Ask the backend for FCGI_MAX_CONNS at first use (default true). */
  askMaxConns?: boolean;
  /** How long to wait for the FCGI_GET_VALUES answer, ms (default 1000). */
  getValuesTimeout?: number;
  /** ms (default 8000, lighttpd's connect-timeout). */
  connectTimeout?: number;
  /** ms without a byte from the backend once the request is sent; 0 = no limit (lighttpd's default). */
  readTimeout?: number;
  /** ms the backend may refuse request-body bytes; 0 = no limit. */
  writeTimeout?: number;
  /** ms an unused connection stays open (default 5000). */
  idleTimeout?: number;
  /** ms a request may wait for a connection (default 30000). */
  queueTimeout?: number;
  /** Ask for FCGI_KEEP_CONN (default true; php-cgi honours it, node-fastcgi does not). */
  keepConn?: boolean;
  /** Request-body bytes remembered so a request can be retried on a fresh connection. */
  replayLimit?: number;
  /**
   * This process is one of `count` (node:cluster workers) using the same backend: it opens only
   * its part of the backend's connections. php-cgi accepts connections beyond its workers and
   * never serves them (design.md section 5), so the parts must add up to its FCGI_MAX_CONNS.
   */
  share?: ConnectionShare;
  logger?: Logger;
}

export interface ConnectionShare {
  index: number;
  count: number;
}

/** The connections worker `index` of `count` may open: the total split as evenly as it goes, at least 1. */
export function shareOf(total: number, share: ConnectionShare | undefined): number {
  if (!share || share.count <= 1) return total;
  const even = Math.floor(total / share.count) + (share.index < total % share.count ? 1 : 0);
  return Math.max(1, even);
}

export interface PoolRequest {
  params: Iterable<NameValue>;
  /** The request body; a Readable is streamed with backpressure. */
  body?: Readable | Buffer | null;
  role?: number;
  /** FCGI_STDERR lines (PHP's error_log()); by default they go to the logger as errors. */
  onStderr?: (line: string) => void;
  /** Told which connection carries the request: a kept one, or a new one (also for the retry). For fastcgi.debug. */
  onConnection?: (kept: boolean) => void;
  /** Abort: before the headers the promise rejects with RequestAborted, after them the body errors. */
  signal?: AbortSignalLike;
}

/** What the pool uses of an AbortSignal; an AbortSignal is one, so is the bridge's lighter ClientGone. */
export interface AbortSignalLike {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/**
 * A one-shot abort signal without EventTarget: what a request needs to tell its pool that the
 * client went away. AbortController costs an EventTarget, a listener map and an Event per use.
 */
export class ClientGone implements AbortSignalLike {
  aborted = false;
  #listeners: Array<() => void> | undefined;

  addEventListener(_type: 'abort', listener: () => void): void {
    if (this.aborted) return;
    if (this.#listeners) this.#listeners.push(listener);
    else this.#listeners = [listener];
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const listeners = this.#listeners;
    if (!listeners) return;
    const at = listeners.indexOf(listener);
    if (at >= 0) listeners.splice(at, 1);
  }

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    const listeners = this.#listeners;
    this.#listeners = undefined;
    if (listeners) for (const listener of listeners) listener();
  }
}

export type PoolSettings = Required<Omit<BackendPoolOptions, 'logger' | 'address' | 'share'>> & {
  share?: ConnectionShare;
};

export function poolSettings(options: BackendPoolOptions): PoolSettings {
  return {
    maxConns: options.maxConns ?? 1,
    askMaxConns: options.askMaxConns ?? true,
    getValuesTimeout: options.getValuesTimeout ?? 1000,
    connectTimeout: options.connectTimeout ?? 8000,
    readTimeout: options.readTimeout ?? 0,
    writeTimeout: options.writeTimeout ?? 0,
    idleTimeout: options.idleTimeout ?? 5000,
    queueTimeout: options.queueTimeout ?? 30_000,
    keepConn: options.keepConn ?? true,
    replayLimit: options.replayLimit ?? DEFAULT_REPLAY_LIMIT,
    share: options.share,
  };
}
