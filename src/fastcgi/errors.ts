/**
 * One error class per way a FastCGI exchange can fail, each carrying the HTTP status the
 * middleware answers with when nothing has been sent to the client yet (after that, the only
 * honest answer is to close the client connection). Modelled on undici's core/errors.js: the
 * class says what happened, `code` is stable for logs and tests.
 */
export abstract class FastCgiError extends Error {
  abstract readonly status: number;
  abstract readonly code: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** connect() was refused or the unix socket is missing: the host is disabled for disable-time. */
export class ConnectFailed extends FastCgiError {
  readonly status = 503;
  readonly code = 'FCGI_CONNECT_FAILED';
}

/** connect() did not complete within connect-timeout. */
export class ConnectTimeout extends FastCgiError {
  readonly status = 504;
  readonly code = 'FCGI_CONNECT_TIMEOUT';
}

/** Every connection the backend can serve stayed busy for longer than the queue timeout. */
export class QueueTimeout extends FastCgiError {
  readonly status = 503;
  readonly code = 'FCGI_QUEUE_TIMEOUT';
}

/** The backend sent nothing for read-timeout seconds while we waited for it. */
export class ReadTimeout extends FastCgiError {
  readonly status = 504;
  readonly code = 'FCGI_READ_TIMEOUT';
}

/** The backend stopped reading the request body for write-timeout seconds. */
export class WriteTimeout extends FastCgiError {
  readonly status = 504;
  readonly code = 'FCGI_WRITE_TIMEOUT';
}

/** Bytes that are not FastCGI, a record we did not expect, a wrong request id. */
export class ProtocolError extends FastCgiError {
  readonly status = 502;
  readonly code = 'FCGI_PROTOCOL_ERROR';
}

/** The CGI header block from the backend is unusable (spec 3.4: 502). */
export class BadCgiResponse extends FastCgiError {
  readonly status = 502;
  readonly code = 'FCGI_BAD_CGI_RESPONSE';
}

/**
 * The backend closed (or ended the request) before a complete header block: php-cgi crashed
 * or was killed. lighttpd answers 500 here (spec 3.4, seen); koa-lighty answers 502 Bad
 * Gateway, as for malformed input, because the fault is the backend's, not the server's
 * (a deliberate difference, listed in the README).
 */
export class ClosedBeforeHeaders extends FastCgiError {
  readonly status: number = 502;
  readonly code: string = 'FCGI_CLOSED_BEFORE_HEADERS';
}

/**
 * The connection closed before a single byte of the response came back. On a kept
 * connection this is php-cgi's PHP_FCGI_MAX_REQUESTS at work, and the pool retries once on
 * a fresh connection; `bodyReplayable` says whether that is still possible.
 */
export class ClosedBeforeResponse extends ClosedBeforeHeaders {
  override readonly code: string = 'FCGI_CLOSED_BEFORE_RESPONSE';
}

/** The backend went away after the headers: the response body is cut short. */
export class ClosedMidResponse extends FastCgiError {
  readonly status = 502;
  readonly code = 'FCGI_CLOSED_MID_RESPONSE';
}

/** END_REQUEST with a protocol status other than REQUEST_COMPLETE (overloaded, cannot multiplex…). */
export class RequestRejected extends FastCgiError {
  readonly status: number;
  readonly code = 'FCGI_REQUEST_REJECTED';

  constructor(message: string, status: number) {
    super(message);
    this.status = status;
  }
}

/** Our side gave up on the exchange (client went away, or the caller aborted). */
export class RequestAborted extends FastCgiError {
  // Nobody is left to read the answer; 499 is nginx's "client closed request", for logs.
  readonly status = 499;
  readonly code = 'FCGI_REQUEST_ABORTED';
}

/** The request body stream failed while we were sending it. */
export class RequestBodyFailed extends FastCgiError {
  readonly status = 400;
  readonly code = 'FCGI_REQUEST_BODY_FAILED';
}

/** The pool (or the whole backend) was closed while the request waited or ran. */
export class PoolClosed extends FastCgiError {
  readonly status = 503;
  readonly code = 'FCGI_POOL_CLOSED';
}

/** No host for this key has a usable process (all disabled or down): spec 3.2, 503. */
export class NoBackendAvailable extends FastCgiError {
  readonly status = 503;
  readonly code = 'FCGI_NO_BACKEND_AVAILABLE';
}
