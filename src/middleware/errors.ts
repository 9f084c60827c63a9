import type { Context, Middleware } from 'koa';
import { reasonPhrase, respondWithError } from '../http/error-page.js';
import { defaultLogger, type Logger } from '../log.js';

/**
 * The outermost stage: whatever goes wrong below becomes lighttpd's error page (spec 1.3) and
 * one line in the error log, never a crash and never a stack trace to the client.
 *
 * - A thrown error with an HTTP status (`status` or `statusCode` in 400-599: BadRequestTarget,
 *   http-errors, ctx.throw) answers with that status.
 * - Anything else answers 500.
 * - A request nobody answered (Koa's default: 404, no body) and a body-less error status set
 *   by a stage get the page too, as lighttpd sends it for every status it decided itself.
 */
export interface LighttpdErrorsOptions {
  log?: Logger;
}

export function lighttpdErrors(options: LighttpdErrorsOptions = {}): Middleware {
  const log = options.log ?? defaultLogger;
  return async function lighttpdErrorsMiddleware(ctx, next) {
    try {
      await next();
    } catch (err) {
      const status = httpStatus(err) ?? 500;
      log.error('errors', describe(ctx, status, err));
      if (ctx.headerSent || !ctx.writable) {
        // Too late for a page: the client gets a cut-off response rather than a wrong one.
        ctx.req.socket.destroy();
        return;
      }
      // A stage that asked for the connection to close (a broken request head) still gets that.
      respondWithError(ctx, status, ['Connection']);
      return finishErrorPage(ctx);
    }
    if (ctx.status >= 400 && ctx.body == null && !ctx.headerSent) {
      respondWithError(ctx, ctx.status);
      return finishErrorPage(ctx);
    }
  };
}

type PageHook = (ctx: Context) => Promise<void> | void;
const pageHooks = new WeakMap<object, PageHook[]>();

/**
 * For a response-side stage between this one and the stages below it that must act on the
 * page made here, as lighttpd's response_start hooks see the error page the core made first
 * (mod_deflate compresses it): the stage lets the error (or the empty error status) pass and
 * asks to be called once the page is there.
 */
export function afterErrorPage(ctx: Context, hook: PageHook): void {
  const hooks = pageHooks.get(ctx.response);
  if (hooks) hooks.push(hook);
  else pageHooks.set(ctx.response, [hook]);
}

async function finishErrorPage(ctx: Context): Promise<void> {
  const hooks = pageHooks.get(ctx.response);
  if (!hooks) return;
  pageHooks.delete(ctx.response);
  // Innermost stage first, as the page travels outwards.
  for (const hook of hooks) await hook(ctx);
}

/** The status an error carries, if it is an HTTP error status. */
export function httpStatus(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { status, statusCode } = err as { status?: unknown; statusCode?: unknown };
  const candidate = typeof status === 'number' ? status : statusCode;
  return typeof candidate === 'number' && candidate >= 400 && candidate <= 599 ? candidate : undefined;
}

/** One line: status, request, what happened (and where, for a bug). */
export function describe(ctx: Context, status: number, err: unknown): string {
  const error = err instanceof Error ? err : new Error(String(err));
  let line = `${status} ${reasonPhrase(status)} for ${ctx.method} ${ctx.url}: ${error.name}: ${error.message}`;
  if (httpStatus(err) === undefined) {
    const where = error.stack?.split('\n').find((frame) => frame.trimStart().startsWith('at '));
    if (where) line += ` (${where.trim()})`;
  }
  return line.replace(/[\r\n]+/g, ' ');
}
