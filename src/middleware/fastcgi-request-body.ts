import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { RequestTooLarge, requestBodyLimit } from '../http/limits.js';
import { Spool } from '../http/spool.js';

/**
 * The request body as the backend gets it on STDIN, with its length for CONTENT_LENGTH.
 *
 * php-cgi reads exactly CONTENT_LENGTH bytes of STDIN and no more, so a body must have a known
 * length before the request starts. With Content-Length the client's stream goes straight
 * through, with backpressure. A chunked body (no Content-Length) is spooled first, as lighttpd
 * does: in memory up to SPOOL_IN_MEMORY, then in a temporary file in `server.upload-dirs`
 * (src/http/spool.ts), so a large upload never sits in memory. Past server.max-request-size
 * (requestBodyLimit) the spooling stops with a RequestTooLarge (413), as lighttpd's reading does.
 */
export interface BackendRequestBody {
  length: number;
  body: Readable | Buffer | undefined;
  /** Closes the spool file; call it when the request ends, however it ends. Idempotent. */
  discard(): Promise<void>;
}

const SPOOL_IN_MEMORY = 1024 * 1024;

/**
 * A body with a length (or none) is known at once; a chunked one is a promise, settled once
 * it is spooled in `uploadDirs` (tried in order).
 */
export function backendRequestBody(
  req: IncomingMessage,
  uploadDirs: readonly string[],
): BackendRequestBody | Promise<BackendRequestBody> {
  const declared = req.headers['content-length'];
  if (declared !== undefined) {
    // Node's parser has checked it is one non-negative integer.
    const length = Number(declared);
    return length > 0 ? { length, body: req, discard: nothingToDiscard } : NO_BODY;
  }
  if (req.headers['transfer-encoding'] === undefined) return NO_BODY;
  return spool(req, uploadDirs);
}

const nothingToDiscard = async () => {};
const NO_BODY: BackendRequestBody = Object.freeze({ length: 0, body: undefined, discard: nothingToDiscard });

async function spool(req: IncomingMessage, uploadDirs: readonly string[]): Promise<BackendRequestBody> {
  const held = new Spool(uploadDirs, SPOOL_IN_MEMORY, 'koa-lighty-upload-');
  const limit = requestBodyLimit(req) ?? Number.POSITIVE_INFINITY;
  try {
    // Not destroyed when the spool fails: the client is still there to get its 500 (or 413).
    for await (const chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
      if (held.length + chunk.length > limit) throw new RequestTooLarge(held.length + chunk.length);
      await held.append(chunk);
    }
  } catch (error) {
    await held.close();
    throw error;
  }
  const { length } = held;
  const whole = held.inMemory();
  if (whole) return { length, body: length > 0 ? whole : undefined, discard: nothingToDiscard };
  // The stream reads nothing until the backend takes it.
  const body = held.read(0, length - 1) as Readable;
  return {
    length,
    body,
    discard: async () => {
      if (!body.readableEnded) body.destroy();
      await held.close();
    },
  };
}
