import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Middleware } from 'koa';

/**
 * Headers that are orders from a backend to the server, never meant for the client
 * (design.md section 6): every `X-LIGHTTPD-*` (send-file, KBytes-per-second, …), `X-Sendfile`
 * and `X-Sendfile2`. They are removed from every response, whether or not send-file was used
 * (lighttpd leaked X-Sendfile2 when it was off).
 *
 * The filter runs when the head is written, not after `next()`: an error page, Koa's own error
 * handler or a stage writing to `ctx.res` directly cannot get past it.
 */
export interface StripInternalHeadersOptions {
  /** server.tag: the `Server:` header, unless a handler set its own; '' or undefined sends none. */
  server?: string;
}

/** Where serverTag() leaves the tag of one response, over the filter's own. */
const RESPONSE_TAG = Symbol.for('koa-lighty.server-tag');
type TaggedResponse = ServerResponse & { [RESPONSE_TAG]?: string };

/**
 * The Server header for the responses passing through this middleware, instead of the one
 * given to stripInternalHeaders (mounted in front of it): server.tag set in a lighttpd.conf
 * block. '' sends none.
 */
export function serverTag(tag: string): Middleware {
  return function serverTagMiddleware(ctx, next) {
    (ctx.res as TaggedResponse)[RESPONSE_TAG] = tag;
    return next();
  };
}

export function isInternalHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return lower.startsWith('x-lighttpd-') || lower === 'x-sendfile' || lower === 'x-sendfile2';
}

export function stripInternalHeaders(options: StripInternalHeadersOptions = {}): Middleware {
  const tag = options.server;
  // One function for every response; the writeHead it wraps is kept on the response, under a
  // key of this instance's own (two instances, or one used twice, still chain).
  const unfiltered = Symbol('writeHead before the filter');
  type FilteredResponse = TaggedResponse & { [unfiltered]?: WriteHead };
  const filteredWriteHead = function filteredWriteHead(this: FilteredResponse, ...args: unknown[]) {
    for (const name of this.getHeaderNames()) if (isInternalHeader(name)) this.removeHeader(name);
    // Headers handed to writeHead itself skip setHeader: filter them too.
    const last = args.length - 1;
    if (last >= 1 && typeof args[last] === 'object' && args[last] !== null)
      args[last] = withoutInternal(args[last]);
    const chosen = this[RESPONSE_TAG] ?? tag;
    if (chosen) {
      // lighttpd ends the head with Date, then Server.
      if (!this.hasHeader('Date') && this.sendDate) this.setHeader('Date', httpDate());
      if (!this.hasHeader('Server') && !headerListHas(args[last], 'server')) this.setHeader('Server', chosen);
    }
    return (this[unfiltered] as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as WriteHead;
  return function stripInternalHeadersMiddleware(ctx, next) {
    const res = ctx.res as FilteredResponse;
    if (res[unfiltered] === undefined) {
      res[unfiltered] = res.writeHead;
      res.writeHead = filteredWriteHead;
    }
    return next();
  };
}

type WriteHead = ServerResponse['writeHead'];

let dateSecond = -1;
let dateText = '';

/** The Date header's text, made once a second (Node caches its own the same way). */
function httpDate(): string {
  const second = Math.floor(Date.now() / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(second * 1000).toUTCString();
  }
  return dateText;
}

function withoutInternal(headers: unknown): unknown {
  if (Array.isArray(headers)) {
    // [[name, value], …] or the flat [name, value, name, value, …] form.
    if (headers.every((entry) => Array.isArray(entry)))
      return headers.filter(([name]) => !isInternalHeader(String(name)));
    const kept: unknown[] = [];
    for (let i = 0; i < headers.length; i += 2)
      if (!isInternalHeader(String(headers[i]))) kept.push(headers[i], headers[i + 1]);
    return kept;
  }
  const kept: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers as OutgoingHttpHeaders))
    if (!isInternalHeader(name)) kept[name] = value;
  return kept;
}

function headerListHas(headers: unknown, lowerName: string): boolean {
  if (typeof headers !== 'object' || headers === null) return false;
  if (Array.isArray(headers))
    return headers.flat().some((entry) => String(entry).toLowerCase() === lowerName);
  return Object.keys(headers).some((name) => name.toLowerCase() === lowerName);
}
