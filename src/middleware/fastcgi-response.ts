import { Readable } from 'node:stream';
import type { Context } from 'koa';
import { type FastCgiResponse, takeEndedBody } from '../fastcgi/exchange.js';
import { noteBackendBandwidth } from '../http/bandwidth.js';
import { respondWithError } from '../http/error-page.js';
import { markBackendAnswer } from '../http/response-origin.js';
import { acceptRanges, requestedRanges, sendRanges } from '../http/serve-file.js';
import { Spool } from '../http/spool.js';
import { isInternalHeader } from './response-filter.js';

/**
 * The backend's answer, as the client gets it (spec 3.4): its status, its headers in its own
 * spelling and order (`Content-type` stays `Content-type`; two Set-Cookie stay two lines), and
 * its body streamed with backpressure. Three kinds of backend header never pass:
 *  - orders to the server (X-Sendfile, X-Sendfile2, X-LIGHTTPD-*), whatever the host allows;
 *  - hop-by-hop headers, which describe the backend's framing, not ours;
 *  - Content-Length, untrusted: a wrong one would desynchronise the client's connection. The
 *    length we send is the length we counted (small or spooled bodies) or chunked framing
 *    (streamed ones).
 */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'te', 'trailer']);

/** A body that ends within this many bytes is sent with Content-Length, like lighttpd does. */
const BUFFER_UP_TO = 64 * 1024;

/** Sets the backend's status and the headers that may reach the client. */
export function applyBackendHead(
  ctx: Context,
  status: number,
  headers: ReadonlyArray<readonly [string, string]>,
): void {
  ctx.status = status;
  markBackendAnswer(ctx);
  const grouped = new Map<string, { name: string; values: string[] }>();
  for (const [name, rawValue] of headers) {
    const lower = name.toLowerCase();
    if (isInternalHeader(name)) {
      // An order to the server that bandwidth() carries out (lighttpd's response.c).
      if (lower === 'x-lighttpd-kbytes-per-second') noteBackendBandwidth(ctx, rawValue);
      continue;
    }
    if (HOP_BY_HOP.has(lower)) {
      if (lower === 'connection' && /\bclose\b/i.test(rawValue)) ctx.set('Connection', 'close');
      continue;
    }
    if (lower === 'content-length') continue;
    // lighttpd's quirk (spec 3.4): the obsolete JavaScript type becomes the current one.
    const value =
      lower === 'content-type' ? rawValue.replace(/^application\/javascript/i, 'text/javascript') : rawValue;
    const held = grouped.get(lower);
    if (held) held.values.push(value);
    else grouped.set(lower, { name, values: [value] });
  }
  for (const { name, values } of grouped.values()) ctx.set(name, values.length === 1 ? values[0]! : values);
}

/**
 * Hands the backend's body to Koa. What the client must not see (204, 205, 304) is read and
 * dropped, so the connection can serve the next request. A body that ends within BUFFER_UP_TO
 * bytes is complete, as lighttpd's buffered answers always are (spec 1.4): it is sent whole
 * with its length, or cut by the client's Range, and a 200 says `Accept-Ranges: bytes`.
 * Anything longer streams, paced by the client (`server.stream-response-body` 1 and 2), or,
 * with `spoolTo` (`server.stream-response-body = 0`), is spooled whole first, past
 * BUFFER_UP_TO into temporary files in those directories, and then sent like a short one.
 * `onCut` hears of a stream that fails (the backend died mid-body, say).
 */
export async function sendBackendBody(
  ctx: Context,
  response: FastCgiResponse,
  onCut: (error: Error) => void,
  spoolTo?: readonly string[],
): Promise<void> {
  const typed = Boolean(ctx.response.get('Content-Type'));
  await sendBody(ctx, response, onCut, spoolTo);
  // Koa calls an untyped body application/octet-stream; lighttpd sends what the backend said.
  if (!typed && ctx.response.get('Content-Type') === 'application/octet-stream') ctx.remove('Content-Type');
}

async function sendBody(
  ctx: Context,
  response: FastCgiResponse,
  onCut: (error: Error) => void,
  spoolTo: readonly string[] | undefined,
): Promise<void> {
  // A complete answer is taken whole; only the others become a stream, which can be cut.
  const ended = takeEndedBody(response, BUFFER_UP_TO);
  if (!ended) response.body.on('error', onCut);
  if (ctx.status === 204 || ctx.status === 304 || ctx.status === 205) {
    if (!ended) discardBody(response, BUFFER_UP_TO);
    sendNothing(ctx);
    return;
  }
  const head = ended ? { bytes: ended, ended: true } : await readUpTo(response.body, BUFFER_UP_TO);
  if (ctx.method === 'HEAD') {
    // PHP writes no body for HEAD; the end of the (empty) body says the answer is complete.
    if (head.ended) acceptRanges(ctx);
    else response.body.destroy();
    sendNothing(ctx);
    return;
  }
  if (head.ended) return sendComplete(ctx, head.bytes);
  if (spoolTo) return sendSpooled(ctx, head.bytes, response.body, spoolTo);
  // Streamed, so no Range (lighttpd streams these without one too).
  ctx.body = Readable.from(resume(head.bytes, response.body), { objectMode: false });
}

/** A complete backend body: whole, or the ranges the client asked for (spec 1.4). */
function sendComplete(ctx: Context, bytes: Buffer): void {
  const ranges = acceptRanges(ctx) ? requestedRanges(ctx, bytes.length) : undefined;
  if (ranges === 'unsatisfiable') {
    respondWithError(ctx, 416);
    return;
  }
  if (!ranges) {
    ctx.body = bytes;
    return;
  }
  const type = ctx.response.get('Content-Type') || undefined;
  sendRanges(ctx, bytes.length, ranges, type, (start, end) => bytes.subarray(start, end + 1));
}

/**
 * lighttpd's `server.stream-response-body = 0`: the whole answer is read from the backend
 * (which frees it, whatever the client's pace), then sent with its length, and a 200 can be
 * cut by Range like a file. The spool's files close with the response, aborted or not.
 */
async function sendSpooled(ctx: Context, first: Buffer, rest: Readable, dirs: readonly string[]) {
  const spool = new Spool(dirs, BUFFER_UP_TO, 'koa-lighty-response-');
  ctx.res.once('close', () => void spool.close());
  try {
    await spool.append(first);
    for await (const chunk of rest as AsyncIterable<Buffer>) await spool.append(chunk);
  } catch (error) {
    rest.destroy();
    await spool.close();
    throw error;
  }
  const size = spool.length;
  const ranges = acceptRanges(ctx) ? requestedRanges(ctx, size) : undefined;
  if (ranges === 'unsatisfiable') {
    respondWithError(ctx, 416);
    return;
  }
  if (ranges) {
    const type = ctx.response.get('Content-Type') || undefined;
    sendRanges(ctx, size, ranges, type, (start, end) => spool.read(start, end));
    return;
  }
  ctx.body = spool.read(0, size - 1);
  ctx.length = size;
}

/** An ended empty stream: Koa sends no body and, for HEAD, invents no Content-Length. */
function sendNothing(ctx: Context): void {
  ctx.body = Readable.from([]);
}

/**
 * Reads and drops what the backend still sends, so its connection is reusable; past `limit`
 * bytes it is not worth waiting for, and the connection is closed instead (the worker is
 * freed when PHP next writes).
 */
export function discardBody(response: FastCgiResponse, limit: number): void {
  // Already complete (every small answer): taken whole, no stream, no listeners.
  if (takeEndedBody(response, limit)) return;
  const { body } = response;
  body.on('error', () => {}); // a failure here concerns nobody: the client gets something else
  let seen = 0;
  body.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > limit) body.destroy();
  });
}

async function readUpTo(body: Readable, limit: number): Promise<{ bytes: Buffer; ended: boolean }> {
  const chunks: Buffer[] = [];
  let length = 0;
  return new Promise((resolve, reject) => {
    const finish = (ended: boolean) => {
      body.off('readable', onReadable);
      body.off('end', onEnd);
      body.off('error', onError);
      resolve({ bytes: Buffer.concat(chunks, length), ended });
    };
    const onReadable = () => {
      for (let chunk: Buffer | null = body.read(); chunk !== null; chunk = body.read()) {
        chunks.push(chunk);
        length += chunk.length;
        if (length > limit) return finish(false);
      }
    };
    const onEnd = () => finish(true);
    const onError = (error: Error) => {
      body.off('readable', onReadable);
      body.off('end', onEnd);
      reject(error);
    };
    body.on('readable', onReadable);
    body.once('end', onEnd);
    body.once('error', onError);
  });
}

async function* resume(first: Buffer, rest: Readable): AsyncGenerator<Buffer> {
  yield first;
  yield* rest as AsyncIterable<Buffer>;
}
