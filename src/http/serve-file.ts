import { Readable } from 'node:stream';
import type { Context } from 'koa';
import { respondWithError } from './error-page.js';
import { type FileInfo, smallFileContent } from './file-info.js';
import { FileStream } from './file-stream.js';
import { markWholeFile } from './whole-file.js';

/**
 * Sends one regular file the way lighttpd's mod_staticfile does (spec 1.4): validators,
 * 304/412, Range with merging and multipart/byteranges, HEAD. Static files, secdownload and
 * X-Sendfile all answer through here, so they cannot drift apart.
 *
 * The Range rules are lighttpd's for any complete body, not only files, so they are exported
 * by size: X-Sendfile2's concatenation and buffered PHP output are cut by the same code
 * (acceptRanges, requestedRanges, sendRanges).
 */
export interface ServeFileOptions {
  /** Content-Type to send; undefined sends none. */
  contentType: string | undefined;
  /** Send ETag/Last-Modified and honour conditional requests (off for the octet-stream fallback). */
  validators: boolean;
  /** Status to answer with: 200 normally; a backend's own status for X-Sendfile (no validators, no ranges then). */
  status?: number;
}

const BOUNDARY = 'fkj49sn38dcn3';

const NO_RANGES = Symbol.for('koa-lighty.range-requests-disabled');

/**
 * server.range-requests = "disable" for this request: no answer is cut by its Range and none
 * says `Accept-Ranges`, as lighttpd skips its whole Range step then. Kept on ctx.state, so an
 * error handler's pass (which drops the request's koa-lighty.* state) decides anew.
 */
export function disableRangeRequests(ctx: Context): void {
  (ctx.state as Record<symbol, boolean>)[NO_RANGES] = true;
}

function rangeRequestsDisabled(ctx: Context): boolean {
  return (ctx.state as Record<symbol, boolean | undefined>)[NO_RANGES] === true;
}
const MAX_RANGES = 10;

/** lighttpd has no Range before HTTP/1.1, and honours it from there on: HTTP/2 too (http_range.c). */
function rangesByVersion(ctx: Context): boolean {
  const { httpVersionMajor: major, httpVersionMinor: minor } = ctx.req;
  return major > 1 || (major === 1 && minor >= 1);
}
/** Ranges at most this many bytes apart are merged into one (lighttpd's rule). */
const MERGE_GAP = 80;

export async function serveFile(ctx: Context, file: FileInfo, options: ServeFileOptions): Promise<void> {
  const status = options.status ?? 200;
  const complete = status === 200;
  const validators = options.validators && complete;
  if (options.contentType) ctx.set('Content-Type', options.contentType);
  if (validators) {
    if (!ctx.response.get('ETag')) ctx.set('ETag', file.etag);
    if (!ctx.response.get('Last-Modified')) ctx.set('Last-Modified', file.lastModified);
    const verdict = conditionalVerdict(
      ctx,
      ctx.response.get('ETag'),
      ctx.response.get('Last-Modified'),
      file,
    );
    if (verdict === 304) return notModified(ctx, options.contentType);
    if (verdict === 412) return respondWithError(ctx, 412);
  }
  // lighttpd advertises ranges where it would honour them: complete answers to GET and HEAD
  // over HTTP/1.1 and HTTP/2 (an HTTP/1.0 client gets none, seen on 1.4.69).
  const advertise =
    complete &&
    (ctx.method === 'GET' || ctx.method === 'HEAD') &&
    rangesByVersion(ctx) &&
    !rangeRequestsDisabled(ctx);
  if (advertise) ctx.set('Accept-Ranges', 'bytes');

  const ranges = complete ? requestedRanges(ctx, file.size) : undefined;
  // lighttpd 1.4.69 sends its 416 page without a Content-Range (seen).
  if (ranges === 'unsatisfiable') return respondWithError(ctx, 416);
  if (!ranges) {
    ctx.status = status;
    return sendWholeFile(ctx, file);
  }
  const small = await smallFileContent(file);
  // A single range is piped to the response (pooled buffers); multipart iterates the parts.
  const source: ByteSource = small
    ? (start, end) => small.subarray(start, end + 1)
    : (start, end) => new FileStream(file.path, start, end, ctx.res);
  return sendRanges(ctx, file.size, ranges, options.contentType, source);
}

async function sendWholeFile(ctx: Context, file: FileInfo): Promise<void> {
  if (ctx.method === 'HEAD' || file.size === 0) {
    ctx.body = Buffer.alloc(0);
    ctx.length = file.size;
    return;
  }
  // Cached bytes without a promise: the common case of a small file asked for again.
  const small = file.content ?? (await smallFileContent(file));
  if (small) {
    ctx.body = small;
  } else {
    ctx.length = file.size;
    // The length sent is the length stat saw, even if the file grows meanwhile; a file that
    // shrinks cuts the connection (FileStream).
    ctx.body = new FileStream(file.path, 0, file.size - 1, ctx.res);
  }
  markWholeFile(ctx, file);
}

/** 304 keeps Content-Type, ETag and Last-Modified (lighttpd does; Koa would drop the type). */
export function notModified(ctx: Context, contentType: string | undefined): void {
  ctx.status = 304;
  ctx.body = null;
  if (!contentType) return;
  const res = ctx.res;
  const writeHead = res.writeHead;
  res.writeHead = function (this: typeof res, ...args: Parameters<typeof res.writeHead>) {
    if (res.statusCode === 304) res.setHeader('Content-Type', contentType);
    return writeHead.apply(this, args);
  } as typeof res.writeHead;
}

/** If-None-Match, then If-Modified-Since (GET/HEAD only): 304, 412, or undefined to go on. */
export function conditionalVerdict(
  ctx: Context,
  etag: string | undefined,
  lastModified: string | undefined,
  file: Pick<FileInfo, 'mtimeMs'>,
): 304 | 412 | undefined {
  const getOrHead = ctx.method === 'GET' || ctx.method === 'HEAD';
  const ifNoneMatch = ctx.get('If-None-Match');
  if (ifNoneMatch && etag) {
    const weakAllowed = !ctx.get('Range');
    if (etagListMatches(ifNoneMatch, etag, weakAllowed)) return getOrHead ? 304 : 412;
    return undefined;
  }
  const ifModifiedSince = ctx.get('If-Modified-Since');
  if (getOrHead && ifModifiedSince && lastModified) {
    if (ifModifiedSince === lastModified) return 304;
    const since = Date.parse(ifModifiedSince);
    if (!Number.isNaN(since) && since >= Math.floor(file.mtimeMs / 1000) * 1000) return 304;
  }
  return undefined;
}

function etagListMatches(list: string, etag: string, weakAllowed: boolean): boolean {
  const strong = etag.startsWith('W/') ? etag.slice(2) : etag;
  for (const raw of list.split(',')) {
    const candidate = raw.trim();
    if (candidate === '*') return true;
    if (candidate === etag) return true;
    if (weakAllowed && candidate.startsWith('W/') && candidate.slice(2) === strong) return true;
    if (weakAllowed && etag.startsWith('W/') && candidate === strong) return true;
  }
  return false;
}

/**
 * lighttpd's gate in front of Range for a complete answer it did not build itself
 * (http_range_rfc7233, seen on PHP output and X-Sendfile2): a 200 to GET or HEAD over
 * HTTP/1.1 whose body is not content- or transfer-encoded (ranges count bytes of the
 * unencoded body). Such an answer gets `Accept-Ranges: bytes` unless the backend set its own;
 * a backend's `Accept-Ranges: none` keeps the body whole, and so does server.range-requests =
 * "disable" (then without the header). Call it once ctx.status is final.
 */
export function acceptRanges(ctx: Context): boolean {
  if (rangeRequestsDisabled(ctx)) return false;
  if (ctx.status !== 200 || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return false;
  if (!rangesByVersion(ctx)) return false;
  if (ctx.response.get('Content-Encoding') || ctx.response.get('Transfer-Encoding')) return false;
  const declared = ctx.response.get('Accept-Ranges');
  if (!declared) ctx.set('Accept-Ranges', 'bytes');
  return declared !== 'none';
}

/**
 * The ranges of a `size`-byte body the client asked for, 'unsatisfiable' (answer 416), or
 * undefined for the whole body (spec 1.4): only for GET over HTTP/1.1 with a `bytes=` Range,
 * where server.range-requests is not disabled.
 * If-Range is compared with the ETag or Last-Modified already on the response (ours for a
 * file, the backend's for PHP output) and must match exactly; without that validator the
 * whole body is sent.
 */
export function requestedRanges(
  ctx: Context,
  size: number,
): Array<[number, number]> | 'unsatisfiable' | undefined {
  const header = ctx.get('Range');
  if (!header || ctx.method !== 'GET' || !rangesByVersion(ctx)) return undefined;
  if (rangeRequestsDisabled(ctx)) return undefined;
  // An empty body has no bytes to pick from: lighttpd sends it whole.
  if (size === 0 || !/^bytes=/i.test(header)) return undefined;
  const ifRange = ctx.get('If-Range');
  if (ifRange) {
    const validator = ifRange.startsWith('"') ? ctx.response.get('ETag') : ctx.response.get('Last-Modified');
    if (ifRange !== validator) return undefined;
  }
  const ranges = parseByteRanges(header.slice(6), size);
  return ranges.length === 0 ? 'unsatisfiable' : ranges;
}

/** Bytes start..end (inclusive) of the body being cut into ranges. */
export type ByteSource = (start: number, end: number) => Readable | Buffer;

/**
 * Answers 206 with `ranges` of a `size`-byte body (from requestedRanges, so never for HEAD):
 * one range with Content-Range, several as multipart/byteranges, each part carrying
 * `contentType` (the body's own type) if there is one. The layout is lighttpd's byte for byte
 * (seen): the body starts with `--boundary` (no CRLF before the first part), every later part
 * and the closing boundary start with the CRLF that ends the data before them.
 */
export function sendRanges(
  ctx: Context,
  size: number,
  ranges: ReadonlyArray<readonly [number, number]>,
  contentType: string | undefined,
  source: ByteSource,
): void {
  ctx.status = 206;
  if (ranges.length === 1) {
    const [start, end] = ranges[0]!;
    ctx.set('Content-Range', `bytes ${start}-${end}/${size}`);
    ctx.length = end - start + 1;
    ctx.body = source(start, end);
    return;
  }
  const heads = ranges.map(
    ([start, end], i) =>
      `${i === 0 ? '' : '\r\n'}--${BOUNDARY}\r\n${contentType ? `Content-Type: ${contentType}\r\n` : ''}Content-Range: bytes ${start}-${end}/${size}\r\n\r\n`,
  );
  const tail = `\r\n--${BOUNDARY}--\r\n`;
  let length = Buffer.byteLength(tail);
  ranges.forEach(([start, end], i) => {
    length += Buffer.byteLength(heads[i]!) + end - start + 1;
  });
  async function* parts() {
    for (const [i, [start, end]] of ranges.entries()) {
      yield Buffer.from(heads[i]!);
      const bytes = source(start, end);
      if (Buffer.isBuffer(bytes)) yield bytes;
      else yield* bytes;
    }
    yield Buffer.from(tail);
  }
  ctx.set('Content-Type', `multipart/byteranges; boundary=${BOUNDARY}`);
  ctx.length = length;
  ctx.body = Readable.from(parts(), { objectMode: false });
}

/**
 * lighttpd 1.4.69's http_range_parse: at most MAX_RANGES valid specs are read (invalid ones
 * are skipped and do not count), numbers are read like strtoll (leading blanks, a sign), then
 * ranges that overlap or lie at most MERGE_GAP bytes apart are folded into the earlier one.
 * Parts keep the order the client asked for.
 */
export function parseByteRanges(specs: string, size: number): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  for (const spec of specs.split(',')) {
    const range = parseRangeSpec(spec, size);
    if (range) ranges.push(range);
    if (ranges.length === MAX_RANGES) break;
  }
  return coalesce(ranges);
}

/** http_range_parse_next: one `a-b`, `a-` or `-n` against a file of `size` bytes. */
function parseRangeSpec(spec: string, size: number): [number, number] | undefined {
  const first = strtoll(spec, 0);
  let at = first.end;
  let range: [number, number] | undefined;
  if (first.value >= 0) {
    if (first.value < size && first.end !== 0) {
      at = skipBlanks(spec, at);
      if (spec[at] === '-') {
        const second = strtoll(spec, at + 1);
        const last = spec[second.end - 1];
        if (second.end === at + 1 || (second.value === 0 && last !== '0')) range = [first.value, size - 1];
        else if (first.value <= second.value && second.value !== LLONG_MAX)
          range = [first.value, Math.min(second.value, size - 1)];
        at = second.end;
      }
    }
  } else if (first.value !== LLONG_MIN) {
    range = [Math.max(size + first.value, 0), size - 1];
  }
  // Anything but blanks after the spec makes it invalid.
  return skipBlanks(spec, at) === spec.length ? range : undefined;
}

/** strtoll's saturation values, which lighttpd treats as invalid. */
const LLONG_MAX = Number.POSITIVE_INFINITY;
const LLONG_MIN = Number.NEGATIVE_INFINITY;
const INT64_LIMIT = 2n ** 63n;

/** strtoll(s + from, &end, 10): leading blanks, a sign, digits; saturates like the C function. */
function strtoll(s: string, from: number): { value: number; end: number } {
  const m = /^[ \t\n\v\f\r]*([+-]?)(\d+)/.exec(s.slice(from));
  if (!m) return { value: 0, end: from };
  const negative = m[1] === '-';
  const digits = BigInt(m[2]!);
  const end = from + m[0].length;
  if (!negative && digits >= INT64_LIMIT - 1n) return { value: LLONG_MAX, end };
  if (negative && digits >= INT64_LIMIT) return { value: LLONG_MIN, end };
  return { value: negative ? -Number(digits) : Number(digits), end };
}

function skipBlanks(s: string, at: number): number {
  while (s[at] === ' ' || s[at] === '\t') at++;
  return at;
}

/** http_range_coalesce: fold each range into an earlier one it overlaps or nearly touches. */
function coalesce(ranges: Array<[number, number]>): Array<[number, number]> {
  for (let i = 0; i < ranges.length - 1; i++) {
    for (let j = i + 1; j < ranges.length; j++) {
      const [b, e] = ranges[i]!;
      const [bj, ej] = ranges[j]!;
      if (b <= bj ? e < bj - MERGE_GAP : ej < b - MERGE_GAP) continue;
      ranges[i] = [Math.min(b, bj), Math.max(e, ej)];
      ranges.splice(j, 1);
      i = -1; // start over: the grown range may now reach others
      break;
    }
  }
  return ranges;
}
