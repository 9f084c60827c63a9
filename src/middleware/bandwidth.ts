import { Stream } from 'node:stream';
import type { Context, Middleware } from 'koa';
import { ByteBudget, backendBandwidth, connectionBudget, pacedBody } from '../http/bandwidth.js';
import { connectionOf } from '../http/protocol.js';
import { OptionError } from '../option-error.js';

/**
 * server.kbytes-per-second and connection.kbytes-per-second: the bodies of the answers passing
 * through are sent no faster than the limits allow (see http/bandwidth.ts), and a backend's
 * `X-LIGHTTPD-KBytes-per-second` lowers the connection's limit for its answer. Mount it
 * outermost, so it paces what goes on the wire (a compressed body, an error page); lighttpd
 * counts the response head too, this counts the body alone.
 */
export interface BandwidthOptions {
  /** connection.kbytes-per-second: KiB/s for each connection; 0 or unset: none. */
  connectionKBytesPerSecond?: number;
  /**
   * server.kbytes-per-second: KiB/s shared by every answer through this middleware, or a
   * ByteBudget shared with other instances (lighttpd keeps one per line of the config that
   * sets it); 0 or unset: none.
   */
  serverKBytesPerSecond?: number | ByteBudget;
}

/** lighttpd's option is a short: up to 65535 KiB/s. */
const MAX_KBYTES = 65535;

export function bandwidth(options: BandwidthOptions = {}): Middleware {
  const perConnection = kbytes('connectionKBytesPerSecond', options.connectionKBytesPerSecond ?? 0) * 1024;
  const given = options.serverKBytesPerSecond ?? 0;
  const shared =
    given instanceof ByteBudget
      ? given
      : kbytes('serverKBytesPerSecond', given) > 0
        ? new ByteBudget(given * 1024)
        : undefined;
  return async function bandwidthMiddleware(ctx, next) {
    await next();
    const fromBackend = backendBandwidth(ctx);
    // The backend may only lower the connection's limit (response.c).
    const rate =
      fromBackend > 0 && (perConnection === 0 || fromBackend < perConnection) ? fromBackend : perConnection;
    const budgets = [];
    if (rate > 0) budgets.push(connectionBudget(connectionOf(ctx.req), rate));
    if (shared && shared.perSecond > 0) budgets.push(shared);
    if (budgets.length > 0) pace(ctx, budgets);
  };
}

function kbytes(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_KBYTES)
    throw new OptionError('ERR_BANDWIDTH', option, `must be whole KiB/s from 0 to ${MAX_KBYTES}`);
  return value;
}

/** Replaces the body by its paced stream, keeping the length and type the answer had. */
function pace(ctx: Context, budgets: ByteBudget[]): void {
  const body = ctx.body;
  if (ctx.method === 'HEAD' || !ctx.writable || ctx.headerSent) return;
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  if (!Buffer.isBuffer(bytes) && !(bytes instanceof Stream.Readable)) return;
  const length = ctx.response.get('Content-Length') ? ctx.response.length : undefined;
  const type = ctx.response.get('Content-Type');
  ctx.body = pacedBody(bytes, budgets);
  if (length !== undefined) ctx.length = length;
  // Koa types a new stream body as octet-stream; an untyped answer stays untyped.
  if (!type) ctx.remove('Content-Type');
}
