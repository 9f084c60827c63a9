import {
  createServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Duplex } from 'node:stream';
import { limitConnections } from '../http/connection-gate.js';
import {
  type ConnectionLimits,
  governRequest,
  IDLE_GRACE_MS,
  idleTimeout,
  LIGHTTPD_CONNECTION_LIMITS,
} from '../http/connection-limits.js';
import { errorPageBody, reasonPhrase } from '../http/error-page.js';
import { DEFAULT_MAX_REQUEST_FIELD_SIZE } from '../http/limits.js';
import { defaultLogger, type Logger } from '../log.js';
import {
  type AnyRequestListener,
  dispatchProtocols,
  type Http2Settings,
  LIGHTTPD_HTTP2,
} from './http2-server.js';

/**
 * The HTTP/1.1 server koa-lighty answers on, set up the way lighttpd behaves where Node's
 * defaults differ. Koa users can wrap their own app with it to get the same edges.
 */
export interface HttpServerOptions {
  /**
   * server.max-request-field-size: the request line plus all header lines, in bytes; larger
   * requests get 431. lighttpd's default is 8192 (Node's own is 16384).
   */
  maxRequestFieldSize?: number;
  /**
   * server.max-keep-alive-requests, -keep-alive-idle, -read-idle and -write-idle, for every
   * request (a stage may change them for its own: connectionLimits()). Unset ones are
   * lighttpd's: 1000 requests, 5 s, 60 s, 360 s. See http/connection-limits.ts.
   */
  connectionLimits?: Partial<ConnectionLimits>;
  /**
   * server.max-connections: beyond it new connections wait, unread, until one closes (as in
   * lighttpd); unset, there is no limit.
   */
  maxConnections?: number;
  /** Where a request Node's parser refused is logged (one line each). */
  log?: Logger;
  /**
   * HTTP/2 on the same sockets (server/http2-server.ts): `true` or settings (server.feature-flags
   * "server.h2proto", "server.h2c") turn it on: prior knowledge on clear text, ALPN "h2" on a
   * TLS socket emitted as 'connection'. Unset or false: HTTP/1 only, as before.
   */
  http2?: boolean | Partial<Http2Settings>;
}

export function createHttpServer(
  handler: RequestListener | AnyRequestListener,
  options: HttpServerOptions = {},
): Server {
  const log = options.log ?? defaultLogger;
  const limits: ConnectionLimits = { ...LIGHTTPD_CONNECTION_LIMITS, ...options.connectionLimits };
  const dispatch = (req: IncomingMessage, res: ServerResponse) => {
    // `GET / HTTP/2.0` on an HTTP/1 connection (Node's parser takes any one-digit version).
    if (req.httpVersionMajor !== 1) {
      refuseVersion(req.socket, log);
      return;
    }
    if (req.httpVersionMajor === 1 && req.httpVersionMinor === 0) answerInKind(res);
    governRequest(req, res, limits);
    (handler as RequestListener)(req, res);
  };
  const server = createServer(
    {
      maxHeaderSize: options.maxRequestFieldSize ?? DEFAULT_MAX_REQUEST_FIELD_SIZE,
      // Node's parser stays strict: its lenient mode also lets request smuggling through.
      insecureHTTPParser: false,
      // An absolute-form target names the host without a Host header (RFC 9112 3.2.2);
      // requestHead() refuses HTTP/1.1 requests that name none, with lighttpd's page.
      requireHostHeader: false,
      // lighttpd has no deadline for a whole request, only for idleness: an upload may take
      // as long as it keeps moving (Node's default cuts it after 5 minutes).
      requestTimeout: 0,
      // But a head must be complete within a minute (or the read idle time, if longer). That
      // is Node's guard against clients that trickle a head forever; lighttpd has none.
      headersTimeout: Math.max(60_000, limits.readIdleMs + IDLE_GRACE_MS),
    },
    dispatch,
  );
  // `Expect: 100-continue`: the interim answer only when the body is not there yet, and only
  // once a stage starts reading it, as lighttpd (Node sends it at once, also to a client that
  // sent its body with the head, or whose body is refused with a 413 unread). The body that
  // came in the same read is parsed right after the head, so one turn later it shows in the
  // request's buffer.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    setImmediate(() => {
      if (req.readableLength === 0 && !req.complete) continueOnFirstRead(req, res);
      dispatch(req, res);
    });
  });
  // What Node advertises (Keep-Alive: timeout=N) and its own keep-alive timer; governRequest
  // sets the timers of each phase of a request, and the first head gets the read idle time.
  server.keepAliveTimeout = limits.keepAliveIdleMs;
  server.timeout = limits.readIdleMs + IDLE_GRACE_MS;
  // An idle connection is closed without a word, as lighttpd closes it (Node would too, but
  // not when something listens for 'timeout' on a request or response), unless its answer is
  // only waiting for PHP.
  server.on('timeout', idleTimeout);
  const http2 = options.http2 === true ? LIGHTTPD_HTTP2 : options.http2 || undefined;
  // Before the connection gate: it then counts HTTP/2 sessions as connections, as lighttpd.
  if (http2) {
    dispatchProtocols(server, {
      settings: { ...LIGHTTPD_HTTP2, ...http2 },
      readIdleMs: limits.readIdleMs,
      keepAliveIdleMs: limits.keepAliveIdleMs,
      onRequest: handler as AnyRequestListener,
      onCheckContinue: (req, res) =>
        setImmediate(() => {
          if (req.readableLength === 0 && !req.complete) continueOnFirstRead(req, res);
          (handler as AnyRequestListener)(req, res);
        }),
    });
  }
  if (options.maxConnections !== undefined && options.maxConnections > 0)
    limitConnections(server, options.maxConnections, log);
  // Node stops counting at 2000 header lines and silently drops the rest (Content-Length
  // among them, so PHP saw an empty body). The byte limit above bounds the count instead.
  server.maxHeadersCount = 0;
  // A client that sends its request and then shuts down its side (shutdown(SHUT_WR), `nc -N`,
  // some proxies) still gets its answer, as from lighttpd; Node's default ends the socket at
  // once. The property is undocumented but read by Node's server on every end of input since
  // v0.x (node/lib/_http_server.js socketOnEnd) and checked by test/http-conformance.test.ts.
  (server as Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) =>
    answerParseError(err, socket, log),
  );
  return server;
}

/**
 * Sends `100 Continue` when the body is first asked for: a stream's _read runs when its
 * consumer wants data, whether it pipes, iterates or listens for 'data'. A body nobody reads
 * (the answer went out first; Node then drains it) gets no interim answer.
 */
function continueOnFirstRead(
  req: IncomingMessage | Http2ServerRequest,
  res: ServerResponse | Http2ServerResponse,
): void {
  const read = req._read;
  req._read = function readAfterContinue(this: typeof req, size: number) {
    req._read = read;
    if (!res.headersSent && !res.writableEnded) res.writeContinue();
    return read.call(this, size);
  };
}

/**
 * An HTTP/1.0 request is answered with an HTTP/1.0 status line, as lighttpd does: old clients
 * and lighttpd's own test suite check it. Node writes `HTTP/1.1` in every status line, in one
 * place (ServerResponse's _storeHeader, which writeHead and the implicit head both call, in
 * Node 20 and 24 alike); the line is rewritten there. Everything else Node already does by
 * the request's version: no chunking, and the connection closes unless asked to stay.
 * test/http-conformance.test.ts checks the line on both Node versions.
 */
function answerInKind(res: ServerResponse): void {
  const target = res as ServerResponse & { _storeHeader?: (firstLine: string, headers: unknown) => void };
  const store = target._storeHeader;
  if (typeof store !== 'function') return;
  target._storeHeader = function storeHttp10Header(
    this: ServerResponse,
    firstLine: string,
    headers: unknown,
  ) {
    return store.call(
      this,
      firstLine.startsWith('HTTP/1.1 ') ? `HTTP/1.0 ${firstLine.slice(9)}` : firstLine,
      headers,
    );
  };
}

/**
 * A request Node's parser refused gets lighttpd's error page (not Node's bare one) and a log
 * line: 431 for an oversized head, 400 for everything else. A head that took too long gets
 * nothing.
 */
function answerParseError(err: NodeJS.ErrnoException, socket: Duplex, log: Logger): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    // headersTimeout: closed without an answer or a log line, as lighttpd closes a connection
    // that timed out (a slow client is no error of the server's).
    socket.destroy();
    return;
  }
  // The HTTP/2 preface where HTTP/2 is off (server.h2proto disabled), or an unknown version.
  if (err.code === 'HPE_PAUSED_H2_UPGRADE' || err.code === 'HPE_INVALID_VERSION') {
    refuseVersion(socket, log);
    return;
  }
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
  // A response already on its way cannot be followed by another one.
  const pending = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (pending?.headersSent) {
    socket.destroy();
    return;
  }
  log.error('http', `${status} ${reasonPhrase(status)}: ${err.code ?? 'parse error'}: ${err.message}`);
  socket.end(closingErrorAnswer('HTTP/1.1', status));
}

/**
 * A request in a version other than HTTP/1.0 and 1.1 on an HTTP/1 connection gets 505, in
 * an HTTP/1.0 status line, and the connection closes, as from lighttpd 1.4.69 (seen): the
 * HTTP/2 preface when HTTP/2 is off, `HTTP/2.0` or `HTTP/3.0` in a request line.
 */
function refuseVersion(socket: Duplex, log: Logger): void {
  log.error('http', '505 HTTP Version Not Supported');
  socket.end(closingErrorAnswer('HTTP/1.0', 505));
}

function closingErrorAnswer(version: string, status: number): string {
  const body = errorPageBody(status);
  return (
    `${version} ${status} ${reasonPhrase(status)}\r\n` +
    'Content-Type: text/html\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    'Connection: close\r\n\r\n' +
    body
  );
}
