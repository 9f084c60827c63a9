import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';

/** A request that came over HTTP/2 (Koa's ctx.req is then node:http2's Http2ServerRequest). */
export function isHttp2(req: IncomingMessage | Http2ServerRequest): req is Http2ServerRequest {
  return req.httpVersionMajor === 2 && 'stream' in req;
}

/**
 * What stands for the client's connection: the socket for HTTP/1, the session for HTTP/2
 * (an HTTP/2 request's `req.socket` is a stand-in for its stream, one per request, so counts
 * kept per connection, as lighttpd keeps them, are keyed by the session instead).
 */
export function connectionOf(req: IncomingMessage | Http2ServerRequest): object {
  if (!isHttp2(req)) return req.socket;
  // A stream that has closed no longer knows its session: the first answer is kept.
  let session = sessions.get(req);
  if (!session) {
    session = req.stream.session ?? req.stream;
    sessions.set(req, session);
  }
  return session;
}

const sessions = new WeakMap<Http2ServerRequest, object>();

/** The parts of a connection's socket the access log reads once the answer is done. */
export interface SocketFacts {
  remoteAddress?: string;
  remotePort?: number;
  localAddress?: string;
  localPort?: number;
  server?: { address(): unknown };
  bytesWritten?: number;
  bytesRead?: number;
}

/**
 * The request's socket for what is read of it after the answer: HTTP/1's own socket; for
 * HTTP/2 the session's, as it was at the first call (a closed stream's stand-in socket no
 * longer reaches the session), with the byte counts read live while the session is there.
 */
export function socketOf(req: IncomingMessage | Http2ServerRequest): SocketFacts {
  if (!isHttp2(req)) return req.socket as SocketFacts;
  let facts = snapshots.get(req);
  if (!facts) {
    const socket = req.socket as unknown as SocketFacts;
    const live = socket;
    facts = {
      remoteAddress: socket.remoteAddress,
      remotePort: socket.remotePort,
      localAddress: socket.localAddress,
      localPort: socket.localPort,
      server: socket.server,
      get bytesWritten() {
        return req.stream.session ? live.bytesWritten : undefined;
      },
      get bytesRead() {
        return req.stream.session ? live.bytesRead : undefined;
      },
    };
    snapshots.set(req, facts);
  }
  return facts;
}

const snapshots = new WeakMap<Http2ServerRequest, SocketFacts>();

const BODY_BYTES = Symbol('koa-lighty.http2-body-bytes');
type Counted = { [BODY_BYTES]?: number };

/**
 * Counts the body bytes an HTTP/2 answer writes (the access log's %b and %O): its stream has
 * no byte counts of its own, and the session's socket carries every stream's frames at once.
 */
export function countBodyBytes(res: Http2ServerResponse): void {
  const counted = res as Http2ServerResponse & Counted;
  counted[BODY_BYTES] = 0;
  // end(chunk) may write it through write(): counted once, wherever it goes.
  let ending = false;
  const add = (chunk: unknown, encoding: unknown) => {
    if (typeof chunk === 'string') {
      const coding = typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8';
      counted[BODY_BYTES]! += Buffer.byteLength(chunk, coding);
    } else if (chunk instanceof Uint8Array) counted[BODY_BYTES]! += chunk.byteLength;
  };
  const write = res.write;
  res.write = function countedWrite(this: Http2ServerResponse, chunk: unknown, ...rest: unknown[]) {
    if (!ending) add(chunk, rest[0]);
    return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  } as Http2ServerResponse['write'];
  const end = res.end;
  res.end = function countedEnd(this: Http2ServerResponse, chunk?: unknown, ...rest: unknown[]) {
    if (typeof chunk !== 'function') add(chunk, rest[0]);
    ending = true;
    try {
      return (end as (...a: unknown[]) => Http2ServerResponse).call(this, chunk, ...rest);
    } finally {
      ending = false;
    }
  } as Http2ServerResponse['end'];
}

/** What countBodyBytes counted, or undefined for an answer it does not count (HTTP/1). */
export function bodyBytesOf(res: object): number | undefined {
  return (res as Counted)[BODY_BYTES];
}
