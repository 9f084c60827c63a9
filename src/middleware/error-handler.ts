import { open } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import type { Context, Middleware, Next } from 'koa';
import { errorPageKeeps, respondWithError } from '../http/error-page.js';
import { DEFAULT_MIME_ASSIGN, type MimeAssign, MimeTypes } from '../http/mime.js';
import { BadRequestTarget } from '../http/request-path.js';
import { retarget } from '../http/request-state.js';
import {
  forgetResponseOrigin,
  isBackendAnswer,
  markServerErrorPage,
  serverErrorStatus,
} from '../http/response-origin.js';
import { defaultLogger, type Logger } from '../log.js';
import { OptionError } from '../option-error.js';
import { describe, httpStatus } from './errors.js';

/**
 * lighttpd's answers to the errors the server itself produces (a 403 of url.access-deny, a
 * missing file's 404, a 503 with every backend down, a 400 for a broken request): not an error
 * status a backend sent with its own body. In lighttpd's order (response.c):
 *
 * 1. `handler` (server.error-handler, any 4xx/5xx but 416) or else `handler404`
 *    (server.error-handler-404, only 404 and 403): the request is served again for that URI,
 *    the stages after this one running anew (`dispatch`). The handler sees REQUEST_URI as it
 *    was asked, REDIRECT_URI the handler's URI, REDIRECT_STATUS the error, and the handler's
 *    own query string.
 *    - server.error-handler runs the handler as a GET without the request body (a POST that
 *      404s reaches PHP as GET, CONTENT_LENGTH 0). A backend's answer is sent as it is; a
 *      static handler file is sent with the original error status.
 *    - server.error-handler-404 keeps the method and body (the front-controller pattern: a
 *      POST to a missing URL reaches `/index.php` as a POST) and sends the handler's status:
 *      200 for a static file.
 *    A handler that fails itself (missing, denied, down) gets the original status's page:
 *    never a second handler, never a loop.
 * 2. `errorfilePrefix` (server.errorfile-prefix): `<prefix><status>.html`, when it is a file,
 *    is the body of the server's error page, typed by mimetype.assign (no Content-Type when
 *    nothing matches). Otherwise lighttpd's built-in page stays.
 *
 * Thrown errors count as the server's own: they are logged here, as lighttpdErrors does.
 */
export interface ErrorHandlerOptions {
  /** server.error-handler: the URI (path, optional query) that answers the server's errors. */
  handler?: string;
  /** server.error-handler-404: the URI that answers the server's 404 and 403. */
  handler404?: string;
  /** server.errorfile-prefix: a path prefix; `<prefix>404.html` is the 404 page. */
  errorfilePrefix?: string;
  /**
   * Serves the request again for its new target (required with a handler): the stages that
   * follow this one, e.g. a koa-compose of them. koa-lighty's front end evaluates the
   * config conditions anew for the handler's URI, as lighttpd does.
   */
  dispatch?: (ctx: Context) => Promise<unknown>;
  /** For the errorfile's Content-Type (mimetype.assign); DEFAULT_MIME_ASSIGN when unset. */
  mimeTypes?: MimeTypes | MimeAssign;
  log?: Logger;
}

export function errorHandler(options: ErrorHandlerOptions): Middleware {
  const handler = options.handler || undefined;
  const handler404 = options.handler404 || undefined;
  const prefix = options.errorfilePrefix || undefined;
  const dispatch = options.dispatch;
  if ((handler || handler404) && !dispatch)
    throw new OptionError(
      'ERR_ERROR_HANDLER_DISPATCH',
      'dispatch',
      'a handler URI needs the stages that serve it',
    );
  const mime =
    options.mimeTypes instanceof MimeTypes
      ? options.mimeTypes
      : new MimeTypes(options.mimeTypes ?? DEFAULT_MIME_ASSIGN);
  const log = options.log ?? defaultLogger;

  /** Runs a stage chain; what it throws becomes the server's error page, logged once. */
  async function settle(ctx: Context, run: () => Promise<unknown>): Promise<void> {
    try {
      await run();
    } catch (error) {
      // Too late for any page: lighttpdErrors cuts the connection.
      if (ctx.headerSent || !ctx.writable) throw error;
      const status = httpStatus(error) ?? 500;
      log.error('errors', describe(ctx, status, error));
      respondWithError(ctx, status, ['Connection']);
    }
  }

  /**
   * The handler's pass. Returns whether the connection must close: the request body it did
   * not read is still on the wire (lighttpd closes too), or the handler URI was unusable.
   */
  async function runHandler(ctx: Context, uri: string, status: number, asGet: boolean): Promise<boolean> {
    const unreadBody = asGet && hasUnreadBody(ctx.req);
    // lighttpd cuts ranges once the method is the request's own again: never for a POST.
    const ranged = ctx.method === 'GET' || ctx.method === 'HEAD';
    const pass = async (hidden: readonly string[]) => {
      retarget(ctx, uri, status);
      freshResponse(ctx, status);
      const method = ctx.method;
      if (asGet) ctx.method = 'GET';
      const restore = hideHeaders(ctx.req, hidden);
      try {
        await settle(ctx, () => dispatch!(ctx));
      } finally {
        ctx.method = method;
        restore();
      }
    };
    try {
      await pass(!asGet ? [] : ranged ? BODY_HEADERS : [...BODY_HEADERS, ...RANGE_HEADERS]);
    } catch (error) {
      if (!(error instanceof BadRequestTarget)) throw error;
      // lighttpd parses the handler URI like a request-target: the handler fails with a 400
      // (server.error-handler then sends the original status), and the connection closes.
      log.error('errors', `error handler ${uri}: ${error.message}`);
      freshResponse(ctx, status);
      respondWithError(ctx, asGet ? status : 400);
      return true;
    }
    if (!asGet) {
      // The handler's status is sent, unless the handler failed as the request did.
      const failed = serverErrorStatus(ctx);
      if (failed === 404 || failed === 403) respondWithError(ctx, status);
      return unreadBody;
    }
    if (isBackendAnswer(ctx)) {
      // Offered for the GET the handler saw, not for the request's own method.
      if (!ranged && ctx.response.get('Accept-Ranges') === 'bytes') ctx.remove('Accept-Ranges');
      return unreadBody;
    }
    // A static handler answer gets the original status, and so no Range: lighttpd cuts only
    // a 200. The file is asked for again without the client's Range.
    if (ctx.status === 206 || serverErrorStatus(ctx) === 416) {
      await pass([...BODY_HEADERS, ...RANGE_HEADERS]);
      if (isBackendAnswer(ctx)) return unreadBody;
    }
    if (ctx.status >= 200 && ctx.status <= 299 && serverErrorStatus(ctx) === undefined) {
      ctx.status = status;
      // Ranges are offered for a 200 only.
      ctx.remove('Accept-Ranges');
    } else respondWithError(ctx, status);
    return unreadBody;
  }

  /** server.errorfile-prefix: the file's content replaces lighttpd's page, if it is a file. */
  async function sendErrorFile(ctx: Context, status: number): Promise<void> {
    const path = `${prefix}${status}.html`;
    const content = await readRegularFile(path);
    if (!content) return;
    respondWithError(ctx, status, ['Connection']);
    ctx.body = content;
    const type = mime.lookup(path);
    // Koa would call a Buffer application/octet-stream; lighttpd sends no type then.
    if (type) ctx.set('Content-Type', type);
    else ctx.remove('Content-Type');
    markServerErrorPage(ctx);
  }

  return async function errorHandlerMiddleware(ctx: Context, next: Next) {
    await settle(ctx, next);
    const status = serverErrorStatus(ctx);
    if (status === undefined) return;
    // A 416 is decided after lighttpd's handlers have run: no error handler sees it.
    const uri =
      status === 416 ? undefined : (handler ?? (status === 404 || status === 403 ? handler404 : undefined));
    if (uri) {
      const closeAsked = /\bclose\b/i.test(ctx.response.get('Connection'));
      const close = await runHandler(ctx, uri, status, uri === handler);
      if (close || closeAsked) ctx.set('Connection', 'close');
    }
    const final = prefix ? serverErrorStatus(ctx) : undefined;
    if (final !== undefined) await sendErrorFile(ctx, final);
  };
}

/** The request as server.error-handler's GET sees it: without its body. */
const BODY_HEADERS = ['content-length', 'transfer-encoding'];
const RANGE_HEADERS = ['range', 'if-range'];

/**
 * Hides request headers from the stages until the returned function puts them back. The CGI
 * environment is built from the raw headers, so PHP still sees HTTP_CONTENT_LENGTH (and
 * HTTP_RANGE), as under lighttpd, while CONTENT_LENGTH is 0 and no range is cut.
 */
function hideHeaders(req: IncomingMessage, names: readonly string[]): () => void {
  const headers = req.headers;
  const saved = names.filter((name) => name in headers).map((name) => [name, headers[name]] as const);
  for (const [name] of saved) delete headers[name];
  return () => {
    for (const [name, value] of saved) headers[name] = value;
  };
}

function hasUnreadBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  const declared = length !== undefined ? Number(length) > 0 : req.headers['transfer-encoding'] !== undefined;
  return declared && !req.readableEnded;
}

/**
 * The response as before any stage ran (lighttpd's http_response_errdoc_init): no headers (but
 * a 401's challenge), no body, Koa's implicit 404, so the handler's stages answer as they would
 * a fresh request.
 */
function freshResponse(ctx: Context, status: number): void {
  const kept = errorPageKeeps(status).map((name) => [name, ctx.response.get(name)] as const);
  for (const name of Object.keys(ctx.response.headers)) ctx.response.remove(name);
  for (const [name, value] of kept) if (value) ctx.set(name, value);
  ctx.body = undefined;
  ctx.status = 404;
  // Koa's own flags: a status not yet chosen by anyone (a body set later makes it 200), and
  // no explicit empty body.
  Object.assign(ctx.response, { _explicitStatus: false, _explicitNullBody: false });
  forgetResponseOrigin(ctx);
}

async function readRegularFile(path: string): Promise<Buffer | undefined> {
  let file: Awaited<ReturnType<typeof open>> | undefined;
  try {
    file = await open(path, 'r');
    if (!(await file.stat()).isFile()) return undefined;
    return await file.readFile();
  } catch {
    return undefined;
  } finally {
    await file?.close();
  }
}
