import type { Middleware } from 'koa';
import { respondWithError } from '../http/error-page.js';
import { limitRequestBody, RequestTooLarge } from '../http/limits.js';
import { defaultLogger, type Logger } from '../log.js';
import { OptionError } from '../option-error.js';

/**
 * server.max-request-size: the most a request body may hold, in KiB as lighttpd counts it
 * (0: no limit). A request whose Content-Length says more is answered 413 before a byte of
 * its body is read, with `Connection: close`; whatever stage comes after never sees it. A
 * chunked body has no length to check up front: the stage reading it (the FastCGI bridge,
 * which spools it) answers 413 once it grows past the limit, as lighttpd does.
 */
export interface RequestSizeLimitOptions {
  /** KiB (1024 bytes); 0 means no limit. */
  maxKBytes: number;
  log?: Logger;
}

/** lighttpd reads the option as an unsigned 32-bit number of KiB. */
const MAX_KBYTES = 0xffff_ffff;

export function requestSizeLimit(options: RequestSizeLimitOptions): Middleware {
  const { maxKBytes } = options;
  if (!Number.isInteger(maxKBytes) || maxKBytes < 0 || maxKBytes > MAX_KBYTES)
    throw new OptionError('ERR_MAX_REQUEST_SIZE', 'maxKBytes', `must be whole KiB from 0 to ${MAX_KBYTES}`);
  const log = options.log ?? defaultLogger;
  const limit = maxKBytes * 1024;
  return function requestSizeLimitMiddleware(ctx, next) {
    if (limit === 0) return next();
    const declared = ctx.req.headers['content-length'];
    // Node's parser has checked it is one non-negative integer.
    if (declared !== undefined && Number(declared) > limit) {
      log.error('request', new RequestTooLarge(Number(declared)).message);
      respondWithError(ctx, 413);
      ctx.set('Connection', 'close');
      return;
    }
    limitRequestBody(ctx.req, limit);
    return next();
  };
}
