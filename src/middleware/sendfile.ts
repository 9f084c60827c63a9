import type { Context } from 'koa';
import { OCTET_STREAM } from '../http/mime.js';
import { serveFile } from '../http/serve-file.js';
import { sendConcatenation } from './sendfile-concat.js';
import { resolveSendfilePath, type SendfileOptions, sendfileFailed } from './sendfile-target.js';

export { normaliseSendfileDocroots, type SendfileOptions } from './sendfile-target.js';

/**
 * Send-file from a backend (spec 3.7): PHP answers with `X-LIGHTTPD-send-file: /path` (or
 * X-Sendfile, or X-Sendfile2 with byte ranges) and the server sends that file instead of the
 * backend's body, as if it were a static file: validators, 304, Range, HEAD. The checks on the
 * path are in ./sendfile-target.ts, the X-Sendfile2 list in ./sendfile-concat.ts.
 */
export type SendfileHeader = 'X-Sendfile2' | 'X-Sendfile' | 'X-LIGHTTPD-send-file';

export interface SendfileDirective {
  header: SendfileHeader;
  value: string;
}

/** In order of precedence: a response carrying several uses the first of these. */
const PRECEDENCE: readonly SendfileHeader[] = ['X-Sendfile2', 'X-Sendfile', 'X-LIGHTTPD-send-file'];
const RANK = new Map(PRECEDENCE.map((header, rank) => [header.toLowerCase(), rank]));

/** The send-file header a backend answered with (names in any case), or undefined. */
export function findSendfileDirective(
  headers: ReadonlyArray<readonly [name: string, value: string]>,
): SendfileDirective | undefined {
  // One pass, each name lower-cased once: this runs on every answer of a send-file backend.
  let found: SendfileDirective | undefined;
  let foundRank = PRECEDENCE.length;
  for (const [name, value] of headers) {
    const rank = RANK.get(name.toLowerCase());
    // The first of a name counts, as the first of the most important name wins.
    if (rank !== undefined && rank < foundRank) {
      found = { header: PRECEDENCE[rank]!, value };
      foundRank = rank;
    }
  }
  return found;
}

/**
 * Answers the request with the file the backend named. The backend's other headers are
 * already on ctx (its Content-Length is dropped here: the file decides the length).
 * @param backendStatus the status the backend answered with; 200 gets validators and ranges.
 */
export async function sendBackendFile(
  ctx: Context,
  backendStatus: number,
  directive: SendfileDirective,
  options: SendfileOptions,
): Promise<void> {
  ctx.remove('Content-Length');
  if (directive.header === 'X-Sendfile2')
    return sendConcatenation(ctx, backendStatus, directive.value, options);

  const found = await resolveSendfilePath(directive.value, options, 403);
  if ('status' in found) return sendfileFailed(ctx, backendStatus, found, options.log, directive.header);
  const backendType = ctx.response.get('Content-Type');
  const type = backendType || options.mimeTypes.lookup(found.name);
  // The octet-stream fallback carries no validators (spec 1.4), as for a static file.
  await serveFile(ctx, found.info, {
    contentType: type || OCTET_STREAM,
    validators: Boolean(type),
    status: backendStatus,
  });
}
