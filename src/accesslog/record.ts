/**
 * One access log line from a parsed format and what is known of a finished request, as
 * lighttpd's log_access_record() writes it (mod_accesslog.c 1.4.69): which fields are escaped,
 * which print `-` when empty and which print nothing, how times are rounded.
 */
import { toByteString } from '../config/facts.js';
import type { Escape } from './escape.js';
import type { FormatField } from './format.js';
import { strftime } from './strftime.js';

/** What a line can tell of one request. Strings are byte strings (one char per byte). */
export interface RequestFacts {
  /** The client address (`::ffff:` removed). */
  readonly remoteAddr: string;
  readonly remotePort: number;
  /** The address the server socket is bound to (`0.0.0.0`, `[::1]`, a unix socket path). */
  readonly localAddr: string;
  /** Its port, '' for a unix socket. */
  readonly localPort: string;
  readonly method: string;
  /** `HTTP/1.1` */
  readonly protocol: string;
  /** The request-target as received, an absolute-form target cut to its path (lighttpd's target_orig). */
  readonly targetOrig: string;
  /** The path after lighttpd's url-normalize, still encoded, without the query. */
  readonly url: string;
  /** The query after url-normalize, without `?`. */
  readonly query: string;
  /** The request's host (uri.authority), '' when none. */
  readonly host: string;
  /** server.name, else the host. */
  readonly serverName: string;
  readonly status: number;
  requestHeader(name: string): string | undefined;
  responseHeader(name: string): string | undefined;
  env(name: string): string | undefined;
  /** Bytes written for this response, headers included; the header block's length. */
  readonly bytesOut: number;
  readonly headerBytes: number;
  /** Bytes read for this request: head and body. */
  readonly bytesIn: number;
  /** Requests served on this connection before this one. */
  readonly keepAliveCount: number;
  /** `+` the connection stays open, `-` it is closed, `X` it was aborted. */
  readonly connection: '+' | '-' | 'X';
  /** The file (or script) that answered, if the request got that far. */
  readonly physicalPath: string | undefined;
  /** Wall-clock nanoseconds since the epoch: when the request began and when it ended. */
  readonly startNs: bigint;
  readonly endNs: bigint;
}

export type RenderRecord = (facts: RequestFacts) => string;

const NS_PER_S = 1_000_000_000n;
const DEFAULT_TIME = '[%d/%b/%Y:%T %z]';

/** Turns the parsed format into a function from a request's facts to its line (without `\n`). */
export function compileRecord(fields: readonly FormatField[], esc: Escape): RenderRecord {
  const parts = fields.map((f) => part(f, esc));
  return (facts) => {
    let line = '';
    for (const render of parts) line += render(facts);
    return line;
  };
}

type Part = (facts: RequestFacts) => string;

const orDash = (value: string | undefined, esc: Escape) => (value ? esc(value) : '-');

function part(f: FormatField, esc: Escape): Part {
  switch (f.kind) {
    case 'literal': {
      const text = toByteString(f.text);
      return () => text;
    }
    case 'empty':
      return () => '';
    case 'request-header':
      return (r) => orDash(r.requestHeader(f.name), esc);
    case 'response-header':
      return (r) => orDash(r.responseHeader(f.name), esc);
    case 'env':
      return (r) => orDash(r.env(f.name), esc);
    case 'cookie':
      return (r) => {
        const value = cookieValue(r.requestHeader('cookie'), f.name);
        return value === undefined ? '' : esc(value);
      };
    case 'timestamp': {
      const format = toByteString(f.strftime ?? DEFAULT_TIME);
      // Formatted once per second, as lighttpd caches it.
      let second = Number.NaN;
      let text = '';
      return (r) => {
        const now = seconds(f.begin ? r.startNs : r.endNs);
        if (now !== second) {
          second = now;
          text = strftime(format, now);
          // glibc's strftime gives up on more than 4095 bytes, and lighttpd then prints nothing.
          if (text.length > 4095) text = '';
        }
        return text;
      };
    }
    case 'epoch':
      return (r) => epoch(f.begin ? r.startNs : r.endNs, f.unit);
    case 'fraction':
      return (r) => fraction(f.begin ? r.startNs : r.endNs, f.digits);
    case 'duration':
      return (r) => duration(r.startNs, r.endNs, f.unit);
    case 'port':
      return f.remote ? (r) => String(r.remotePort) : (r) => r.localPort;
    case 'remote-addr':
      return (r) => r.remoteAddr;
    case 'local-addr':
      return (r) => r.localAddr;
    case 'body-bytes':
      return (r) => bytes(r.bytesOut, r.headerBytes);
    case 'bytes-out':
      return (r) => bytes(r.bytesOut, 0);
    case 'bytes-in':
      return (r) => bytes(r.bytesIn, 0);
    case 'filename':
      return (r) => orDash(r.physicalPath === undefined ? undefined : toByteString(r.physicalPath), esc);
    case 'protocol':
      return (r) => r.protocol;
    case 'keepalive-count':
      return (r) => String(r.keepAliveCount);
    case 'method':
      return (r) => r.method;
    case 'query':
      return (r) => esc(r.query);
    case 'request-line':
      return (r) => `${r.method} ${esc(r.targetOrig)} ${r.protocol}`;
    case 'status':
      return (r) => String(r.status);
    case 'url':
      return (r) => esc(r.url);
    case 'server-name':
      return (r) => orDash(r.serverName, esc);
    case 'host':
      return (r) => orDash(r.host, esc);
    case 'connection-status':
      return (r) => r.connection;
  }
}

/** `-` when nothing was sent at all; a response of headers only (HEAD, 304) has a body of 0. */
function bytes(total: number, header: number): string {
  return total > 0 ? String(Math.max(total - header, 0)) : '-';
}

const seconds = (ns: bigint) => Number(ns / NS_PER_S);

/** lighttpd rounds sub-second parts up. */
const ceilDiv = (n: bigint, d: bigint) => (n + d - 1n) / d;

function epoch(ns: bigint, unit: 's' | 'ms' | 'us' | 'ns'): string {
  const s = ns / NS_PER_S;
  const rest = ns % NS_PER_S;
  switch (unit) {
    case 's':
      return String(s);
    case 'ms':
      return String(s * 1000n + ceilDiv(rest, 1_000_000n));
    case 'us':
      return String(s * 1_000_000n + ceilDiv(rest, 1000n));
    case 'ns':
      return String(ns);
  }
}

function fraction(ns: bigint, digits: 3 | 6 | 9): string {
  const rest = ns % NS_PER_S;
  const value = digits === 3 ? ceilDiv(rest, 1_000_000n) : digits === 6 ? ceilDiv(rest, 1000n) : rest;
  return String(value).padStart(digits, '0').slice(-digits);
}

/** Whole seconds are the difference of the two clock seconds; finer units round the span up. */
function duration(start: bigint, end: bigint, unit: 's' | 'ms' | 'us' | 'ns'): string {
  if (unit === 's') return String(end / NS_PER_S - start / NS_PER_S);
  const span = end - start;
  // lighttpd's guard against a clock that went backwards.
  if (span <= 0n) return '-1';
  if (unit === 'ms') return String(ceilDiv(span, 1_000_000n));
  if (unit === 'us') return String(ceilDiv(span, 1000n));
  return String(span);
}

/**
 * A cookie's value as lighttpd finds it in the Cookie header: names are matched at the start
 * of a pair, the value runs to `;`, trailing blanks removed; nothing when absent or empty.
 */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  const s = header;
  const blank = (c: string | undefined) => c === ' ' || c === '\t';
  let i = 0;
  for (;;) {
    while (blank(s[i])) i++;
    if (s.startsWith(name, i) && s[i + name.length] === '=') {
      const v = i + name.length + 1;
      let end = s.indexOf(';', v);
      if (end < 0) end = s.length;
      if (end === v) return undefined;
      let last = end - 1;
      while (last > v && blank(s[last])) last--;
      return s.slice(v, last + 1);
    }
    while (i < s.length && s[i] !== ';' && !blank(s[i])) i++;
    while (blank(s[i])) i++;
    if (s[i] !== ';') return undefined;
    i++;
  }
}
