/**
 * The FastCGI 1.0 record layer: encoding what we send, and a streaming decoder for what
 * comes back. Nothing here knows about sockets or requests.
 *
 * A record is an 8-byte header (version, type, request id, content length, padding length)
 * followed by at most 65,535 content bytes and up to 255 padding bytes.
 */
import { ProtocolError } from './errors.js';

export const FCGI_VERSION_1 = 1;
export const FCGI_HEADER_LEN = 8;
export const FCGI_MAX_CONTENT = 65_535;
/** Request id 0 is reserved for management records (GET_VALUES and friends). */
export const FCGI_NULL_REQUEST_ID = 0;

export const RecordType = {
  BEGIN_REQUEST: 1,
  ABORT_REQUEST: 2,
  END_REQUEST: 3,
  PARAMS: 4,
  STDIN: 5,
  STDOUT: 6,
  STDERR: 7,
  DATA: 8,
  GET_VALUES: 9,
  GET_VALUES_RESULT: 10,
  UNKNOWN_TYPE: 11,
} as const;

export const Role = { RESPONDER: 1, AUTHORIZER: 2, FILTER: 3 } as const;

/** BEGIN_REQUEST flag: keep the connection open after this request (php-cgi honours it). */
export const FCGI_KEEP_CONN = 1;

export const ProtocolStatus = {
  REQUEST_COMPLETE: 0,
  CANT_MPX_CONN: 1,
  OVERLOADED: 2,
  UNKNOWN_ROLE: 3,
} as const;

export interface FastCgiRecord {
  type: number;
  requestId: number;
  content: Buffer;
}

function header(type: number, requestId: number, contentLength: number, paddingLength: number): Buffer {
  const h = Buffer.allocUnsafe(FCGI_HEADER_LEN);
  h[0] = FCGI_VERSION_1;
  h[1] = type;
  h.writeUInt16BE(requestId, 2);
  h.writeUInt16BE(contentLength, 4);
  h[6] = paddingLength;
  h[7] = 0;
  return h;
}

const PADDING = Buffer.alloc(8);

/**
 * The pieces of one or more records carrying `content`, without copying it: headers,
 * slices of the content, padding. Meant for a corked socket (writev). Content over 65,535
 * bytes is split; each record is padded to a multiple of 8 as the spec recommends.
 * Empty content gives one empty record (the end-of-stream marker of PARAMS/STDIN).
 */
export function encodeRecordParts(
  type: number,
  requestId: number,
  content: Buffer = PADDING.subarray(0, 0),
): Buffer[] {
  const parts: Buffer[] = [];
  let offset = 0;
  do {
    const length = Math.min(FCGI_MAX_CONTENT, content.length - offset);
    const padding = (8 - (length % 8)) % 8;
    parts.push(header(type, requestId, length, padding));
    if (length > 0) parts.push(content.subarray(offset, offset + length));
    if (padding > 0) parts.push(PADDING.subarray(0, padding));
    offset += length;
  } while (offset < content.length);
  return parts;
}

/** One buffer holding the record(s) for `content`; see encodeRecordParts. */
export function encodeRecord(type: number, requestId: number, content?: Buffer): Buffer {
  return Buffer.concat(encodeRecordParts(type, requestId, content));
}

export function encodeBeginRequest(role: number, keepConn: boolean, requestId = 1): Buffer {
  const body = Buffer.alloc(8);
  body.writeUInt16BE(role, 0);
  body[2] = keepConn ? FCGI_KEEP_CONN : 0;
  return encodeRecord(RecordType.BEGIN_REQUEST, requestId, body);
}

export function encodeEndRequest(appStatus: number, protocolStatus: number, requestId = 1): Buffer {
  const body = Buffer.alloc(8);
  body.writeUInt32BE(appStatus >>> 0, 0);
  body[4] = protocolStatus;
  return encodeRecord(RecordType.END_REQUEST, requestId, body);
}

export type NameValue = [name: string | Buffer, value: string | Buffer];

const MAX_PAIR_LENGTH = 0x7fff_ffff;

function lengthBytes(length: number): Buffer {
  if (length < 128) return Buffer.of(length);
  if (length > MAX_PAIR_LENGTH) throw new RangeError(`FastCGI name or value too long: ${length} bytes`);
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE((length | 0x8000_0000) >>> 0, 0);
  return b;
}

/**
 * Name-value pairs in FastCGI's binary-safe form. Strings are written as latin1 when they
 * hold only code points < 256 (how Node keeps raw header bytes) and as UTF-8 otherwise: pass
 * decoded text as a Buffer (see toBytes).
 */
export function encodeNameValuePairs(pairs: Iterable<NameValue>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of pairs) {
    const n = toBytes(name);
    const v = toBytes(value);
    parts.push(lengthBytes(n.length), lengthBytes(v.length), n, v);
  }
  return Buffer.concat(parts);
}

/**
 * The bytes of one name or value. A Buffer goes out as it is. A string is guessed at: when
 * every character is below U+0100 it is taken for raw bytes held as latin1 (how Node keeps
 * header values and the request target) and written one byte per character; otherwise it is
 * written as UTF-8, every character, so U+00E9 is then two bytes. Decoded text therefore
 * comes out differently depending on its other characters: `/café.php` would be sent with
 * the single byte 0xE9, `/café€.php` with C3 A9. Callers must pass a string only for ASCII or
 * for raw bytes in latin1 form, and a Buffer for anything else, decoded text above all (paths
 * after percent-decoding, configuration strings): cgi-env.ts's cgiParamsForWire sends
 * SCRIPT_NAME, PATH_INFO, PATH_TRANSLATED, SCRIPT_FILENAME and DOCUMENT_ROOT as UTF-8 Buffers
 * for this reason.
 */
function toBytes(s: string | Buffer): Buffer {
  if (typeof s !== 'string') return s;
  return /^[\u0000-\u00ff]*$/.test(s) ? Buffer.from(s, 'latin1') : Buffer.from(s, 'utf8');
}

/**
 * The whole PARAMS stream, ended by an empty PARAMS record. Pairs are packed whole into
 * records of at most 65,535 bytes: FastCGI allows a pair to straddle two records, but
 * php-cgi parses each record on its own and drops the connection when one does (seen).
 * Only a pair that cannot fit in any record (over 65,535 bytes encoded) is split, as the
 * spec allows; php-cgi will not take it, other backends may.
 */
export function encodeParams(pairs: Iterable<NameValue>, requestId = 1): Buffer {
  return encodeRequestHead(pairs, requestId);
}

/** One byte per character: what a pair's length prefix and its latin1 text become on the wire. */
function lengthChars(length: number): string {
  if (length < 128) return String.fromCharCode(length);
  if (length > MAX_PAIR_LENGTH) throw new RangeError(`FastCGI name or value too long: ${length} bytes`);
  return String.fromCharCode(
    ((length >>> 24) & 0x7f) | 0x80,
    (length >>> 16) & 0xff,
    (length >>> 8) & 0xff,
    length & 0xff,
  );
}

const NOT_LATIN1 = /[^\u0000-\u00ff]/;

/**
 * The records that open a request, in one buffer: BEGIN_REQUEST when `begin` is given, the
 * PARAMS stream (pairs and the empty record that ends it). The usual request, all strings that fit one
 * record, is packed as one latin1 string and written once; anything else (Buffers, text
 * beyond latin1, more than one record) takes encodeParamsInParts, byte for byte the same.
 */
export function encodeRequestHead(
  pairs: Iterable<NameValue>,
  requestId = 1,
  begin?: { role: number; keepConn: boolean },
): Buffer {
  let content = '';
  let packed = Array.isArray(pairs);
  if (packed) {
    for (const [name, value] of pairs as NameValue[]) {
      if (typeof name !== 'string' || typeof value !== 'string') {
        packed = false;
        break;
      }
      content += lengthChars(name.length) + lengthChars(value.length) + name + value;
    }
  }
  if (packed && (content.length > FCGI_MAX_CONTENT || NOT_LATIN1.test(content))) packed = false;
  const beginLength = begin ? 2 * FCGI_HEADER_LEN : 0;
  if (!packed) {
    const params = encodeParamsInParts(pairs, requestId);
    if (!begin) return params;
    return Buffer.concat([encodeBeginRequest(begin.role, begin.keepConn, requestId), params]);
  }
  const length = content.length;
  const padding = (8 - (length % 8)) % 8;
  const paramsLength = (length > 0 ? FCGI_HEADER_LEN + length + padding : 0) + FCGI_HEADER_LEN;
  const out = Buffer.allocUnsafe(beginLength + paramsLength);
  let at = 0;
  if (begin) {
    writeHeader(out, at, RecordType.BEGIN_REQUEST, requestId, 8, 0);
    out.writeUInt16BE(begin.role, at + 8);
    out[at + 10] = begin.keepConn ? FCGI_KEEP_CONN : 0;
    out.fill(0, at + 11, at + 16);
    at += 16;
  }
  if (length > 0) {
    writeHeader(out, at, RecordType.PARAMS, requestId, length, padding);
    out.write(content, at + FCGI_HEADER_LEN, length, 'latin1');
    at += FCGI_HEADER_LEN + length;
    out.fill(0, at, at + padding);
    at += padding;
  }
  writeHeader(out, at, RecordType.PARAMS, requestId, 0, 0);
  return out;
}

function writeHeader(
  out: Buffer,
  at: number,
  type: number,
  requestId: number,
  contentLength: number,
  paddingLength: number,
): void {
  out[at] = FCGI_VERSION_1;
  out[at + 1] = type;
  out[at + 2] = requestId >>> 8;
  out[at + 3] = requestId & 0xff;
  out[at + 4] = contentLength >>> 8;
  out[at + 5] = contentLength & 0xff;
  out[at + 6] = paddingLength;
  out[at + 7] = 0;
}

function encodeParamsInParts(pairs: Iterable<NameValue>, requestId: number): Buffer {
  const parts: Buffer[] = [];
  let record: Buffer[] = [];
  let recordLength = 0;
  const flush = () => {
    if (recordLength > 0)
      parts.push(...encodeRecordParts(RecordType.PARAMS, requestId, Buffer.concat(record)));
    record = [];
    recordLength = 0;
  };
  for (const pair of pairs) {
    const encoded = encodeNameValuePairs([pair]);
    if (recordLength + encoded.length > FCGI_MAX_CONTENT) flush();
    record.push(encoded);
    recordLength += encoded.length;
  }
  flush();
  parts.push(...encodeRecordParts(RecordType.PARAMS, requestId));
  return Buffer.concat(parts);
}

/** FCGI_GET_VALUES for these names (values empty, request id 0). */
export function encodeGetValues(names: string[]): Buffer {
  return encodeRecord(
    RecordType.GET_VALUES,
    FCGI_NULL_REQUEST_ID,
    encodeNameValuePairs(names.map((n) => [n, ''] as NameValue)),
  );
}

/** Decodes a complete block of name-value pairs; truncated input is a ProtocolError. */
export function decodeNameValuePairs(buf: Buffer): [name: Buffer, value: Buffer][] {
  const pairs: [Buffer, Buffer][] = [];
  let at = 0;
  const readLength = (): number => {
    if (at >= buf.length) throw new ProtocolError('truncated name-value pair');
    if (buf[at]! < 128) return buf[at++]!;
    if (at + 4 > buf.length) throw new ProtocolError('truncated name-value pair length');
    const length = buf.readUInt32BE(at) & MAX_PAIR_LENGTH;
    at += 4;
    return length;
  };
  while (at < buf.length) {
    const nameLength = readLength();
    const valueLength = readLength();
    if (at + nameLength + valueLength > buf.length)
      throw new ProtocolError('name-value pair runs past its record');
    const name = buf.subarray(at, at + nameLength);
    at += nameLength;
    pairs.push([name, buf.subarray(at, at + valueLength)]);
    at += valueLength;
  }
  return pairs;
}

/**
 * Turns a byte stream, split anywhere (one byte at a time included), into records. Content
 * that arrives whole within one chunk is handed out as a slice of it (no copy); content split
 * over chunks is assembled into one buffer of exactly the announced length, so the work is
 * linear in the input however it is split.
 *
 * `push` throws a ProtocolError on input that is not FastCGI (wrong version), and keeps
 * throwing afterwards: once the framing is lost, nothing after it can be trusted.
 */
export class RecordDecoder {
  private readonly head = Buffer.alloc(FCGI_HEADER_LEN);
  private headFilled = 0;
  private content: Buffer | undefined;
  private contentFilled = 0;
  private paddingLeft = 0;
  private failure: ProtocolError | undefined;

  constructor(private readonly onRecord: (record: FastCgiRecord) => void) {}

  /** True when no partial record is held (a clean place for the stream to end). */
  get atBoundary(): boolean {
    return this.headFilled === 0 && this.content === undefined && this.paddingLeft === 0;
  }

  push(chunk: Buffer): void {
    if (this.failure) throw this.failure;
    let at = 0;
    while (at < chunk.length) {
      if (this.content !== undefined) {
        at = this.fillContent(chunk, at);
        continue;
      }
      if (this.paddingLeft > 0) {
        const skip = Math.min(this.paddingLeft, chunk.length - at);
        this.paddingLeft -= skip;
        at += skip;
        continue;
      }
      if (this.headFilled === 0 && chunk.length - at >= FCGI_HEADER_LEN) {
        chunk.copy(this.head, 0, at, at + FCGI_HEADER_LEN);
        at += FCGI_HEADER_LEN;
        this.headFilled = FCGI_HEADER_LEN;
      } else {
        const take = Math.min(FCGI_HEADER_LEN - this.headFilled, chunk.length - at);
        chunk.copy(this.head, this.headFilled, at, at + take);
        this.headFilled += take;
        at += take;
      }
      if (this.headFilled === FCGI_HEADER_LEN) at = this.startRecord(chunk, at);
    }
  }

  private startRecord(chunk: Buffer, at: number): number {
    this.headFilled = 0;
    const version = this.head[0];
    if (version !== FCGI_VERSION_1) {
      this.failure = new ProtocolError(`not a FastCGI record (version byte ${version})`);
      throw this.failure;
    }
    const length = this.head.readUInt16BE(4);
    this.paddingLeft = this.head[6]!;
    if (chunk.length - at >= length) {
      // The common case: the whole content is in this chunk, hand out a slice.
      this.emit(chunk.subarray(at, at + length));
      return at + length;
    }
    this.content = Buffer.allocUnsafe(length);
    this.contentFilled = 0;
    return at;
  }

  private fillContent(chunk: Buffer, at: number): number {
    const content = this.content!;
    const take = Math.min(content.length - this.contentFilled, chunk.length - at);
    chunk.copy(content, this.contentFilled, at, at + take);
    this.contentFilled += take;
    if (this.contentFilled === content.length) {
      this.content = undefined;
      this.emit(content);
    }
    return at + take;
  }

  private emit(content: Buffer): void {
    this.onRecord({ type: this.head[1]!, requestId: this.head.readUInt16BE(2), content });
  }
}
