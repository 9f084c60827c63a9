/**
 * One request's life on a FastCGI connection: BEGIN_REQUEST and PARAMS out, STDIN streamed
 * out with backpressure, then STDOUT parsed into a CGI header block and a body stream,
 * STDERR to the error log, END_REQUEST to close it. Every way this can end goes through
 * `fail` or `complete`, once; the connection is told whether it can carry another request.
 */
import { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { noteBodyBytes } from '../http/body-garbage.js';
import { CgiHeaderAccumulator } from './cgi-headers.js';
import {
  ClosedBeforeHeaders,
  ClosedBeforeResponse,
  ClosedMidResponse,
  type FastCgiError,
  ProtocolError,
  ReadTimeout,
  RequestAborted,
  RequestRejected,
  WriteTimeout,
} from './errors.js';
import {
  encodeRecordParts,
  encodeRequestHead,
  type FastCgiRecord,
  type NameValue,
  ProtocolStatus,
  RecordType,
  Role,
} from './records.js';
import type { BodySink, RequestBody } from './request-body.js';

export interface ExchangeOptions {
  params: Iterable<NameValue>;
  /** Role.RESPONDER unless given (Role.AUTHORIZER for authorizers). */
  role?: number;
  /** FCGI_KEEP_CONN: ask the backend to keep the connection for the next request (default true). */
  keepConn?: boolean;
  /** Each line the backend writes to FCGI_STDERR (PHP's error_log()), without the newline. */
  onStderr?: (line: string) => void;
  /** Milliseconds without a byte from the backend, once the request is sent, before ReadTimeout; 0 = none. */
  readTimeout?: number;
  /** Milliseconds the backend may refuse request-body bytes before WriteTimeout; 0 = none. */
  writeTimeout?: number;
}

export interface EndRequest {
  appStatus: number;
  protocolStatus: number;
}

export interface FastCgiResponse {
  status: number;
  /** In the backend's order and spelling (Set-Cookie lines stay separate). */
  headers: [name: string, value: string][];
  /** The body, paced by its reader: while it is not read, the backend is not read either. */
  body: Readable;
  /** Settles when the backend ends the request (END_REQUEST) or the exchange fails. */
  ended: Promise<EndRequest>;
}

const BODY_HIGH_WATER_MARK = 64 * 1024;
const MAX_STDERR_LINE = 8 * 1024;

class ResponseBody extends Readable {
  constructor(private readonly exchange: FastCgiExchange) {
    super({ highWaterMark: BODY_HIGH_WATER_MARK });
    // The body can fail before its reader attaches (a bad record right behind the headers,
    // in the same socket chunk). That must not be an uncaught 'error': the failure is also
    // reported through `ended`, and pipeline()/for-await readers still see it.
    this.on('error', () => {});
  }
  override _read(): void {
    this.exchange.onConsumerRead();
  }
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.exchange.onConsumerDestroyed();
    callback(error);
  }
}

/**
 * The answer handed to the caller. Its body stream is made on first use: most answers are
 * small and complete by the time anyone looks (their END_REQUEST came in the same read), and
 * those are taken whole with takeEndedBody() without a stream ever being made for them.
 */
class BackendResponse implements FastCgiResponse {
  constructor(
    readonly status: number,
    readonly headers: [name: string, value: string][],
    readonly ended: Promise<EndRequest>,
    private readonly exchange: FastCgiExchange,
  ) {}

  get body(): Readable {
    return this.exchange.bodyStream();
  }

  takeWhole(limit: number): Buffer | undefined {
    return this.exchange.takeWholeBody(limit);
  }
}

/**
 * The whole body, taken at once, when the backend has already ended it and at most `limit`
 * bytes wait unread (a small answer usually arrives with its END_REQUEST); else undefined,
 * and the body is untouched. Once taken, `response.body` is an empty, ended stream.
 */
export function takeEndedBody(response: FastCgiResponse, limit: number): Buffer | undefined {
  return response instanceof BackendResponse ? response.takeWhole(limit) : undefined;
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A caller that never asks for this outcome must not see an unhandled rejection.
  promise.catch(() => {});
  return { promise, resolve, reject };
}

export class FastCgiExchange {
  /** php-cgi does not multiplex, so every request on a connection can use id 1 (as lighttpd does). */
  readonly requestId = 1;
  private readonly headersDeferred = deferred<FastCgiResponse>();
  private readonly endedDeferred = deferred<EndRequest>();
  /** Resolves with the parsed header block and the body stream; rejects with a FastCgiError. */
  readonly response = this.headersDeferred.promise;
  readonly ended = this.endedDeferred.promise;
  /** Set once the exchange failed; the error the caller saw. */
  error: FastCgiError | undefined;

  private bytesReceived = 0;
  private head = new CgiHeaderAccumulator();
  /** The header block is parsed: STDOUT is body from here on. */
  private headersDone = false;
  /** The body stream, once somebody asked for it (BackendResponse.body). */
  private body: ResponseBody | undefined;
  /** Body bytes that came before anybody asked for the stream. */
  private unclaimed: Buffer[] = [];
  private unclaimedBytes = 0;
  /** END_REQUEST arrived: every byte of the body is in `unclaimed` or the stream. */
  private backendEnded = false;
  private stdinDone = false;
  private finished = false;
  private consumerPaused = false;
  private detachBody: (() => void) | undefined;
  private readTimer: NodeJS.Timeout | undefined;
  private writeTimer: NodeJS.Timeout | undefined;
  private onDrain: (() => void) | undefined;
  private stderrDecoder: StringDecoder | undefined;
  private stderrRest = '';

  constructor(
    private readonly socket: import('node:net').Socket,
    private readonly options: ExchangeOptions,
    private readonly requestBody: RequestBody,
    private readonly onFinished: (reusable: boolean) => void,
  ) {}

  /** Whether any byte of the answer arrived (a closed kept connection shows none). */
  get gotResponseBytes(): boolean {
    return this.bytesReceived > 0;
  }

  start(): void {
    const begin = { role: this.options.role ?? Role.RESPONDER, keepConn: this.options.keepConn ?? true };
    this.socket.cork();
    this.socket.write(encodeRequestHead(this.options.params, this.requestId, begin));
    process.nextTick(() => this.socket.uncork());
    this.detachBody = this.requestBody.start(this.stdinSink());
  }

  /** The client went away (or the caller gave up): the socket is closed, the worker freed. */
  abort(reason = 'request aborted'): void {
    this.fail(new RequestAborted(reason));
  }

  private stdinSink(): BodySink {
    return {
      write: (chunk) => {
        if (this.finished || chunk.length === 0) return true; // an empty STDIN record would end the stream
        const parts = encodeRecordParts(RecordType.STDIN, this.requestId, chunk);
        let ok = true;
        for (const part of parts) ok = this.socket.write(part);
        return ok;
      },
      onDrain: (resume) => {
        this.onDrain = resume;
        this.socket.once('drain', () => this.drained());
        const ms = this.options.writeTimeout ?? 0;
        if (ms > 0 && !this.writeTimer) {
          this.writeTimer = setTimeout(
            () => this.fail(new WriteTimeout(`backend took no request body for ${ms} ms`)),
            ms,
          );
        }
      },
      end: () => {
        if (this.finished) return;
        for (const part of encodeRecordParts(RecordType.STDIN, this.requestId)) this.socket.write(part);
        this.stdinDone = true;
        this.detachBody = undefined;
        this.armReadTimer();
      },
      fail: (error) => this.fail(error),
    };
  }

  private drained(): void {
    clearTimeout(this.writeTimer);
    this.writeTimer = undefined;
    const resume = this.onDrain;
    this.onDrain = undefined;
    if (!this.finished) resume?.();
  }

  /** Raw bytes from the socket, counted before decoding: even a partial record is an answer. */
  noteBytes(count: number): void {
    this.bytesReceived += count;
    this.armReadTimer();
  }

  onRecord(record: FastCgiRecord): void {
    if (this.finished) return;
    switch (record.type) {
      case RecordType.STDOUT:
        this.onStdout(record.content);
        return;
      case RecordType.STDERR:
        this.onStderr(record.content);
        return;
      case RecordType.END_REQUEST:
        this.onEndRequest(record.content);
        return;
      default:
        throw new ProtocolError(`unexpected FastCGI record type ${record.type} in a response`);
    }
  }

  private onStdout(content: Buffer): void {
    if (content.length === 0) return; // end of the STDOUT stream; END_REQUEST follows
    if (this.headersDone) {
      this.pushBody(content);
      return;
    }
    // Throws BadCgiResponse, which the connection turns into a failed exchange.
    const parsed = this.head.push(content);
    if (!parsed) return;
    this.headersDone = true;
    const { status, headers } = parsed.head;
    this.headersDeferred.resolve(new BackendResponse(status, headers, this.ended, this));
    if (parsed.rest.length > 0) this.pushBody(parsed.rest);
  }

  private pushBody(chunk: Buffer): void {
    const body = this.body;
    if (body?.destroyed) return;
    noteBodyBytes(chunk.length);
    let full: boolean;
    if (body) full = !body.push(chunk);
    else {
      this.unclaimed.push(chunk);
      this.unclaimedBytes += chunk.length;
      full = this.unclaimedBytes >= BODY_HIGH_WATER_MARK;
    }
    if (full && !this.consumerPaused) {
      // The reader is slower than the backend (or has not started): stop reading the
      // socket, which stops PHP. The stream's first read resumes it.
      this.consumerPaused = true;
      this.socket.pause();
      clearTimeout(this.readTimer);
      this.readTimer = undefined;
    }
  }

  /** The body as a stream, made on first use with what arrived so far. */
  bodyStream(): Readable {
    if (this.body) return this.body;
    const body = new ResponseBody(this);
    this.body = body;
    const { chunks } = this.takeUnclaimed();
    if (this.error) body.destroy(this.error);
    else {
      for (const chunk of chunks) body.push(chunk);
      if (this.backendEnded) body.push(null);
    }
    return body;
  }

  /** See takeEndedBody(). */
  takeWholeBody(limit: number): Buffer | undefined {
    if (!this.backendEnded || this.error) return undefined;
    const body = this.body;
    if (body) {
      if (body.destroyed || body.readableLength > limit || body.readableFlowing) return undefined;
      return (body.read() as Buffer | null) ?? Buffer.alloc(0);
    }
    if (this.unclaimedBytes > limit) return undefined;
    const { chunks, bytes } = this.takeUnclaimed();
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, bytes);
  }

  private takeUnclaimed(): { chunks: Buffer[]; bytes: number } {
    const taken = { chunks: this.unclaimed, bytes: this.unclaimedBytes };
    this.unclaimed = [];
    this.unclaimedBytes = 0;
    return taken;
  }

  onConsumerRead(): void {
    if (!this.consumerPaused || this.finished) return;
    this.consumerPaused = false;
    this.socket.resume();
    this.armReadTimer();
  }

  onConsumerDestroyed(): void {
    if (!this.finished && !this.error)
      this.fail(new RequestAborted('response body destroyed before the backend finished'));
  }

  private onStderr(content: Buffer): void {
    this.stderrDecoder ??= new StringDecoder('utf8');
    const text = this.stderrRest + this.stderrDecoder.write(content);
    const lines = text.split('\n');
    let rest = lines.pop()!;
    for (const line of lines) this.logStderr(line);
    if (rest.length > MAX_STDERR_LINE) {
      this.logStderr(rest);
      rest = '';
    }
    this.stderrRest = rest;
  }

  private flushStderr(): void {
    if (!this.stderrDecoder) return;
    const rest = this.stderrRest + this.stderrDecoder.end();
    this.stderrRest = '';
    if (rest.length > 0) this.logStderr(rest);
  }

  private logStderr(line: string): void {
    const text = line.endsWith('\r') ? line.slice(0, -1) : line;
    if (text.length > 0) this.options.onStderr?.(text);
  }

  private onEndRequest(content: Buffer): void {
    if (content.length < 8) throw new ProtocolError('short FCGI_END_REQUEST record');
    const end: EndRequest = { appStatus: content.readUInt32BE(0), protocolStatus: content[4]! };
    this.flushStderr();
    const clean = end.protocolStatus === ProtocolStatus.REQUEST_COMPLETE;
    if (!this.headersDone) {
      const error = clean
        ? new ClosedBeforeHeaders('backend ended the request before a complete CGI header block')
        : new RequestRejected(
            `backend refused the request (protocol status ${end.protocolStatus})`,
            end.protocolStatus === ProtocolStatus.UNKNOWN_ROLE ? 502 : 503,
          );
      this.settleFailure(error);
      this.finish(this.stdinDone && (this.options.keepConn ?? true));
      return;
    }
    this.backendEnded = true;
    if (this.body && !this.body.destroyed) this.body.push(null);
    this.endedDeferred.resolve(end);
    // Every STDOUT byte is in the body stream by now, so the socket owes this request
    // nothing more: whether the reader has caught up does not matter to the connection.
    this.finish(clean && this.stdinDone && (this.options.keepConn ?? true));
  }

  onConnectionClosed(cause: Error | undefined): void {
    if (this.finished) return;
    const why = cause ? `: ${cause.message}` : '';
    if (this.bytesReceived === 0)
      this.fail(new ClosedBeforeResponse(`backend closed the connection before answering${why}`));
    else if (!this.headersDone)
      this.fail(
        new ClosedBeforeHeaders(`backend closed the connection before a complete header block${why}`),
      );
    else
      this.fail(new ClosedMidResponse(`backend closed the connection in the middle of the response${why}`));
  }

  onConnectionFailed(error: FastCgiError): void {
    this.fail(error);
  }

  private armReadTimer(): void {
    const ms = this.options.readTimeout ?? 0;
    if (ms <= 0 || !this.stdinDone || this.consumerPaused || this.finished) return;
    if (this.readTimer) this.readTimer.refresh();
    else
      this.readTimer = setTimeout(
        () => this.fail(new ReadTimeout(`no answer from the backend for ${ms} ms`)),
        ms,
      );
  }

  private fail(error: FastCgiError): void {
    if (this.finished) return;
    this.settleFailure(error);
    this.finish(false);
  }

  private settleFailure(error: FastCgiError): void {
    this.error = error;
    this.headersDeferred.reject(error);
    this.endedDeferred.reject(error);
    this.takeUnclaimed(); // dropped: a failed body is never read
    if (this.body && !this.body.destroyed && !this.body.readableEnded) this.body.destroy(error);
  }

  private finish(reusable: boolean): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.readTimer);
    clearTimeout(this.writeTimer);
    this.detachBody?.();
    this.detachBody = undefined;
    // The socket may have been paused for a slow reader; an idle connection must keep
    // listening, or it would not notice the backend closing it.
    if (reusable && this.consumerPaused) this.socket.resume();
    this.onFinished(reusable);
  }
}
