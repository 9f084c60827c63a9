import type { Context } from 'koa';
import { normaliseHost } from './host.js';

/** A Host that lighttpd's host policy refuses: 400. */
export class BadHost extends Error {
  override readonly name = 'BadHost';
  readonly status = 400;
}

/**
 * lighttpd's uri.authority: the request's host in canonical form (lower case, no trailing
 * dot, no default port), or '' when the request names none (HTTP/1.0 without Host). Behind
 * the lighttpd.conf front end the Host header is canonical already (request-head.ts); a stage
 * used alone in a Koa app checks it here, because the vhost modules build paths from it: only
 * letters, digits, `-` and `.` labels or an IPv6 literal, and a numeric port, get through.
 */
export function requestAuthority(ctx: Context): string {
  const given = ctx.req.headers.host;
  if (!given) return '';
  const host = normaliseHost(given.toLowerCase(), ctx.protocol === 'https' ? 443 : 80);
  if (host === undefined) throw new BadHost(`invalid host name: ${JSON.stringify(given)}`);
  return host;
}
