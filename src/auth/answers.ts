import { setTimeout as sleep } from 'node:timers/promises';
import type { Context } from 'koa';
import { errorPageBody, respondWithError } from '../http/error-page.js';
import { markServerErrorPage } from '../http/response-origin.js';

/**
 * mod_auth's answers: lighttpd's error page with the challenge. A wrong password also ends the
 * connection (lighttpd turns keep-alive off), so guessing costs a new connection each time.
 */
export function unauthorized(ctx: Context, challenge: string | string[] | undefined, close = false): void {
  respondWithError(ctx, 401);
  // The page as bytes: Node writes the head together with a string body in that body's
  // encoding (UTF-8), which would encode a realm's bytes a second time; with a Buffer the
  // head goes out as the byte string it is.
  ctx.body = Buffer.from(errorPageBody(401), 'latin1');
  markServerErrorPage(ctx);
  if (challenge !== undefined) ctx.set('WWW-Authenticate', challenge);
  if (close) ctx.set('Connection', 'close');
}

/**
 * Wrong credentials: lighttpd 1.4.69 holds such an answer back until its next one-second tick
 * (server.feature-flags "auth.delay-invalid-creds", on by default), then closes the connection,
 * so that guessing passwords is slow. Here the answer waits for the next full second too.
 */
export async function invalidCredentials(
  ctx: Context,
  challenge: string | string[],
  delay: boolean,
): Promise<void> {
  if (delay) await sleep(1000 - (Date.now() % 1000));
  unauthorized(ctx, challenge, true);
}

/** A credential lighttpd cannot parse. */
export function badRequest(ctx: Context): void {
  respondWithError(ctx, 400);
}

/** A rule whose backend cannot serve its method (lighttpd: 500 and a log line). */
export function misconfigured(ctx: Context): void {
  respondWithError(ctx, 500);
}

/** Every Authorization line the client sent, joined as lighttpd joins repeated headers. */
export function authorizationHeader(ctx: Context): string | undefined {
  const raw = ctx.req.rawHeaders;
  let joined: string | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2)
    if (raw[i]!.toLowerCase() === 'authorization')
      joined = joined === undefined ? raw[i + 1]! : `${joined}, ${raw[i + 1]}`;
  return joined;
}

/** Whether `header` starts with `scheme` and one space, in any case (buffer_eq_icase_ssn). */
export function hasScheme(header: string | undefined, scheme: 'Basic ' | 'Digest '): header is string {
  return (
    header !== undefined &&
    header.length >= scheme.length &&
    header.slice(0, scheme.length).toLowerCase() === scheme.toLowerCase()
  );
}

/** A user name or other client text for the error log: control characters shown as \xNN. */
export function printable(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** The client's address as lighttpd logs it (no IPv4-mapped prefix). */
export function clientAddress(ctx: Context): string {
  const address = ctx.req.socket.remoteAddress ?? '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
