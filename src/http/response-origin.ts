import type { Context } from 'koa';

/**
 * Who made the response so far, in lighttpd's terms: the server itself (an error status it
 * decided, with its own page) or a backend (lighttpd's r->handler_module). The error handler
 * needs both: only the server's own errors go to server.error-handler, and a handler's answer
 * keeps its status only when a backend made it (a static handler file is sent with the
 * original error status). Kept per Koa response object, so stages need not share state.
 */
const serverPages = new WeakMap<object, unknown>();
const backendAnswers = new WeakSet<object>();

/** The body just set on ctx is the server's page for its status (respondWithError). */
export function markServerErrorPage(ctx: Context): void {
  serverPages.set(ctx.response, ctx.body);
}

/** A backend's status and headers are now the response's (not yet a server error page). */
export function markBackendAnswer(ctx: Context): void {
  backendAnswers.add(ctx.response);
}

/** The response is the server's own again (the error handler starts over). */
export function forgetResponseOrigin(ctx: Context): void {
  serverPages.delete(ctx.response);
  backendAnswers.delete(ctx.response);
}

/**
 * The status of an error the server itself produced and that is still to be sent: its page
 * (respondWithError), or a 4xx/5xx with no body at all (nobody answered). undefined for
 * anything else: a success, or an error status a backend sent with its own body.
 */
export function serverErrorStatus(ctx: Context): number | undefined {
  if (ctx.headerSent || ctx.status < 400) return undefined;
  const body = ctx.body;
  return body == null || (serverPages.has(ctx.response) && serverPages.get(ctx.response) === body)
    ? ctx.status
    : undefined;
}

/** A backend made this response (and the server did not replace it with an error page since). */
export function isBackendAnswer(ctx: Context): boolean {
  return backendAnswers.has(ctx.response) && serverErrorStatus(ctx) === undefined;
}
