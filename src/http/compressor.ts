/**
 * node:zlib compressors tuned as lighttpd 1.4.69's mod_deflate tunes its libraries:
 * deflate.compression-level, deflate.params, brotli's text/font mode by Content-Type and its
 * size hint. A stream for bodies of any length (backpressure is zlib's own: it stops reading
 * while its output is not taken), a one-shot call for bodies already in memory.
 */

import type { Transform } from 'node:stream';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { Coder } from './content-coding.js';

/** deflate.params: lighttpd's names, each with its allowed range. */
export interface CompressionParams {
  'gzip.level'?: number;
  'gzip.windowBits'?: number;
  'gzip.memLevel'?: number;
  'gzip.strategy'?: number;
  BROTLI_PARAM_QUALITY?: number;
  BROTLI_PARAM_LGWIN?: number;
  BROTLI_PARAM_MODE?: number;
  ZSTD_c_compressionLevel?: number;
  ZSTD_c_strategy?: number;
  ZSTD_c_windowLog?: number;
}

/** The range lighttpd accepts for each param (out of range: logged, and the default kept). */
export const PARAM_RANGES: Readonly<Record<keyof CompressionParams, readonly [number, number]>> = {
  'gzip.level': [1, 9],
  'gzip.windowBits': [9, 15],
  'gzip.memLevel': [1, 9],
  'gzip.strategy': [0, 4],
  BROTLI_PARAM_QUALITY: [0, 11],
  BROTLI_PARAM_LGWIN: [10, 24],
  BROTLI_PARAM_MODE: [0, 2],
  ZSTD_c_compressionLevel: [-131072, 22],
  ZSTD_c_strategy: [1, 9],
  ZSTD_c_windowLog: [10, 31],
};

export interface CompressorSettings {
  /** deflate.compression-level: 1..9, or -1 for each library's default. */
  level: number;
  /** deflate.params; when given, it alone decides (compression-level is not used), as in lighttpd. */
  params?: CompressionParams;
  /** Flush after every piece written (progressive output stays progressive). */
  syncFlush: boolean;
}

/** What one response needs beyond the settings. */
export interface CompressionJob {
  coder: Coder;
  contentType: string | undefined;
  /** The body's length, when known: brotli's size hint. */
  length: number | undefined;
}

const C = zlib.constants as typeof zlib.constants & Record<string, number>;

export function zlibOptions(
  settings: CompressorSettings,
  job: CompressionJob,
): zlib.ZlibOptions & zlib.BrotliOptions {
  const p = settings.params;
  switch (job.coder) {
    case 'gzip':
    case 'deflate': {
      const level = p ? (p['gzip.level'] ?? -1) : settings.level > 0 ? settings.level : -1;
      return {
        level,
        windowBits: p?.['gzip.windowBits'] ?? 15,
        memLevel: p?.['gzip.memLevel'] ?? 8,
        strategy: p?.['gzip.strategy'] ?? C.Z_DEFAULT_STRATEGY,
        ...(settings.syncFlush ? { flush: C.Z_SYNC_FLUSH } : {}),
      };
    }
    case 'br': {
      // Brotli's own default (11) is very slow; lighttpd uses 5.
      const quality = p ? (p.BROTLI_PARAM_QUALITY ?? 5) : settings.level >= 0 ? settings.level : 5;
      const params: Record<number, number> = {
        [C.BROTLI_PARAM_QUALITY]: quality,
        [C.BROTLI_PARAM_MODE]: p?.BROTLI_PARAM_MODE ?? brotliMode(job.contentType),
      };
      if (p?.BROTLI_PARAM_LGWIN !== undefined) params[C.BROTLI_PARAM_LGWIN] = p.BROTLI_PARAM_LGWIN;
      if (job.length !== undefined && job.length < 2 ** 31) params[C.BROTLI_PARAM_SIZE_HINT] = job.length;
      return { params, ...(settings.syncFlush ? { flush: C.BROTLI_OPERATION_FLUSH } : {}) };
    }
    case 'zstd': {
      const params: Record<number, number> = {};
      // lighttpd 1.4.69 passes compression-level to zstd as its strategy (a slip); here it is the level.
      const level = p ? p.ZSTD_c_compressionLevel : settings.level >= 0 ? settings.level : undefined;
      if (level !== undefined) params[C.ZSTD_c_compressionLevel!] = level;
      if (p?.ZSTD_c_strategy !== undefined) params[C.ZSTD_c_strategy!] = p.ZSTD_c_strategy;
      if (p?.ZSTD_c_windowLog !== undefined) params[C.ZSTD_c_windowLog!] = p.ZSTD_c_windowLog;
      return { params, ...(settings.syncFlush ? { flush: C.ZSTD_e_flush } : {}) } as zlib.ZlibOptions;
    }
  }
}

/** lighttpd's choice: text for text/*, JavaScript, JSON and XML, font for font/*, else generic. */
function brotliMode(type: string | undefined): number {
  if (!type) return C.BROTLI_MODE_GENERIC;
  if (
    type.startsWith('text/') ||
    /^application\/(javascript|json|xml)/.test(type) ||
    type.endsWith('+json') ||
    type.endsWith('+xml')
  )
    return C.BROTLI_MODE_TEXT;
  if (type.startsWith('font/')) return C.BROTLI_MODE_FONT;
  return C.BROTLI_MODE_GENERIC;
}

type ZstdZlib = typeof zlib & {
  createZstdCompress(options?: zlib.ZlibOptions): Transform;
  zstdCompress(
    buffer: Buffer,
    options: zlib.ZlibOptions,
    callback: (error: Error | null, result: Buffer) => void,
  ): void;
};

export function createCompressor(settings: CompressorSettings, job: CompressionJob): Transform {
  const options = zlibOptions(settings, job);
  switch (job.coder) {
    case 'gzip':
      return zlib.createGzip(options);
    case 'deflate':
      return zlib.createDeflate(options);
    case 'br':
      return zlib.createBrotliCompress(options);
    case 'zstd':
      return (zlib as ZstdZlib).createZstdCompress(options);
  }
}

const gzip = promisify(zlib.gzip);
const deflate = promisify(zlib.deflate);
const brotli = promisify(zlib.brotliCompress);

/** The whole body at once, in libuv's thread pool: for bodies that are in memory already. */
export function compressBuffer(
  settings: CompressorSettings,
  job: CompressionJob,
  body: Buffer,
): Promise<Buffer> {
  // One call holds the whole body: flushing inside it would only cost bytes.
  const options = zlibOptions({ ...settings, syncFlush: false }, job);
  switch (job.coder) {
    case 'gzip':
      return gzip(body, options);
    case 'deflate':
      return deflate(body, options);
    case 'br':
      return brotli(body, options);
    case 'zstd':
      return promisify((zlib as ZstdZlib).zstdCompress)(body, options);
  }
}
