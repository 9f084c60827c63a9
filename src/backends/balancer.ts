/**
 * Chooses a host among those configured for one `fastcgi.server` key (spec 3.5, 3.6), then
 * the least-loaded process within it. A process whose connect fails is disabled for its
 * host's disable-time and the request moves on (up to five tries, as lighttpd); with no
 * usable process left the answer is 503.
 */
import { ConnectFailed, ConnectTimeout, NoBackendAvailable } from '../fastcgi/errors.js';
import type { FastCgiResponse } from '../fastcgi/exchange.js';
import type { BackendPool, PoolRequest } from '../fastcgi/pool.js';
import type { Logger } from '../log.js';
import type { Backend } from './backend.js';

/** `fair` is lighttpd's alias of `least-connection`. */
export type BalanceMode = 'least-connection' | 'fair' | 'round-robin';

export interface BalancerOptions {
  balance?: BalanceMode;
  /**
   * Seconds a process of each host that failed to connect is left out: lighttpd's
   * disable-time, set per host block. A host missing from the map gets lighttpd's default, 1.
   */
  disableTimes?: ReadonlyMap<Backend, number>;
  logger?: Logger;
}

export interface BalancedResponse {
  backend: Backend;
  response: FastCgiResponse;
}

const MAX_CONNECT_TRIES = 5;
const DEFAULT_DISABLE_TIME = 1;

export class Balancer {
  private readonly mode: 'least-connection' | 'round-robin';
  private readonly disabledUntil = new Map<BackendPool, number>();
  /** Times each process was disabled (lighttpd's gw.backend.*.disabled). */
  private readonly disables = new Map<BackendPool, number>();
  private lastUsed = -1;

  constructor(
    readonly backends: readonly Backend[],
    private readonly options: BalancerOptions = {},
  ) {
    const balance = options.balance ?? 'least-connection';
    if (balance !== 'least-connection' && balance !== 'fair' && balance !== 'round-robin') {
      throw new Error(`fastcgi.balance: unsupported mode ${JSON.stringify(balance)}`);
    }
    this.mode = balance === 'round-robin' ? 'round-robin' : 'least-connection';
  }

  /**
   * Runs the request on a chosen host. `request` may be a function of the host, for params
   * that depend on it (a host's `docroot` changes SCRIPT_FILENAME).
   */
  async request(request: PoolRequest | ((backend: Backend) => PoolRequest)): Promise<BalancedResponse> {
    let lastError: ConnectFailed | ConnectTimeout | undefined;
    for (let tries = 0; tries < MAX_CONNECT_TRIES; tries++) {
      const choice = this.choose();
      if (!choice) break;
      const [backend, pool] = choice;
      try {
        const response = await pool.request(typeof request === 'function' ? request(backend) : request);
        return { backend, response };
      } catch (error) {
        if (!(error instanceof ConnectFailed || error instanceof ConnectTimeout)) throw error;
        lastError = error;
        this.disable(backend, pool, error);
      }
    }
    // With every try spent on connects that failed, their error says most (504 for a timeout).
    if (lastError) throw lastError;
    throw new NoBackendAvailable(`all handlers for ${this.backends.map((b) => b.label).join(', ')} are down`);
  }

  /** Until when (ms since the epoch) the process is left out, while it is. */
  disabledUntilOf(pool: BackendPool): number | undefined {
    const until = this.disabledUntil.get(pool);
    return until !== undefined && until > Date.now() ? until : undefined;
  }

  /** How often the process has been disabled since start. */
  disableCountOf(pool: BackendPool): number {
    return this.disables.get(pool) ?? 0;
  }

  /** Whether some process is usable right now (the middleware answers 503 early otherwise). */
  get available(): boolean {
    return this.choose(false) !== undefined;
  }

  private disable(backend: Backend, pool: BackendPool, error: Error): void {
    const seconds = this.options.disableTimes?.get(backend) ?? DEFAULT_DISABLE_TIME;
    this.disabledUntil.set(pool, Date.now() + seconds * 1000);
    this.disables.set(pool, (this.disables.get(pool) ?? 0) + 1);
    this.options.logger?.error(
      'fastcgi',
      `backend ${backend.label} disabled for ${seconds} s: ${error.message}`,
    );
  }

  private usablePool(backend: Backend, now: number): BackendPool | undefined {
    let best: BackendPool | undefined;
    for (const pool of backend.pools) {
      const until = this.disabledUntil.get(pool);
      if (until !== undefined) {
        if (until > now) continue;
        this.disabledUntil.delete(pool);
      }
      if (!best || pool.load < best.load) best = pool;
    }
    return best;
  }

  private choose(advance = true): [Backend, BackendPool] | undefined {
    const now = Date.now();
    const count = this.backends.length;
    if (this.mode === 'round-robin') {
      for (let step = 1; step <= count; step++) {
        const index = (this.lastUsed + step) % count;
        const backend = this.backends[index]!;
        const pool = this.usablePool(backend, now);
        if (pool) {
          if (advance) this.lastUsed = index;
          return [backend, pool];
        }
      }
      return undefined;
    }
    let chosen: [Backend, BackendPool] | undefined;
    let lowest = Number.POSITIVE_INFINITY;
    for (const backend of this.backends) {
      const pool = this.usablePool(backend, now);
      // Strictly lower: on a tie the first listed host wins (spec 3.6, seen).
      if (pool && backend.load < lowest) {
        lowest = backend.load;
        chosen = [backend, pool];
      }
    }
    return chosen;
  }
}
