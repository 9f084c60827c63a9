import type { IncomingMessage } from 'node:http';

/** lighttpd's server.max-request-field-size default: the request line plus headers, in bytes. */
export const DEFAULT_MAX_REQUEST_FIELD_SIZE = 8192;

/**
 * A request body larger than server.max-request-size: 413, and the connection closes (the
 * rest of the body is not read). Thrown by whoever reads a chunked body past the limit.
 */
export class RequestTooLarge extends Error {
  override readonly name = 'RequestTooLarge';
  readonly code = 'ERR_REQUEST_TOO_LARGE';
  readonly status = 413;
  constructor(
    /** The bytes announced (Content-Length) or read so far (chunked). */
    readonly size: number,
  ) {
    super(`request-size too long: ${size} -> 413`);
  }
}

const BODY_LIMIT = Symbol('koa-lighty.max-request-size');
type LimitedRequest = IncomingMessage & { [BODY_LIMIT]?: number };

/**
 * Marks the most body bytes this request may carry. A body with a Content-Length is checked
 * against it at once (requestSizeLimit); a chunked one only as it is read, so the reader of the
 * body (the FastCGI spool) asks for it with requestBodyLimit and stops past it.
 */
export function limitRequestBody(req: IncomingMessage, bytes: number): void {
  (req as LimitedRequest)[BODY_LIMIT] = bytes;
}

/** The limit limitRequestBody set, or undefined for none. */
export function requestBodyLimit(req: IncomingMessage): number | undefined {
  return (req as LimitedRequest)[BODY_LIMIT];
}
