import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import {
  createServer as createHttp2Server,
  type Http2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type ServerHttp2Session,
} from 'node:http2';
import type { Socket } from 'node:net';
import { IDLE_GRACE_MS } from '../http/connection-limits.js';
import { countBodyBytes } from '../http/protocol.js';

/**
 * HTTP/2 next to createHttpServer's HTTP/1, on the same sockets, chosen per connection as
 * lighttpd 1.4.69 chooses: a TLS socket by what ALPN agreed ("h2"), a clear-text one by its
 * first bytes (the HTTP/2 connection preface: "prior knowledge", h2c without Upgrade).
 * Any socket emitted as 'connection' into the HTTP/1 server is dispatched, so a TLS server
 * whose 'secureConnection' sockets go there speaks HTTP/2 too.
 */

/** RFC 9113 3.4: what a client speaking HTTP/2 from its first byte sends first. */
export const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** lighttpd's server.feature-flags for HTTP/2 (configfile.c; both enabled by default). */
export interface Http2Settings {
  /**
   * "server.h2proto": HTTP/2 at all: ALPN "h2" on TLS and the preface on clear text (lighttpd
   * checks only this flag for prior knowledge, connections.c).
   */
  h2proto: boolean;
  /**
   * "server.h2c": lighttpd's `Upgrade: h2c` from an HTTP/1.1 request on clear text. Node's
   * http2 has no such upgrade: the request is answered over HTTP/1.1 whatever this says (a
   * client must then go on in HTTP/1.1, as RFC 9113 allows; curl does).
   */
  h2c: boolean;
}

export const LIGHTTPD_HTTP2: Readonly<Http2Settings> = { h2proto: true, h2c: true };

/** What a TLS listener advertises over ALPN for these settings. */
export function alpnProtocols(settings: Pick<Http2Settings, 'h2proto'> = LIGHTTPD_HTTP2): string[] {
  return settings.h2proto ? ['h2', 'http/1.1'] : ['http/1.1'];
}

export type AnyRequestListener = (
  req: IncomingMessage | Http2ServerRequest,
  res: ServerResponse | Http2ServerResponse,
) => unknown;

export interface Http2DispatchOptions {
  settings: Http2Settings;
  /** Before the first request: how long a connection may send nothing (server.max-read-idle). */
  readIdleMs: number;
  /** Between requests: how long a session may stay idle (server.max-keep-alive-idle). */
  keepAliveIdleMs: number;
  /** Called for each HTTP/2 request after its head is made to look like HTTP/1's to the stages. */
  onRequest: AnyRequestListener;
  /** `Expect: 100-continue` on HTTP/2: how the HTTP/1 side sends it (when the body is first read). */
  onCheckContinue?: AnyRequestListener;
}

/**
 * Puts the dispatcher in front of `http1`'s own connection handling. Call it before anything
 * else wraps 'connection' (limitConnections), so that such a gate counts every connection,
 * one HTTP/2 session being one connection as in lighttpd. Returns the HTTP/2 server the
 * sessions live in.
 */
export function dispatchProtocols(http1: HttpServer, options: Http2DispatchOptions): Http2Server {
  const http2 = createHttp2Server({
    // lighttpd has no limit on the number of header lines, only on their size (which
    // requestHead() checks, 431, as for HTTP/1); nghttp2's default is 128 lines.
    maxHeaderListPairs: 0xffff,
  });
  http2.on('request', (req: Http2ServerRequest, res: Http2ServerResponse) => {
    asHttp1Head(req);
    withoutConnectionHeaders(res);
    countBodyBytes(res);
    options.onRequest(req, res);
  });
  const onCheckContinue = options.onCheckContinue;
  if (onCheckContinue) {
    http2.on('checkContinue', (req: Http2ServerRequest, res: Http2ServerResponse) => {
      asHttp1Head(req);
      withoutConnectionHeaders(res);
      countBodyBytes(res);
      onCheckContinue(req, res);
    });
  }
  const sessions = new Set<ServerHttp2Session>();
  http2.on('session', (session: ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    idleSession(session, options);
  });

  const http1Listeners = http1.listeners('connection') as Array<(socket: Socket) => void>;
  for (const listener of http1Listeners) http1.removeListener('connection', listener);
  const toHttp1 = (socket: Socket) => {
    for (const listener of http1Listeners) listener.call(http1, socket);
  };
  const toHttp2 = (socket: Socket) => http2.emit('connection', socket);
  http1.on('connection', (socket: Socket) => {
    if (!options.settings.h2proto) return toHttp1(socket);
    const alpn = (socket as Socket & { alpnProtocol?: string | false }).alpnProtocol;
    if (alpn !== undefined) return alpn === 'h2' ? toHttp2(socket) : toHttp1(socket);
    sniffPreface(socket, options.readIdleMs + IDLE_GRACE_MS, (isHttp2) =>
      isHttp2 ? toHttp2(socket) : toHttp1(socket),
    );
  });

  // Stopping the server stops its sessions too: close() sends GOAWAY (open streams finish),
  // closeAllConnections() ends them; HTTP/1's own bookkeeping does not know them.
  const close = http1.close;
  http1.close = function closeWithSessions(this: HttpServer, ...args: Parameters<HttpServer['close']>) {
    for (const session of sessions) session.close();
    return close.apply(this, args);
  } as HttpServer['close'];
  const closeAll = http1.closeAllConnections;
  http1.closeAllConnections = function closeAllWithSessions(this: HttpServer) {
    for (const session of sessions) session.destroy();
    closeAll.call(this);
  };
  return http2;
}

/**
 * Reads a clear-text connection's first bytes only as far as they could still be the HTTP/2
 * preface, then puts them back and hands the socket on: HTTP/1 ("GET …") is decided on its
 * first byte. A client that sends nothing is closed after the read idle time, as lighttpd
 * closes one that sends no request.
 */
function sniffPreface(socket: Socket, idleMs: number, decide: (isHttp2: boolean) => void): void {
  let seen: Buffer = Buffer.alloc(0);
  const timer = setTimeout(() => socket.destroy(), idleMs);
  timer.unref();
  const onError = () => socket.destroy();
  const stop = () => {
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('close', stop);
    socket.off('error', onError);
  };
  function onData(chunk: Buffer) {
    seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
    const n = Math.min(seen.length, HTTP2_PREFACE.length);
    const couldBe = seen.subarray(0, n).equals(HTTP2_PREFACE.subarray(0, n));
    if (couldBe && seen.length < HTTP2_PREFACE.length) return;
    stop();
    socket.pause();
    socket.unshift(seen);
    decide(couldBe);
    // The protocol's own listeners are in place now; the bytes put back come first.
    process.nextTick(() => socket.resume());
  }
  socket.on('data', onData);
  socket.on('close', stop);
  socket.on('error', onError);
}

/**
 * lighttpd's idle limits for a session: the read idle time until its first request, then
 * the keep-alive idle time whenever no stream is open (a session idle with a stream open,
 * PHP thinking, is left alone, as an HTTP/1 answer waiting for PHP is). GOAWAY, then closed.
 */
function idleSession(session: ServerHttp2Session, options: Http2DispatchOptions): void {
  let open = 0;
  let served = false;
  session.setTimeout(options.readIdleMs + IDLE_GRACE_MS, () => {
    if (open === 0) session.close();
  });
  session.on('stream', (stream) => {
    open++;
    if (!served) {
      served = true;
      session.setTimeout(options.keepAliveIdleMs + IDLE_GRACE_MS);
    }
    stream.once('close', () => open--);
  });
}

/**
 * The request as the stages know it from HTTP/1: `:authority` as Host (lighttpd makes it
 * the Host header too), and rawHeaders (what PHP's HTTP_* variables and the head's size are
 * made from) without the pseudo-headers. Koa itself reads `:authority` for ctx.host.
 */
function asHttp1Head(req: Http2ServerRequest): void {
  const raw = req.rawHeaders;
  let authority: string | undefined;
  for (let i = 0; i + 1 < raw.length; ) {
    if (raw[i]!.startsWith(':')) {
      if (raw[i] === ':authority') authority = raw[i + 1];
      raw.splice(i, 2);
    } else i += 2;
  }
  if (req.headers.host === undefined && authority !== undefined) {
    req.headers.host = authority;
    raw.unshift('Host', authority);
  }
}

/**
 * RFC 9113 8.2.2: HTTP/2 has no connection-specific header fields, and node:http2 throws
 * (ERR_HTTP2_INVALID_CONNECTION_HEADERS) when a response carries one, after the stages are
 * done. The stages set them for HTTP/1 (`Connection: close` after a 413, an unread body or
 * a failed spool; PHP's own Connection, Transfer-Encoding, Keep-Alive); on HTTP/2 they are
 * dropped where they are set, as lighttpd never sends them there.
 */
const CONNECTION_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);

function isConnectionHeader(name: string, value: unknown): boolean {
  const lower = name.toLowerCase();
  if (lower === 'te') return String(value).toLowerCase() !== 'trailers';
  return CONNECTION_HEADERS.has(lower);
}

function withoutConnectionHeaders(res: Http2ServerResponse): void {
  const setHeader = res.setHeader;
  res.setHeader = function setHeaderForHttp2(this: Http2ServerResponse, name: string, value) {
    if (isConnectionHeader(name, value)) {
      this.removeHeader(name);
      return this;
    }
    return setHeader.call(this, name, value);
  } as Http2ServerResponse['setHeader'];
  const target = res as Http2ServerResponse & { appendHeader?: (name: string, value: unknown) => unknown };
  const appendHeader = target.appendHeader;
  if (typeof appendHeader === 'function') {
    target.appendHeader = function appendHeaderForHttp2(this: Http2ServerResponse, name: string, value) {
      if (isConnectionHeader(name, value)) return this;
      return appendHeader.call(this, name, value);
    };
  }
  const writeHead = res.writeHead;
  res.writeHead = function writeHeadForHttp2(this: Http2ServerResponse, status: number, ...rest: unknown[]) {
    const args = rest.map((arg) => (arg && typeof arg === 'object' ? withoutConnectionFields(arg) : arg));
    return (writeHead as (...a: unknown[]) => Http2ServerResponse).call(this, status, ...args);
  } as Http2ServerResponse['writeHead'];
}

function withoutConnectionFields(headers: object): object {
  if (Array.isArray(headers)) {
    const kept: unknown[] = [];
    for (let i = 0; i + 1 < headers.length; i += 2)
      if (!isConnectionHeader(String(headers[i]), headers[i + 1])) kept.push(headers[i], headers[i + 1]);
    return kept;
  }
  return Object.fromEntries(
    Object.entries(headers).filter(([name, value]) => !isConnectionHeader(name, value)),
  );
}
