import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import type { Context } from 'koa';
import { respondWithError } from './error-page.js';
import { type FileInfo, smallFileContent } from './file-info.js';

/**
 * Sends one regular file the way lighttpd's mod_staticfile does (spec 1.4): validators,
 * 304/412, Range with merging and multipart/byteranges, HEAD. Static files, secdownload and
 * X-Sendfile all answer through here, so they cannot drift apart.
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
const MAX_RANGES = 10;
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
  // lighttpd advertises ranges where it would honour them: complete answers to GET and HEAD.
  if (complete && (ctx.method === 'GET' || ctx.method === 'HEAD')) ctx.set('Accept-Ranges', 'bytes');

  const ranges = complete ? requestedRanges(ctx, file) : undefined;
  // lighttpd 1.4.69 sends its 416 page without a Content-Range (seen).
  if (ranges === 'unsatisfiable') return respondWithError(ctx, 416);
  ctx.status = ranges ? 206 : status;
  if (!ranges) return sendBytes(ctx, file, 0, file.size - 1);
  if (ranges.length === 1) {
    const [start, end] = ranges[0]!;
    ctx.set('Content-Range', `bytes ${start}-${end}/${file.size}`);
    return sendBytes(ctx, file, start, end);
  }
  return sendMultipart(ctx, file, ranges, options.contentType);
}

async function sendBytes(ctx: Context, file: FileInfo, start: number, end: number): Promise<void> {
  const length = end - start + 1;
  if (ctx.method === 'HEAD' || length <= 0) {
    ctx.body = Buffer.alloc(0);
    ctx.length = Math.max(length, 0);
    return;
  }
  const small = await smallFileContent(file);
  if (small) {
    ctx.body = start === 0 && end === small.length - 1 ? small : small.subarray(start, end + 1);
    return;
  }
  ctx.length = length;
  ctx.body = createReadStream(file.path, { start, end, highWaterMark: 64 * 1024 });
}

function sendMultipart(ctx: Context, file: FileInfo, ranges: Array<[number, number]>, type?: string): void {
  // Every part but the first starts with CRLF (it ends the previous part's data).
  const heads = ranges.map(
    ([start, end], i) =>
      `${i === 0 ? '' : '\r\n'}--${BOUNDARY}\r\n${type ? `Content-Type: ${type}\r\n` : ''}Content-Range: bytes ${start}-${end}/${file.size}\r\n\r\n`,
  );
  const tail = `\r\n--${BOUNDARY}--\r\n`;
  let length = Buffer.byteLength(tail);
  ranges.forEach(([start, end], i) => {
    length += Buffer.byteLength(heads[i]!) + end - start + 1;
  });
  ctx.set('Content-Type', `multipart/byteranges; boundary=${BOUNDARY}`);
  if (ctx.method === 'HEAD') {
    ctx.body = Buffer.alloc(0);
    ctx.length = length;
    return;
  }
  async function* parts() {
    for (const [i, [start, end]] of ranges.entries()) {
      yield Buffer.from(heads[i]!);
      yield* createReadStream(file.path, { start, end });
    }
    yield Buffer.from(tail);
  }
  ctx.length = length;
  ctx.body = Readable.from(parts(), { objectMode: false });
}

/** 304 keeps Content-Type, ETag and Last-Modified (lighttpd does; Koa would drop the type). */
function notModified(ctx: Context, contentType: string | undefined): void {
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

/** The ranges to send, 'unsatisfiable', or undefined for the whole file (spec 1.4). */
function requestedRanges(
  ctx: Context,
  file: FileInfo,
): Array<[number, number]> | 'unsatisfiable' | undefined {
  const header = ctx.get('Range');
  if (!header || ctx.method !== 'GET' || ctx.req.httpVersion !== '1.1') return undefined;
  // An empty file has no bytes to pick from: lighttpd sends it whole.
  if (file.size === 0 || !/^bytes=/i.test(header)) return undefined;
  const ifRange = ctx.get('If-Range');
  if (ifRange) {
    const validator = ifRange.startsWith('"') ? ctx.response.get('ETag') : ctx.response.get('Last-Modified');
    if (ifRange !== validator) return undefined;
  }
  const ranges = parseByteRanges(header.slice(6), file.size);
  return ranges.length === 0 ? 'unsatisfiable' : ranges;
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
