import type { IncomingMessage } from 'node:http';
import type { Context, Middleware } from 'koa';
import { normaliseHost } from '../http/host.js';
import { DEFAULT_MAX_REQUEST_FIELD_SIZE } from '../http/limits.js';

/**
 * The checks of a request's head that lighttpd makes and Node's parser leaves to the server
 * (RFC 9112 sections 3.2 and 5), applied before anything looks at the request, so that the
 * config's `$HTTP["host"]` conditions, the stages and PHP's HTTP_HOST/SERVER_NAME all see one
 * and the same host:
 *
 * - an absolute-form target (`GET http://host/path`) names the host; a Host header that says
 *   otherwise is a 400, as from lighttpd. The target becomes origin-form (REQUEST_URI is the
 *   path, as lighttpd passes it). Schemes other than http and https (`rtsp://`) are a 400;
 * - a repeated Host, Content-Type or If-Modified-Since with another value is a 400; the same
 *   value repeated is dropped. Of repeated If-None-Match lines the first one counts;
 * - the host must be a valid host name or address and is put in lighttpd's canonical form
 *   (lower case, no trailing dot, no default port: see http/host.ts); PHP sees it so;
 * - `OPTIONS *` answers 200 with lighttpd's Allow header;
 * - a head larger than server.max-request-field-size is a 431.
 */
export class BadRequestHead extends Error {
  override readonly name = 'BadRequestHead';
  readonly code = 'ERR_BAD_REQUEST_HEAD';
  constructor(
    message: string,
    /** 400, or 431 for a head over server.max-request-field-size. */
    readonly status: 400 | 431 = 400,
  ) {
    super(message);
  }
}

export interface RequestHeadOptions {
  /**
   * server.max-request-field-size: the request line and header lines, in bytes, as received
   * (default 8192, as lighttpd). Node's own limit counts only names and values, so a request
   * with many short headers passed it where lighttpd answers 431.
   */
  maxRequestFieldSize?: number;
}

/** What lighttpd answers to `OPTIONS *` (seen: 1.4.69). */
const ALLOW = 'OPTIONS, GET, HEAD, POST';

/** Headers that may appear once; a second, different value makes the request ambiguous. */
const SINGLE = new Set(['host', 'content-type', 'if-modified-since']);

const ABSOLUTE_FORM = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/s;

export function requestHead(options: RequestHeadOptions = {}): Middleware {
  return function requestHeadMiddleware(ctx, next) {
    if (checkRequestHead(ctx, options)) return;
    return next();
  };
}

/**
 * The checks alone: throws a BadRequestHead (with `Connection: close` set on the response),
 * or puts the request into canonical form. True when the request is answered (`OPTIONS *`).
 */
export function checkRequestHead(ctx: Context, options: RequestHeadOptions = {}): boolean {
  const limit = options.maxRequestFieldSize ?? DEFAULT_MAX_REQUEST_FIELD_SIZE;
  const req = ctx.req;
  const url = req.url ?? '/';
  try {
    const size = headSize(req);
    if (size > limit)
      throw new BadRequestHead(`request head of ${size} bytes is over server.max-request-field-size`, 431);
    // RFC 9112 3.2: an HTTP/1.1 request names its host, in the target or a Host header.
    if (req.httpVersion !== '1.0' && req.headers.host === undefined && !ABSOLUTE_FORM.test(url))
      throw new BadRequestHead('HTTP/1.1 request without Host');
    if (url === '*') {
      if (req.method !== 'OPTIONS') throw new BadRequestHead(`${req.method} * is not a request-target`);
      ctx.status = 200;
      ctx.set('Allow', ALLOW);
      ctx.body = Buffer.alloc(0);
      ctx.remove('Content-Type');
      return true;
    }
    const authority = url[0] === '/' ? undefined : originForm(req, url);
    canonicalHeaders(req, authority);
    return false;
  } catch (err) {
    // lighttpd does not read another request from a client that sent a broken one.
    ctx.set('Connection', 'close');
    throw err;
  }
}

/** The bytes of the request line and the header lines, counted as `Name: value` with CRLF. */
function headSize(req: IncomingMessage): number {
  let size = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n\r\n`.length;
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) size += raw[i]!.length + raw[i + 1]!.length + 4;
  return size;
}

/** Turns an absolute-form target into origin-form and returns its authority, lower-cased. */
function originForm(req: IncomingMessage, url: string): string {
  const m = ABSOLUTE_FORM.exec(url);
  const scheme = m?.[1]?.toLowerCase();
  if (!m || (scheme !== 'http' && scheme !== 'https'))
    throw new BadRequestHead(`request-target is neither a path nor an http(s) URL: ${JSON.stringify(url)}`);
  const authority = m[2]!.toLowerCase();
  const rest = m[3]!;
  // lighttpd wants a path after the authority (`http://host` alone is a 400, seen).
  if (!authority || authority.length >= 1024 || rest[0] !== '/')
    throw new BadRequestHead(`absolute-form request-target without host or path: ${JSON.stringify(url)}`);
  req.url = rest;
  return authority;
}

/**
 * Rewrites rawHeaders (what PHP's HTTP_* variables are built from) and headers (what Koa and
 * the conditions read) to the one value each single header has, the host in lighttpd's form.
 */
function canonicalHeaders(req: IncomingMessage, authority: string | undefined): void {
  const raw = req.rawHeaders;
  const seen = new Map<string, string>();
  const kept: string[] = [];
  let changed = authority !== undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    const value = raw[i + 1]!;
    if (lower === 'host' && authority !== undefined) {
      if (value.toLowerCase() !== authority)
        throw new BadRequestHead(`Host: ${value} differs from the target's ${authority}`);
      continue; // the target's authority stands in for it
    }
    if (SINGLE.has(lower) || lower === 'if-none-match') {
      const first = seen.get(lower);
      if (first !== undefined) {
        changed = true;
        if (lower !== 'if-none-match' && first.toLowerCase() !== value.toLowerCase())
          throw new BadRequestHead(`two different ${name} headers`);
        continue;
      }
      seen.set(lower, value);
    }
    kept.push(name, value);
  }
  const given = authority ?? seen.get('host');
  let host: string | undefined;
  if (given !== undefined) {
    const schemePort = 'encrypted' in req.socket ? 443 : 80;
    host = normaliseHost(given.toLowerCase(), schemePort);
    if (host === undefined) throw new BadRequestHead(`invalid host name: ${JSON.stringify(given)}`);
    if (host !== given) changed = true;
  }
  if (!changed) return;
  if (host !== undefined) {
    const at = kept.findIndex((name, i) => i % 2 === 0 && name.toLowerCase() === 'host');
    if (at >= 0) kept[at + 1] = host;
    else kept.unshift('Host', host);
    seen.set('host', host);
  }
  raw.splice(0, raw.length, ...kept);
  for (const name of [...SINGLE, 'if-none-match']) {
    const value = seen.get(name);
    if (value === undefined) delete req.headers[name];
    else req.headers[name] = value;
  }
}
