/**
 * mod_accesslog: one line per request, written once its response has finished (or the client
 * went away mid-response: `%X` is then `X`), in lighttpd's format language (accesslog/format.ts)
 * with lighttpd's escaping. Bytes are counted on the connection, as lighttpd does: `%b` is what
 * the response really took beyond its header block, `%I` what the request took to arrive.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Context, Middleware } from 'koa';
import { type AccessLogEscaping, escaper } from '../accesslog/escape.js';
import {
  AccessLogFormatError,
  DEFAULT_ACCESSLOG_FORMAT,
  type FormatField,
  parseAccessLogFormat,
} from '../accesslog/format.js';
import { openLogOutput } from '../accesslog/output.js';
import { compileRecord, type RequestFacts } from '../accesslog/record.js';
import { bodyBytesOf, connectionOf, socketOf } from '../http/protocol.js';
import { BadRequestTarget } from '../http/request-path.js';
import { requestState } from '../http/request-state.js';
import { defaultLogger, type Logger } from '../log.js';
import { BadRequestHead } from '../middleware/request-head.js';
import { OptionError } from '../option-error.js';

export interface AccessLogOptions {
  /**
   * Where the lines go: a file (opened for appending now), `|program` (its standard input, as
   * in lighttpd), or anything with a write(Buffer) such as process.stdout.
   */
  output: string | { write(line: Buffer): unknown };
  /** lighttpd's accesslog.format (default: lighttpd's default, Apache's combined with %V). */
  format?: string;
  /** accesslog.escaping: 'default' (`\xHH`) or 'json' (`\u00HH`, UTF-8 kept). */
  escaping?: AccessLogEscaping;
  /** server.name: what `%v` prints; without it, the request's host. */
  serverName?: string;
  /** Where a failing file or program is reported. */
  log?: Logger;
}

export type AccessLogMiddleware = Middleware & {
  /** Flushes and closes a file or program this middleware opened itself. */
  close(): Promise<void>;
};

export function accessLog(options: AccessLogOptions | string): AccessLogMiddleware {
  const {
    output,
    format = DEFAULT_ACCESSLOG_FORMAT,
    escaping = 'default',
    serverName,
    log,
  } = typeof options === 'string' ? { output: options } : options;
  let fields: FormatField[];
  try {
    fields = parseAccessLogFormat(format);
  } catch (error) {
    if (error instanceof AccessLogFormatError)
      throw new OptionError('ERR_ACCESSLOG_FORMAT', 'format', error.message);
    throw error;
  }
  const render = compileRecord(fields, escaper(escaping));
  const opened = typeof output === 'string' ? openLogOutput(output, log ?? defaultLogger) : undefined;
  const out = opened ?? (output as { write(line: Buffer): unknown });

  const middleware = async function accessLogLine(ctx: Context, next: () => Promise<unknown>) {
    const started = startRequest(ctx.req);
    const res = ctx.res;
    let refused = false;
    let done = false;
    const write = (aborted: boolean) => {
      if (done) return;
      done = true;
      const facts = requestFacts(ctx, started, { aborted, refused, serverName });
      try {
        out.write(Buffer.from(`${render(facts)}\n`, 'latin1'));
      } catch (error) {
        // An event handler must not throw: that would take the server down.
        (log ?? defaultLogger).error('accesslog', `writing a line failed: ${(error as Error).message}`);
      }
    };
    res.once('finish', () => write(false));
    // lighttpd logs a response the client cut short too, once it has a status.
    res.once('close', () => {
      if (!res.writableFinished && res.headersSent) write(true);
    });
    try {
      await next();
    } catch (error) {
      // A request refused while its head was read: lighttpd knows no host for it yet.
      refused = error instanceof BadRequestHead || error instanceof BadRequestTarget;
      throw error;
    }
  };
  return Object.assign(middleware, { close: async () => opened?.close() });
}

interface Started {
  /** Wall-clock ns at the start. */
  ns: bigint;
  /** Requests on this connection before this one. */
  index: number;
}

interface ConnectionCounts {
  requests: number;
  /** The request whose end the counts below are at, and the counts at the previous end. */
  last?: IncomingMessage;
  writtenBefore: number;
  readBefore: number;
  writtenAtEnd: number;
  readAtEnd: number;
}

// Kept per connection and per request, not per middleware: a second access log on the same
// request (a Koa app with two) must count the same bytes.
const connections = new WeakMap<object, ConnectionCounts>();
const requests = new WeakMap<IncomingMessage, Started>();

function startRequest(req: IncomingMessage): Started {
  const known = requests.get(req);
  if (known) return known;
  socketOf(req);
  let counts = connections.get(connectionOf(req));
  if (!counts) {
    counts = { requests: 0, writtenBefore: 0, readBefore: 0, writtenAtEnd: 0, readAtEnd: 0 };
    connections.set(connectionOf(req), counts);
  }
  const started = { ns: realtimeNs(), index: counts.requests++ };
  requests.set(req, started);
  return started;
}

/** The bytes the connection carried for this request: since the end of the previous one. */
function countsAtEnd(req: IncomingMessage): { written: number; read: number } {
  const counts = connections.get(connectionOf(req))!;
  const socket = socketOf(req);
  if (counts.last !== req) {
    counts.writtenBefore = counts.writtenAtEnd;
    counts.readBefore = counts.readAtEnd;
    counts.writtenAtEnd = socket.bytesWritten ?? counts.writtenAtEnd;
    counts.readAtEnd = socket.bytesRead ?? counts.readAtEnd;
    counts.last = req;
  }
  return { written: counts.writtenAtEnd - counts.writtenBefore, read: counts.readAtEnd - counts.readBefore };
}

// process.hrtime is monotonic; anchored once to the wall clock it gives lighttpd's
// nanosecond timestamps (%{nsec}t, %{usec_frac}t) without a system call per request.
const CLOCK_ANCHOR = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
const realtimeNs = () => process.hrtime.bigint() + CLOCK_ANCHOR;

function requestFacts(
  ctx: Context,
  started: Started,
  how: { aborted: boolean; refused: boolean; serverName?: string },
): RequestFacts {
  const req = ctx.req;
  const res = ctx.res;
  const socket = socketOf(req) as Socket;
  const endNs = realtimeNs();
  const counted = countsAtEnd(req);
  // HTTP/2: the body bytes the answer wrote (its HPACK-coded head is not counted, and the
  // session's socket counts carry every stream's frames); HTTP/1: what the socket carried.
  const h2Body = bodyBytesOf(res);
  const written = h2Body ?? counted.written;
  const read = counted.read;
  const head = h2Body === undefined ? (res as unknown as { _header?: string | null })._header : undefined;
  const state = how.refused ? undefined : heldState(ctx);
  const host = how.refused ? '' : (req.headers.host ?? '');
  const bound = (socket as Socket & { server?: { address(): unknown } }).server?.address();
  const target = originForm(ctx.originalUrl ?? req.url ?? '');
  return {
    remoteAddr: unmapped(socket.remoteAddress ?? ''),
    remotePort: socket.remotePort ?? 0,
    localAddr: boundAddress(bound, socket),
    localPort: boundPort(bound, socket),
    method: req.method ?? '',
    protocol: `HTTP/${req.httpVersion}`,
    targetOrig: target,
    url: state ? pathOf(state.encodedTarget) : pathOf(target),
    query: state?.query ?? '',
    host,
    serverName: how.refused ? '' : (how.serverName ?? host),
    status: res.statusCode,
    requestHeader: (name) => requestHeader(req, name),
    responseHeader: (name) => responseHeader(ctx, name),
    // %{NAME}e: the request environment mod_setenv set (setenv.*-environment), and mod_auth's
    // REMOTE_USER (%u) and AUTH_TYPE.
    env: (name) => {
      const wanted = name.toLowerCase();
      const pairs = state?.environment ?? [];
      for (let i = pairs.length - 1; i >= 0; i--)
        if (pairs[i]![0].toLowerCase() === wanted) return pairs[i]![1];
      if (wanted === 'remote_user') return state?.remoteUser;
      if (wanted === 'auth_type') return state?.authType;
      return undefined;
    },
    bytesOut: written,
    headerBytes: typeof head === 'string' ? Buffer.byteLength(head, 'latin1') : 0,
    // A body nobody read (a POST to a static file) was not taken in, as lighttpd counts.
    bytesIn: Math.max(read - req.readableLength, 0),
    keepAliveCount: started.index,
    connection: how.aborted ? 'X' : (res as unknown as { _last?: boolean })._last ? '-' : '+',
    physicalPath: state?.physical?.path,
    startNs: started.ns,
    endNs,
  };
}

/** The request's state (made now if no stage needed it); none for a target that cannot be normalised. */
function heldState(ctx: Context) {
  try {
    return requestState(ctx);
  } catch {
    return undefined;
  }
}

/** lighttpd logs an absolute-form target (`http://host/path`) as its path, as it parsed it. */
function originForm(target: string): string {
  const m = /^https?:\/\/[^/]+/i.exec(target);
  return m && target.length > m[0].length ? target.slice(m[0].length) : m ? '' : target;
}

function pathOf(target: string): string {
  const q = target.indexOf('?');
  return q >= 0 ? target.slice(0, q) : target;
}

function unmapped(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/** The server socket's own address, as it was bound (0.0.0.0 stays 0.0.0.0), as lighttpd's %A. */
function boundAddress(bound: unknown, socket: Socket): string {
  if (typeof bound === 'string') return bound;
  const info = bound as { address?: string; family?: string } | null | undefined;
  const address = info?.address ?? socket.localAddress ?? '';
  return address.includes(':') ? `[${address}]` : address;
}

function boundPort(bound: unknown, socket: Socket): string {
  if (typeof bound === 'string') return '';
  const port = (bound as { port?: number } | null | undefined)?.port ?? socket.localPort;
  return port === undefined ? '' : String(port);
}

/** Repeated request headers are one value, joined as lighttpd joins them (Cookie with `; `). */
function requestHeader(req: IncomingMessage, name: string): string | undefined {
  const lower = name.toLowerCase();
  const raw = req.rawHeaders;
  let value: string | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() !== lower || raw[i + 1] === '') continue;
    value = value === undefined ? raw[i + 1]! : `${value}${lower === 'cookie' ? '; ' : ', '}${raw[i + 1]}`;
  }
  return value;
}

/** Set-Cookie lines stay separate lines in lighttpd's one stored value. */
function responseHeader(ctx: Context, name: string): string | undefined {
  const value = ctx.res.getHeader(name);
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) return String(value);
  return value.join(name.toLowerCase() === 'set-cookie' ? `\r\n${name}: ` : ', ');
}
