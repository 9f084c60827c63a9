import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import type { Context } from 'koa';
import { respondWithError } from '../http/error-page.js';
import { acceptRanges, requestedRanges, sendRanges } from '../http/serve-file.js';
import { resolveSendfilePath, type SendfileOptions, sendfileFailed } from './sendfile-target.js';

/**
 * X-Sendfile2 (spec 3.7): `<url-encoded path> <start>-[<end>]` entries separated by commas, sent
 * one after the other as a single body. lighttpd checks the entries in order and stops at the
 * first bad one, so the status tells which check failed first: a missing file before a bad
 * range in a later entry. The concatenation gets no validators of its own; a client Range
 * cuts it like a file (seen: 206), and an If-Range is compared with the ETag or Last-Modified
 * the backend sent, if any (seen).
 */
interface Part {
  path: string;
  /** First byte in the file. */
  start: number;
  /** Number of bytes (0 allowed: `5-4` is an empty part). */
  length: number;
}

type Parsed = { parts: Part[] } | { status: number; reason: string };

export async function sendConcatenation(
  ctx: Context,
  backendStatus: number,
  value: string,
  options: SendfileOptions,
): Promise<void> {
  const parsed = await parseSendfile2(value, options);
  if ('status' in parsed) return sendfileFailed(ctx, backendStatus, parsed, options.log, 'X-Sendfile2');
  const parts = parsed.parts.filter((part) => part.length > 0);
  const size = parts.reduce((sum, part) => sum + part.length, 0);

  ctx.status = backendStatus;
  const ranges = acceptRanges(ctx) ? requestedRanges(ctx, size) : undefined;
  // Without a Content-Range, as lighttpd 1.4.69 (seen).
  if (ranges === 'unsatisfiable') return respondWithError(ctx, 416);
  const span = (start: number, end: number) =>
    Readable.from(readSpan(parts, start, end), { objectMode: false });
  if (ranges) return sendRanges(ctx, size, ranges, ctx.response.get('Content-Type') || undefined, span);
  ctx.body = ctx.method === 'HEAD' || size === 0 ? Buffer.alloc(0) : span(0, size - 1);
  // After the body: a HEAD answer tells the length of the GET one, not of the empty Buffer.
  ctx.length = size;
}

/** The entries of an X-Sendfile2 value, each checked in turn (lighttpd's http_response_xsendfile2). */
export async function parseSendfile2(value: string, options: SendfileOptions): Promise<Parsed> {
  const parts: Part[] = [];
  let pos = 0;
  for (;;) {
    while (value[pos] === ' ') pos++;
    if (pos >= value.length) return { parts };
    const space = value.indexOf(' ', pos);
    if (space < 0) return { status: 502, reason: `no range after ${JSON.stringify(value.slice(pos))}` };
    const rawPath = value.slice(pos, space);
    let rangeEnd = space + 1;
    while (rangeEnd < value.length && value[rangeEnd] !== ' ' && value[rangeEnd] !== ',') rangeEnd++;
    const range = value.slice(space + 1, rangeEnd);

    const found = await resolveSendfilePath(rawPath, options, 502);
    if ('status' in found) return found;
    const m = /^(\d+)-(\d*)$/.exec(range);
    if (!m) return { status: 502, reason: `unparsable range ${JSON.stringify(range)} for ${rawPath}` };
    pos = rangeEnd;
    while (value[pos] === ' ') pos++;
    if (pos < value.length && value[pos] !== ',') {
      return {
        status: 502,
        reason: `unexpected ${JSON.stringify(value.slice(pos))} after the range of ${rawPath}`,
      };
    }
    pos++;

    const size = found.info.size;
    const start = Number(m[1]);
    const end = m[2] === '' ? size - 1 : Number(m[2]);
    if (end - start + 1 < 0) return { status: 502, reason: `range ${range} ends before it starts` };
    // Past the end of the file: what exists is sent (seen `30-100` on 37 bytes → 7 bytes).
    const length = Math.max(0, Math.min(end, size - 1) - start + 1);
    parts.push({ path: found.info.path, start, length });
  }
}

/** Bytes [from, to] of the concatenation, read from the files that hold them. */
async function* readSpan(parts: readonly Part[], from: number, to: number): AsyncGenerator<Buffer> {
  let offset = 0;
  for (const part of parts) {
    const partEnd = offset + part.length - 1;
    if (partEnd >= from && offset <= to) {
      const start = part.start + Math.max(0, from - offset);
      const end = part.start + Math.min(part.length - 1, to - offset);
      yield* createReadStream(part.path, { start, end, highWaterMark: 64 * 1024 });
    }
    offset += part.length;
    if (offset > to) return;
  }
}
