import type { Middleware } from 'koa';
import { applyRequestLimits, type ConnectionLimits } from '../http/connection-limits.js';
import { OptionError } from '../option-error.js';

/**
 * server.max-keep-alive-requests, server.max-keep-alive-idle, server.max-read-idle and
 * server.max-write-idle for the requests passing through: what http/connection-limits.ts
 * describes, with these values instead of the server's (createHttpServer's). A lighttpd.conf
 * block that sets them gets this stage; `$HTTP["useragent"] =~ "MSIE" {
 * server.max-keep-alive-requests = 0 }` closes those clients' connections after each answer.
 */
export type ConnectionLimitsOptions = Partial<ConnectionLimits>;

export function connectionLimits(options: ConnectionLimitsOptions): Middleware {
  const limits: ConnectionLimitsOptions = {};
  for (const [name, value] of Object.entries(options) as Array<[keyof ConnectionLimits, unknown]>) {
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)
      throw new OptionError('ERR_CONNECTION_LIMIT', name, 'must be a whole number, 0 or more');
    limits[name] = value;
  }
  return function connectionLimitsMiddleware(ctx, next) {
    applyRequestLimits(ctx.req, ctx.res, limits);
    return next();
  };
}
