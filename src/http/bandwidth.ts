import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Context } from 'koa';

/**
 * Bandwidth limits as lighttpd keeps them (connections.c): each limit is a number of bytes per
 * second of the clock, counted afresh every second; what a second's budget does not allow waits
 * for the next one. server.kbytes-per-second is one budget shared by every connection it
 * applies to, connection.kbytes-per-second one per connection (kept across its keep-alive
 * requests), and a backend's `X-LIGHTTPD-KBytes-per-second` lowers the connection's limit for
 * that one answer.
 */
export class ByteBudget {
  #second = -1;
  #used = 0;

  constructor(
    /** Bytes per second; 0 is no limit. */
    public perSecond: number,
  ) {}

  /** Bytes that may go out in the current second. */
  available(now: number): number {
    if (this.perSecond === 0) return Number.POSITIVE_INFINITY;
    this.#roll(now);
    return Math.max(0, this.perSecond - this.#used);
  }

  spend(bytes: number, now: number): void {
    this.#roll(now);
    this.#used += bytes;
  }

  #roll(now: number): void {
    const second = Math.floor(now / 1000);
    if (second !== this.#second) {
      this.#second = second;
      this.#used = 0;
    }
  }
}

const connectionBudgets = new WeakMap<object, ByteBudget>();

/**
 * The connection's own budget, set to `perSecond` for the answer about to be paced. Keyed by
 * the socket, or the HTTP/2 session (connectionOf): lighttpd counts per connection.
 */
export function connectionBudget(socket: object, perSecond: number): ByteBudget {
  let budget = connectionBudgets.get(socket);
  if (!budget) {
    budget = new ByteBudget(perSecond);
    connectionBudgets.set(socket, budget);
  }
  budget.perSecond = perSecond;
  return budget;
}

/**
 * `body` as a stream that yields no faster than every budget allows. The clock is
 * performance.now(): the seconds of one process are the same for every budget.
 */
export function pacedBody(body: Buffer | Readable, budgets: readonly ByteBudget[]): Readable {
  async function* paced(): AsyncGenerator<Buffer> {
    const chunks: AsyncIterable<Buffer> | Buffer[] = Buffer.isBuffer(body) ? [body] : body;
    for await (const chunk of chunks) {
      let rest = chunk;
      while (rest.length > 0) {
        const now = performance.now();
        const allowed = Math.min(...budgets.map((budget) => budget.available(now)));
        if (allowed === 0) {
          await sleep(1000 - (now % 1000) + 1);
          continue;
        }
        const part = allowed >= rest.length ? rest : rest.subarray(0, allowed);
        for (const budget of budgets) budget.spend(part.length, now);
        rest = rest.subarray(part.length);
        yield part;
      }
    }
  }
  // Little read ahead: what the stream holds has already been spent from the budgets.
  return Readable.from(paced(), { objectMode: false, highWaterMark: 1024 });
}

const BACKEND_RATE = Symbol.for('koa-lighty.backend-kbytes-per-second');

/**
 * A backend's `X-LIGHTTPD-KBytes-per-second: N` (KiB/s): read as lighttpd reads it (strtol,
 * so `8k` is 8 and `abc` nothing), and kept for this answer when it is more than 0.
 */
export function noteBackendBandwidth(ctx: Context, value: string): void {
  const m = /^[ \t\n\v\f\r]*([+-]?\d+)/.exec(value);
  const kbytes = m ? Number(m[1]) : 0;
  if (kbytes > 0) (ctx.state as Record<symbol, number>)[BACKEND_RATE] = kbytes * 1024;
}

/** Bytes per second a backend asked for this answer, or 0. */
export function backendBandwidth(ctx: Context): number {
  return (ctx.state as Record<symbol, number | undefined>)[BACKEND_RATE] ?? 0;
}
