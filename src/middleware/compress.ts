import { mkdirSync, statSync } from 'node:fs';
import { loadavg } from 'node:os';
import { pipeline, Readable } from 'node:stream';
import type { Context, Middleware } from 'koa';
import { CompressCache } from '../http/compress-cache.js';
import {
  type CompressionJob,
  type CompressionParams,
  type CompressorSettings,
  compressBuffer,
  createCompressor,
  PARAM_RANGES,
} from '../http/compressor.js';
import {
  type AllowedEntry,
  availableEncodings,
  CODER_OF,
  type CodingLabel,
  chooseCoding,
  parseAllowedEncodings,
} from '../http/content-coding.js';
import { type FileInfo, smallFileContent } from '../http/file-info.js';
import { FileStream } from '../http/file-stream.js';
import { requestState } from '../http/request-state.js';
import { notModified } from '../http/serve-file.js';
import { wholeFileOf } from '../http/whole-file.js';
import { defaultLogger, type Logger } from '../log.js';
import { OptionError } from '../option-error.js';
import { afterErrorPage } from './errors.js';

/**
 * mod_deflate (lighttpd 1.4.69): compresses an answer once it is decided (Koa's way of being
 * lighttpd's response_start hook) when all of these hold, as lighttpd does (read in
 * mod_deflate.c, seen on Debian's lighttpd):
 *  - not HEAD (a HEAD answer keeps its headers as they are), not 1xx/204/205/304, no
 *    Content-Encoding or Transfer-Encoding of its own;
 *  - its Content-Type starts with one of `mimetypes` (no type: only when the first is `""`);
 *  - its length is above `minCompressSize` and, when known, at most `maxCompressSize` KiB;
 *  - Accept-Encoding names a coding of `allowedEncodings`, and the load average is not above
 *    `maxLoadavg`.
 * It then gets `Vary: Accept-Encoding` (appended to a Vary of its own), `Content-Encoding`, and
 * an ETag with the coding appended (`"123-gzip"`); a client that sends that ETag back in
 * If-None-Match gets a 304 (412 for other methods), as lighttpd answers it. Unlike lighttpd
 * 1.4.69, a request with a Range header and a 206 are never compressed (lighttpd compresses
 * the whole answer and ignores the Range, or compresses a backend's 206), and q-values count.
 *
 * Bodies in memory are compressed at once and sent with their length; streams (a file past
 * 64 KiB, PHP's output) are compressed as they are sent, with backpressure from the client
 * back to the file or php-cgi, so a 1 GiB answer never sits in memory. Files served whole by
 * staticFiles (and send-file) are kept compressed in `cacheDir` when it is set.
 *
 * Error pages: mount lighttpdErrors() in front (as koa-lighty does), and its pages for the
 * errors below this middleware are compressed too, as lighttpd compresses its own.
 */
export interface CompressOptions {
  /**
   * Content-Type prefixes to compress (deflate.mimetypes); a trailing `*` is ignored;
   * `application/javascript` means `text/javascript` (what lighttpd sends for it). `[]`
   * compresses nothing; `['']` everything. Default: DEFAULT_COMPRESS_MIMETYPES.
   */
  mimetypes?: readonly string[];
  /**
   * deflate.allowed-encodings, in the server's order of preference: `zstd` (Node ≥ 22.15 or
   * 23.8), `br`, `gzip` (also answers `x-gzip`), `deflate`. Default: every one this Node has,
   * in that order.
   */
  allowedEncodings?: readonly string[];
  /** deflate.min-compress-size: bytes; answers of this length or shorter are sent as they are. Default 256. */
  minCompressSize?: number;
  /** deflate.max-compress-size: KiB; longer answers are sent as they are; 0 is no limit. Default 131072 (128 MiB). */
  maxCompressSize?: number;
  /** deflate.compression-level: 1-9 (brotli 0-11 through `params`), or -1 for each coding's default. */
  compressionLevel?: number;
  /** deflate.params (gzip.level, BROTLI_PARAM_QUALITY, ZSTD_c_compressionLevel, …): when set, they alone tune the codings. */
  params?: CompressionParams;
  /** deflate.cache-dir: where compressed copies of static files are kept (made if missing). */
  cacheDir?: string;
  /** deflate.max-loadavg: above this 1-minute load average nothing is compressed; 0 is no limit. */
  maxLoadavg?: number;
  /**
   * Flush the compressor after every piece of a streamed body, so that output sent
   * progressively (PHP's flush()) reaches the client as it is written. lighttpd's rule:
   * with server.stream-response-body 1 or 2 and deflate.output-buffer-size 0.
   */
  syncFlush?: boolean;
  log?: Logger;
}

/** What compress() compresses when told nothing: the usual text types. */
export const DEFAULT_COMPRESS_MIMETYPES: readonly string[] = [
  'text/',
  'application/json',
  'application/xml',
  'application/xhtml+xml',
  'image/svg+xml',
];

/** Above this a body in memory is still compressed in one call; it is in memory already. */
const SMALL_FILE = 64 * 1024;
/** Compressed small files kept in memory per middleware: at most this many bytes and entries. */
const MEMO_BYTES = 16 * 1024 * 1024;
const MEMO_ENTRIES = 4096;
const NO_BODY = new Set([100, 101, 204, 205, 206, 304]);
const GET_HEAD_QUERY = new Set(['GET', 'HEAD', 'QUERY']);

export function compress(options: CompressOptions = {}): Middleware {
  const mimetypes = normaliseMimetypes(options.mimetypes ?? DEFAULT_COMPRESS_MIMETYPES);
  const allowed: AllowedEntry[] = options.allowedEncodings
    ? parseAllowedEncodings(options.allowedEncodings).entries
    : availableEncodings();
  const minSize = nonNegativeInteger(options.minCompressSize ?? 256, 'minCompressSize');
  const maxKiB = nonNegativeInteger(options.maxCompressSize ?? 128 * 1024, 'maxCompressSize');
  const level = options.compressionLevel ?? -1;
  if (!Number.isInteger(level) || (level !== -1 && (level < 1 || level > 9)))
    throw new OptionError(
      'ERR_COMPRESS_LEVEL',
      'compressionLevel',
      `must be between 1 and 9 (or -1): ${level}`,
    );
  const params = checkParams(options.params);
  const maxLoadavg = options.maxLoadavg ?? 0;
  if (!Number.isFinite(maxLoadavg) || maxLoadavg < 0)
    throw new OptionError('ERR_COMPRESS_LOADAVG', 'maxLoadavg', `must be a number ≥ 0: ${maxLoadavg}`);
  const cache = options.cacheDir ? new CompressCache(prepareCacheDir(options.cacheDir)) : undefined;
  const settings: CompressorSettings = { level, params, syncFlush: options.syncFlush === true };
  const log = options.log ?? defaultLogger;
  const memo = new Map<string, Buffer>();
  let memoBytes = 0;

  if (mimetypes.length === 0 || allowed.length === 0)
    return function compressNothing(_ctx, next) {
      return next();
    };

  /** The coding this answer gets, or undefined to leave it as it is (lighttpd's checks, in its order). */
  function codingFor(ctx: Context): CodingLabel | undefined {
    if (ctx.method === 'HEAD' || NO_BODY.has(ctx.status) || ctx.get('Range')) return undefined;
    const res = ctx.response;
    if (res.get('Content-Encoding') || res.get('Transfer-Encoding')) return undefined;
    const length = bodyLength(ctx);
    if (length !== undefined && (length <= minSize || (maxKiB > 0 && length > maxKiB * 1024)))
      return undefined;
    const accept = ctx.get('Accept-Encoding');
    if (!accept) return undefined;
    const label = chooseCoding(accept, allowed);
    if (!label) return undefined;
    const type = res.get('Content-Type');
    if (type ? !mimetypes.some((prefix) => type.startsWith(prefix)) : mimetypes[0] !== '') return undefined;
    return label;
  }

  async function encode(ctx: Context): Promise<void> {
    if (ctx.headerSent || !ctx.writable) return;
    const label = codingFor(ctx);
    if (!label) return;
    const res = ctx.response;
    const vary = res.get('Vary');
    if (!vary) ctx.set('Vary', 'Accept-Encoding');
    else if (!/(^|,)\s*accept-encoding\s*(,|$)/i.test(vary)) ctx.set('Vary', `${vary},Accept-Encoding`);
    const etag = res.get('ETag');
    const tagged = etag ? `${etag.slice(0, -1)}-${label}"` : undefined;
    if (tagged && ctx.status < 300 && askedFor(ctx.get('If-None-Match'), etag, label)) {
      // Ranges are offered on a 200 only.
      if (res.get('Accept-Ranges') === 'bytes') ctx.remove('Accept-Ranges');
      if (GET_HEAD_QUERY.has(ctx.method)) {
        ctx.set('ETag', tagged);
        notModified(ctx, res.get('Content-Type') || undefined);
      } else {
        const typed = Boolean(res.get('Content-Type'));
        ctx.status = 412;
        ctx.body = Buffer.alloc(0);
        keepType(ctx, typed);
      }
      return;
    }
    if (maxLoadavg > 0 && loadavg()[0]! > maxLoadavg) {
      // Decided not to compress after all: lighttpd still sends the Vary it has added.
      return;
    }
    if (tagged) ctx.set('ETag', tagged);
    const typed = Boolean(res.get('Content-Type'));
    const job: CompressionJob = {
      coder: CODER_OF[label],
      contentType: res.get('Content-Type') || undefined,
      length: bodyLength(ctx),
    };
    const file = wholeFileOf(ctx);
    ctx.set('Content-Encoding', label);
    if (res.get('Accept-Ranges') === 'bytes') ctx.remove('Accept-Ranges');
    const cacheable =
      cache &&
      file &&
      tagged &&
      etag === file.etag &&
      !vary &&
      !/\b(private|no-store)\b/i.test(res.get('Cache-Control'));
    if (cacheable && (await sendCached(ctx, file, tagged, job))) return keepType(ctx, typed);
    const body = ctx.body;
    const bytes = Buffer.isBuffer(body) ? body : typeof body === 'string' ? Buffer.from(body) : undefined;
    if (bytes) {
      ctx.body = await compressed(
        bytes,
        job,
        file && bytes.length <= SMALL_FILE ? `${file.path}\0${file.etag}\0${label}` : undefined,
      );
      noteRatio(ctx, (ctx.body as Buffer).length, bytes.length);
    } else if (body instanceof Readable) {
      ctx.remove('Content-Length');
      ctx.body = compressedStream(body, job);
    } else {
      // An object Koa would send as JSON.
      const json = Buffer.from(JSON.stringify(body));
      ctx.body = await compressBuffer(settings, { ...job, length: json.length }, json);
    }
    keepType(ctx, typed);
  }

  async function compressed(bytes: Buffer, job: CompressionJob, key: string | undefined): Promise<Buffer> {
    const held = key ? memo.get(key) : undefined;
    if (held) return held;
    const out = await compressBuffer(settings, job, bytes);
    if (key) {
      if (memo.size >= MEMO_ENTRIES || memoBytes + out.length > MEMO_BYTES) {
        memo.clear();
        memoBytes = 0;
      }
      memo.set(key, out);
      memoBytes += out.length;
    }
    return out;
  }

  function compressedStream(source: Readable, job: CompressionJob): Readable {
    const compressor = createCompressor(settings, job);
    // An error on either side (a file that shrank, PHP cut off, the client gone) ends both.
    pipeline(source, compressor, () => {});
    return compressor;
  }

  /** The compressed copy from deflate.cache-dir, made first if missing; false to compress on the fly. */
  async function sendCached(
    ctx: Context,
    file: FileInfo,
    tagged: string,
    job: CompressionJob,
  ): Promise<boolean> {
    const path = cache!.pathFor(file, tagged);
    let copy = await cache!.lookup(path);
    if (!copy) {
      try {
        copy = await cache!.fill(path, file, () => createCompressor({ ...settings, syncFlush: false }, job));
      } catch (error) {
        log.error('deflate', `writing ${path} failed: ${(error as Error).message}`);
      }
    }
    if (!copy) return false;
    const small = copy.size <= SMALL_FILE ? await smallFileContent(copy) : undefined;
    ctx.body = small ?? new FileStream(copy.path, 0, copy.size - 1, ctx.res);
    ctx.length = copy.size;
    noteRatio(ctx, copy.size, file.size);
    return true;
  }

  return async function compressMiddleware(ctx, next) {
    try {
      await next();
    } catch (error) {
      // lighttpdErrors makes the page; compress it then, as lighttpd compresses its own pages.
      afterErrorPage(ctx, (page) => encodeSafely(page));
      throw error;
    }
    if (ctx.status >= 400 && ctx.body == null) afterErrorPage(ctx, (page) => encodeSafely(page));
    else await encode(ctx);
  };

  async function encodeSafely(ctx: Context): Promise<void> {
    try {
      await encode(ctx);
    } catch (error) {
      log.error('deflate', `compressing the error page failed: ${(error as Error).message}`);
    }
  }
}

/**
 * lighttpd's quirky If-None-Match test for a compressed answer: the header starts with the
 * uncompressed ETag, its closing quote replaced by `-` and the coding (a list whose first
 * entry is that ETag counts; a later entry does not).
 */
function askedFor(ifNoneMatch: string, etag: string, label: string): boolean {
  return (
    ifNoneMatch.length > 0 &&
    ifNoneMatch.startsWith(etag.slice(0, -1)) &&
    ifNoneMatch[etag.length - 1] === '-' &&
    ifNoneMatch.startsWith(label, etag.length)
  );
}

/** The body's length in bytes, or undefined for a stream of unknown length. */
function bodyLength(ctx: Context): number | undefined {
  const body = ctx.body;
  if (body == null) return 0;
  if (Buffer.isBuffer(body)) return body.length;
  if (typeof body === 'string') return Buffer.byteLength(body);
  const declared = ctx.response.get('Content-Length');
  if (declared) return Number(declared);
  if (body instanceof Readable) return undefined;
  return Buffer.byteLength(JSON.stringify(body) ?? '');
}

/** Koa types a new Buffer body application/octet-stream; an untyped answer stays untyped. */
function keepType(ctx: Context, typed: boolean): void {
  if (!typed) ctx.remove('Content-Type');
}

/** lighttpd's `ratio` in the request environment (%{ratio}e in accesslog.format): out × 100 / in. */
function noteRatio(ctx: Context, bytesOut: number, bytesIn: number): void {
  if (bytesIn === 0) return;
  let state: ReturnType<typeof requestState>;
  try {
    state = requestState(ctx);
  } catch {
    return;
  }
  state.environment ??= [];
  const environment = state.environment;
  const ratio = String(Math.floor((bytesOut * 100) / bytesIn));
  const held = environment.find(([name]) => name.toLowerCase() === 'ratio');
  if (held) held[1] = ratio;
  else environment.push(['ratio', ratio]);
}

/** As lighttpd reads deflate.mimetypes at start. */
function normaliseMimetypes(list: readonly string[]): string[] {
  if (!Array.isArray(list) || list.some((m) => typeof m !== 'string'))
    throw new OptionError('ERR_COMPRESS_MIMETYPES', 'mimetypes', 'must be a list of Content-Type prefixes');
  return list.map((m) => {
    const prefix = m.length > 2 && m.endsWith('*') ? m.slice(0, -1) : m;
    return prefix === 'application/javascript' ? 'text/javascript' : prefix;
  });
}

function nonNegativeInteger(value: number, option: string): number {
  if (!Number.isSafeInteger(value) || value < 0)
    throw new OptionError('ERR_COMPRESS_SIZE', option, `must be an integer ≥ 0: ${value}`);
  return value;
}

function checkParams(params: CompressionParams | undefined): CompressionParams | undefined {
  if (params === undefined) return undefined;
  for (const [name, value] of Object.entries(params)) {
    const range = PARAM_RANGES[name as keyof CompressionParams];
    if (!range) throw new OptionError('ERR_COMPRESS_PARAMS', 'params', `unrecognized param: ${name}`);
    if (!Number.isInteger(value) || value < range[0] || value > range[1])
      throw new OptionError('ERR_COMPRESS_PARAMS', 'params', `invalid value for ${name}: ${value}`);
  }
  return params;
}

/** The directory without its trailing slash, made (0700) if missing, as lighttpd does at start. */
function prepareCacheDir(dir: string): string {
  const trimmed = dir.length > 1 && dir.endsWith('/') ? dir.slice(0, -1) : dir;
  try {
    if (!statSync(trimmed, { throwIfNoEntry: false })) mkdirSync(trimmed, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new OptionError(
      'ERR_COMPRESS_CACHE_DIR',
      'cacheDir',
      `can't stat ${trimmed}: ${(error as Error).message}`,
    );
  }
  return trimmed;
}
