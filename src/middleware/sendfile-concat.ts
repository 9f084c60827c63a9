import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import type { Context } from 'koa';
import { respondWithError } from '../http/error-page.js';
import { resolveSendfilePath, type SendfileOptions, sendfileFailed } from './sendfile-target.js';

/**
 * X-Sendfile2 (spec 3.7): `<url-encoded path> <start>-[<end>]` entries separated by commas, sent
 * one after the other as a single body. lighttpd checks the entries in order and stops at the
 * first bad one, so the status tells which check failed first: a missing file before a bad
 * range in a later entry. The concatenation has no validators; a client Range cuts it like a
 * file (seen: 206).
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

  const ranges = backendStatus === 200 ? requestedRanges(ctx, size) : undefined;
  if (ranges === 'unsatisfiable') {
    respondWithError(ctx, 416);
    ctx.set('Content-Range', `bytes */${size}`);
    return;
  }
  if (backendStatus === 200) ctx.set('Accept-Ranges', 'bytes');
  if (!ranges) {
    ctx.status = backendStatus;
    return sendBody(ctx, size, () => readSpan(parts, 0, size - 1));
  }
  ctx.status = 206;
  if (ranges.length === 1) {
    const [start, end] = ranges[0]!;
    ctx.set('Content-Range', `bytes ${start}-${end}/${size}`);
    return sendBody(ctx, end - start + 1, () => readSpan(parts, start, end));
  }
  const type = ctx.response.get('Content-Type');
  const boundary = 'fkj49sn38dcn3';
  const heads = ranges.map(
    ([start, end]) =>
      `\r\n--${boundary}\r\n${type ? `Content-Type: ${type}\r\n` : ''}Content-Range: bytes ${start}-${end}/${size}\r\n\r\n`,
  );
  const tail = `\r\n--${boundary}--\r\n`;
  const length = ranges.reduce(
    (sum, [start, end], i) => sum + Buffer.byteLength(heads[i]!) + end - start + 1,
    Buffer.byteLength(tail),
  );
  ctx.set('Content-Type', `multipart/byteranges; boundary=${boundary}`);
  return sendBody(ctx, length, async function* () {
    for (const [i, [start, end]] of ranges.entries()) {
      yield Buffer.from(heads[i]!);
      yield* readSpan(parts, start, end);
    }
    yield Buffer.from(tail);
  });
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

function sendBody(ctx: Context, length: number, chunks: () => AsyncIterable<Buffer>): void {
  ctx.length = length;
  if (ctx.method === 'HEAD' || length === 0) {
    ctx.body = Buffer.alloc(0);
    ctx.length = length;
    return;
  }
  ctx.body = Readable.from(chunks(), { objectMode: false });
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

/**
 * The client's Range over the concatenation (spec 1.4 rules: GET, HTTP/1.1, at most 10 specs,
 * invalid ones skipped, ranges closer than 80 bytes merged). There are no validators, so an
 * If-Range never matches and asks for the whole body.
 * TODO: serve-file.ts has the same rules for files; share them once it exports its parser.
 */
function requestedRanges(ctx: Context, size: number): Array<[number, number]> | 'unsatisfiable' | undefined {
  const header = ctx.get('Range');
  if (!header || ctx.method !== 'GET' || ctx.req.httpVersion !== '1.1') return undefined;
  if (!/^bytes=/i.test(header) || ctx.get('If-Range')) return undefined;
  const ranges: Array<[number, number]> = [];
  for (const spec of header.slice(6).split(',').slice(0, 10)) {
    const m = /^\s*(\d*)-(\d*)\s*$/.exec(spec);
    if (!m || (m[1] === '' && m[2] === '')) continue;
    let start: number;
    let end: number;
    if (m[1] === '') {
      if (Number(m[2]) === 0) continue;
      start = Math.max(size - Number(m[2]), 0);
      end = size - 1;
    } else {
      start = Number(m[1]);
      if (m[2] !== '' && Number(m[2]) < start) continue;
      end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    }
    if (start >= size) continue;
    ranges.push([start, end]);
  }
  if (ranges.length === 0) return 'unsatisfiable';
  ranges.sort((a, b) => a[0] - b[0]);
  const merged: Array<[number, number]> = [ranges[0]!];
  for (const [start, end] of ranges.slice(1)) {
    const last = merged[merged.length - 1]!;
    if (start <= last[1] + 1 + 80) last[1] = Math.max(last[1], end);
    else merged.push([start, end]);
  }
  return merged;
}
