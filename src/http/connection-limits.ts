import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { isHttp2 } from './protocol.js';

/**
 * How long a connection may sit idle, and how many requests it may carry, as lighttpd decides
 * (connections.c, response.c): idleness is time without a byte, never the length of a request.
 *
 * - reading a request's body, and the first request's head: server.max-read-idle;
 * - once the request is in, while its answer is sent: server.max-write-idle, counted only
 *   while there are bytes the client does not take (a backend that thinks for long is not
 *   cut, as lighttpd does not cut it);
 * - between requests, and while a later request's head arrives: server.max-keep-alive-idle.
 *
 * A connection idle for longer is closed without an answer, as lighttpd closes it, within a
 * second after the limit (lighttpd looks once a second and closes at the first look past it;
 * so 0 is "about a second", not "never"). The values
 * are per request (lighttpd reads them from the request's config, conditions included):
 * createHttpServer governs every request with the server's values, and a stage can change
 * them for its request (applyRequestLimits).
 */
export interface ConnectionLimits {
  /**
   * server.max-keep-alive-requests: the answer to request number N on a connection closes it
   * when N is more than this (0: every answer closes). lighttpd's default is 1000.
   */
  maxKeepAliveRequests: number;
  /** server.max-keep-alive-idle, in ms (lighttpd: 5 s); 0 turns keep-alive off. */
  keepAliveIdleMs: number;
  /** server.max-read-idle, in ms (lighttpd: 60 s). */
  readIdleMs: number;
  /** server.max-write-idle, in ms (lighttpd: 360 s). */
  writeIdleMs: number;
}

export const LIGHTTPD_CONNECTION_LIMITS: Readonly<ConnectionLimits> = Object.freeze({
  maxKeepAliveRequests: 1000,
  keepAliveIdleMs: 5_000,
  readIdleMs: 60_000,
  writeIdleMs: 360_000,
});

/**
 * lighttpd checks idleness once a second and closes at the first check past the limit, so a
 * connection gets up to a second more; Node's keep-alive timer has the same second of grace
 * (HTTP_SERVER_KEEP_ALIVE_TIMEOUT_BUFFER), so a request sent at the last moment is not cut.
 */
export const IDLE_GRACE_MS = 1000;

interface Governed {
  limits: ConnectionLimits;
  /** This request's number on its connection, from 1. */
  count: number;
  /** The request's body has been read (or it has none). */
  bodyRead: boolean;
}

const GOVERNED = Symbol('koa-lighty.connection-limits');
type GovernedRequest = IncomingMessage & { [GOVERNED]?: Governed };

interface ConnectionState {
  requests: number;
  /** The request whose answer is under way (for idleTimeout). */
  current?: { governed: Governed; res: ServerResponse };
}

const connections = new WeakMap<Socket, ConnectionState>();

/** Puts a request (and its connection) under these limits; createHttpServer calls it for each request. */
export function governRequest(req: IncomingMessage, res: ServerResponse, limits: ConnectionLimits): void {
  const socket = req.socket;
  let connection = connections.get(socket);
  if (!connection) {
    connection = { requests: 0 };
    connections.set(socket, connection);
  }
  const count = ++connection.requests;
  const governed: Governed = { limits: { ...limits }, count, bodyRead: !hasBody(req) };
  (req as GovernedRequest)[GOVERNED] = governed;
  connection.current = { governed, res };
  if (!governed.bodyRead) {
    // 'end' comes once a stage has read the body; one nobody reads is read idle to the end.
    req.once('end', () => {
      governed.bodyRead = true;
      if (!res.writableFinished) setIdle(socket, governed.limits.writeIdleMs);
    });
    closeIfBodyUnread(req, res, governed);
  }
  // Node's own listener (keep-alive timer, next pipelined answer) was added before the request
  // was handed out, so this one runs after it and has the last word.
  res.once('finish', () => afterAnswer(socket, res, governed));
  apply(socket, res, governed);
}

/**
 * This request's own values (a lighttpd.conf block's): they replace the server's from now on,
 * for this request and the keep-alive wait after it.
 */
export function applyRequestLimits(
  req: IncomingMessage,
  res: ServerResponse,
  limits: Partial<ConnectionLimits>,
): void {
  // HTTP/2 has no per-request keep-alive, and its streams share the session's socket: the
  // session's own idle timer (server/http2-server.ts) stands for lighttpd's limits there.
  if (isHttp2(req)) return;
  const governed = (req as GovernedRequest)[GOVERNED];
  if (governed) {
    Object.assign(governed.limits, limits);
    apply(req.socket, res, governed);
  } else {
    governRequest(req, res, { ...LIGHTTPD_CONNECTION_LIMITS, ...limits });
  }
}

function apply(socket: Socket, res: ServerResponse, governed: Governed): void {
  const { limits, count } = governed;
  // Node then writes `Connection: close` and ends the connection after the answer.
  if (!res.headersSent && (limits.keepAliveIdleMs === 0 || count > limits.maxKeepAliveRequests))
    res.shouldKeepAlive = false;
  setIdle(socket, governed.bodyRead ? limits.writeIdleMs : limits.readIdleMs);
}

/**
 * An answer that goes out before a stage has read its request's body (a POST to a static file,
 * a 413) ends the connection, as lighttpd's does (response.c: the body's length is not what it
 * read), whether the body is all there or not: the rest is not waited for. Checked when the head
 * is written; Node's implicit head goes through writeHead too.
 */
function closeIfBodyUnread(req: IncomingMessage, res: ServerResponse, governed: Governed): void {
  const writeHead = res.writeHead;
  res.writeHead = function writeHeadClosingEarly(this: ServerResponse, ...args: unknown[]) {
    if (!governed.bodyRead) {
      this.shouldKeepAlive = false;
      lingerOnClose(req.socket);
    }
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as ServerResponse['writeHead'];
}

/** lighttpd's HTTP_LINGER_TIMEOUT. */
const LINGER_MS = 5000;

/**
 * Closing a connection while the client still sends its body would reset it (the kernel
 * answers unread data with RST), and a client busy writing can lose the answer it has not read
 * yet. So, as lighttpd does, only our side is shut once the answer is out, and what the client
 * still sends is read and dropped (Node drains the unread body) until it closes too, for at
 * most LINGER_MS. Node ends such a connection with destroySoon(), replaced here.
 */
function lingerOnClose(socket: Socket): void {
  socket.destroySoon = function lingeringClose(this: Socket) {
    if (this.writable) this.end();
    const timer = setTimeout(() => this.destroy(), LINGER_MS);
    timer.unref();
    this.once('close', () => clearTimeout(timer));
  };
}

/**
 * What to do with a connection whose idle timer fired (createHttpServer's 'timeout'): close it,
 * unless an answer is under way and only waits for its maker (PHP thinking, or pausing between
 * two writes). lighttpd counts server.max-write-idle only while it has bytes the client does not
 * take (seen: a script silent for longer than max-write-idle and max-read-idle is not cut).
 */
export function idleTimeout(socket: Socket): void {
  const current = connections.get(socket)?.current;
  const answering = current?.governed.bodyRead && !current.res.writableFinished;
  if (answering && socket.writableLength === 0) return;
  socket.destroy();
}

function afterAnswer(socket: Socket, res: ServerResponse, governed: Governed): void {
  // Closing, or the next pipelined answer is already on its way (its request governs).
  const pending = (socket as Socket & { _httpMessage?: unknown })._httpMessage;
  if (socket.destroyed || !socket.writable || pending || !res.shouldKeepAlive) return;
  setIdle(socket, governed.limits.keepAliveIdleMs);
}

function setIdle(socket: Socket, ms: number): void {
  if (!socket.destroyed) socket.setTimeout(ms + IDLE_GRACE_MS);
}

function hasBody(req: IncomingMessage): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const length = req.headers['content-length'];
  return length !== undefined && Number(length) > 0;
}
