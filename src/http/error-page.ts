import { STATUS_CODES } from 'node:http';
import type { Context } from 'koa';
import { markServerErrorPage } from './response-origin.js';

/** The reason phrase lighttpd sends with a status (its own, whatever a backend wrote). */
export function reasonPhrase(status: number): string {
  return STATUS_CODES[status] ?? 'Unknown';
}

/** lighttpd's built-in error page, byte for byte (spec 1.3). */
export function errorPageBody(status: number): string {
  const title = `${status} ${reasonPhrase(status)}`;
  return (
    '<?xml version="1.0" encoding="iso-8859-1"?>\n' +
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"\n' +
    '         "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n' +
    '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">\n' +
    ' <head>\n' +
    `  <title>${title}</title>\n` +
    ' </head>\n' +
    ' <body>\n' +
    `  <h1>${title}</h1>\n` +
    ' </body>\n' +
    '</html>\n'
  );
}

/**
 * Headers a page replacing this status's answer keeps: lighttpd's http_response_errdoc_init
 * keeps mod_auth's challenge on a 401, whatever page or error handler then answers.
 */
export function errorPageKeeps(status: number): string[] {
  return status === 401 ? ['WWW-Authenticate'] : [];
}

/**
 * Answers with a status the server itself decided, and lighttpd's page for it. Headers a
 * stage set before (say an ETag for a file that then failed) do not belong to this answer.
 */
export function respondWithError(ctx: Context, status: number, keepHeaders: string[] = []): void {
  const kept = [...keepHeaders, ...errorPageKeeps(status)].map(
    (name) => [name, ctx.response.get(name)] as const,
  );
  for (const name of Object.keys(ctx.response.headers)) ctx.response.remove(name);
  for (const [name, value] of kept) if (value) ctx.set(name, value);
  ctx.status = status;
  ctx.set('Content-Type', 'text/html');
  ctx.body = errorPageBody(status);
  markServerErrorPage(ctx);
}
