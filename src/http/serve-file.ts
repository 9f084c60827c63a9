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
/** Ranges closer than this are merged into one (lighttpd's rule). */
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
  if (complete) ctx.set('Accept-Ranges', 'bytes');

  const ranges = complete ? requestedRanges(ctx, file) : undefined;
  if (ranges === 'unsatisfiable') {
    respondWithError(ctx, 416);
    ctx.set('Content-Range', `bytes */${file.size}`);
    return;
  }
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
  const heads = ranges.map(
    ([start, end]) =>
      `\r\n--${BOUNDARY}\r\n${type ? `Content-Type: ${type}\r\n` : ''}Content-Range: bytes ${start}-${end}/${file.size}\r\n\r\n`,
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

/** The merged ranges to send, 'unsatisfiable', or undefined for the whole file (spec 1.4). */
function requestedRanges(
  ctx: Context,
  file: FileInfo,
): Array<[number, number]> | 'unsatisfiable' | undefined {
  const header = ctx.get('Range');
  if (!header || ctx.method !== 'GET' || ctx.req.httpVersion !== '1.1') return undefined;
  if (!/^bytes=/i.test(header)) return undefined;
  const ifRange = ctx.get('If-Range');
  if (ifRange) {
    const validator = ifRange.startsWith('"') ? ctx.response.get('ETag') : ctx.response.get('Last-Modified');
    if (ifRange !== validator) return undefined;
  }
  const size = file.size;
  const ranges: Array<[number, number]> = [];
  for (const spec of header.slice(6).split(',').slice(0, MAX_RANGES)) {
    const m = /^\s*(\d*)-(\d*)\s*$/.exec(spec);
    if (!m || (m[1] === '' && m[2] === '')) continue;
    let start: number;
    let end: number;
    if (m[1] === '') {
      const suffix = Number(m[2]);
      if (suffix === 0) continue;
      start = Math.max(size - suffix, 0);
      end = size - 1;
    } else {
      start = Number(m[1]);
      end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
      if (Number(m[2] || start) < start) continue;
    }
    if (start >= size) continue;
    ranges.push([start, end]);
  }
  if (ranges.length === 0) return 'unsatisfiable';
  ranges.sort((a, b) => a[0] - b[0]);
  const merged: Array<[number, number]> = [ranges[0]!];
  for (const [start, end] of ranges.slice(1)) {
    const last = merged[merged.length - 1]!;
    if (start <= last[1] + 1 + MERGE_GAP) last[1] = Math.max(last[1], end);
    else merged.push([start, end]);
  }
  return merged;
}
