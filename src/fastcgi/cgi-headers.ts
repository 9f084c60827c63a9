/**
 * The CGI response header block a backend writes at the start of its STDOUT (spec 3.4):
 * `Name: value` lines ending in LF or CRLF, closed by a blank line. Everything in it is
 * untrusted input: it ends up in Node's setHeader, which throws on bytes HTTP forbids, so
 * those are refused here with a BadCgiResponse (502) instead.
 */
import { BadCgiResponse } from './errors.js';

export { BadCgiResponse };

/** lighttpd refuses larger header blocks; so do we. */
export const MAX_CGI_HEADER_BLOCK = 64 * 1024;

export interface CgiHeaders {
  status: number;
  /** In the backend's order and spelling; `Status` itself is consumed, empty values dropped. */
  headers: [name: string, value: string][];
  /** Offset of the first body byte in the buffer that was parsed. */
  bodyStart: number;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Any control character but horizontal tab is refused in a value (Node would throw on them).
const BAD_VALUE = /[\u0000-\u0008\u000a-\u001f\u007f]/;
const NPH = /^HTTP\/1\.[01] +(\d{3})(?: |$)/;

/**
 * Finds the end of the header block: the first empty line. Returns [end of the last header
 * line, start of the body], or undefined when the blank line has not arrived yet.
 */
function findBlockEnd(buf: Buffer, from: number): [number, number] | undefined {
  // A block may also be empty: the body starts right away after a blank first line.
  if (from === 0) {
    if (buf[0] === 0x0a) return [0, 1];
    if (buf[0] === 0x0d && buf[1] === 0x0a) return [0, 2];
  }
  let lf = buf.indexOf(0x0a, from);
  while (lf >= 0) {
    const next = buf[lf + 1];
    if (next === 0x0a) return [lf, lf + 2];
    if (next === 0x0d && buf[lf + 2] === 0x0a) return [lf, lf + 3];
    if (next === undefined || (next === 0x0d && lf + 2 >= buf.length)) return undefined;
    lf = buf.indexOf(0x0a, lf + 1);
  }
  return undefined;
}

/**
 * Parses the header block at the start of `buf`. Returns undefined while it is incomplete
 * (call again with more bytes; `scanFrom` lets a caller skip what it already searched), and
 * throws BadCgiResponse when it can never become valid.
 */
export function parseCgiHeaders(buf: Buffer, scanFrom = 0): CgiHeaders | undefined {
  const end = findBlockEnd(buf, Math.max(0, scanFrom - 2));
  if (!end) {
    if (buf.length > MAX_CGI_HEADER_BLOCK) throw new BadCgiResponse('CGI header block larger than 64 KiB');
    return undefined;
  }
  const [blockEnd, bodyStart] = end;
  if (bodyStart > MAX_CGI_HEADER_BLOCK) throw new BadCgiResponse('CGI header block larger than 64 KiB');
  const lines = blockEnd === 0 ? [] : buf.toString('latin1', 0, blockEnd).split('\n');

  let status: number | undefined;
  let location = false;
  const headers: [string, string][] = [];
  lines.forEach((raw, index) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (index === 0) {
      const nph = NPH.exec(line);
      if (nph) {
        status = checkedStatus(nph[1]!, line);
        return;
      }
    }
    const colon = line.indexOf(':');
    if (colon < 0) {
      if (index === 0)
        throw new BadCgiResponse(`CGI response does not start with a header: ${preview(line)}`);
      return; // lighttpd skips a stray line inside the block
    }
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (!TOKEN.test(name)) throw new BadCgiResponse(`invalid CGI header name: ${preview(name)}`);
    if (BAD_VALUE.test(value)) throw new BadCgiResponse(`control character in CGI header ${name}`);
    const lower = name.toLowerCase();
    if (lower === 'status') {
      status = checkedStatus(value, line);
      return;
    }
    if (value === '') return;
    if (lower === 'location') location = true;
    headers.push([name, value]);
  });

  return { status: status ?? (location ? 302 : 200), headers, bodyStart };
}

function checkedStatus(value: string, line: string): number {
  const m = /^(\d{3})(?:\s|$)/.exec(value);
  const status = m ? Number(m[1]) : Number.NaN;
  if (!(status >= 100 && status <= 999))
    throw new BadCgiResponse(`invalid status in CGI response: ${preview(line)}`);
  return status;
}

function preview(s: string): string {
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s);
}

/**
 * Collects STDOUT bytes until the header block is complete, in a buffer that grows by
 * doubling, so a backend that dribbles its headers a byte at a time costs linear work.
 */
export class CgiHeaderAccumulator {
  /** Allocated only for a block that does not arrive whole in its first chunk. */
  private buf: Buffer | undefined;
  private length = 0;

  /** Returns the headers and the body bytes that followed them, once the block is complete. */
  push(chunk: Buffer): { head: CgiHeaders; rest: Buffer } | undefined {
    if (this.length === 0) {
      // Usually the whole block is in the first chunk: parse it in place.
      const head = parseCgiHeaders(chunk);
      if (head) return { head, rest: chunk.subarray(head.bodyStart) };
    }
    const scanned = this.length;
    this.append(chunk);
    const view = this.buf!.subarray(0, this.length);
    const head = parseCgiHeaders(view, scanned);
    if (!head) return undefined;
    return { head, rest: Buffer.from(view.subarray(head.bodyStart)) };
  }

  private append(chunk: Buffer): void {
    if (!this.buf) this.buf = Buffer.allocUnsafe(Math.max(1024, chunk.length));
    if (this.length + chunk.length > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + chunk.length));
      this.buf.copy(grown, 0, 0, this.length);
      this.buf = grown;
    }
    chunk.copy(this.buf, this.length);
    this.length += chunk.length;
  }
}
