import type { Context } from 'koa';
import {
  authorizationHeader,
  badRequest,
  clientAddress,
  hasScheme,
  invalidCredentials,
  misconfigured,
  printable,
  unauthorized,
} from '../auth/answers.js';
import { decodeBase64Like } from '../auth/base64.js';
import { allowsUser } from '../auth/require.js';
import { requestState } from '../http/request-state.js';
import type { AuthContext, CompiledRule } from './auth.js';

/**
 * HTTP Basic (RFC 7617) as lighttpd 1.4.69 checks it (mod_auth_check_basic):
 * - no `Authorization: Basic …` (scheme in any case), or more than 1,363 characters of
 *   base64 (1 KiB decoded): 401 with `WWW-Authenticate: Basic realm="…", charset="UTF-8"`;
 * - base64 that does not decode, or no `:` in it: 400;
 * - an unknown user, a wrong password, or a user `require` does not name: 401, logged with the
 *   user name (never the password), held back until the next full second, and the connection
 *   is closed.
 */
const MAX_BASE64 = 1363;

export async function checkBasic(ctx: Context, rule: CompiledRule, auth: AuthContext): Promise<boolean> {
  const { backend, cache, log } = auth;
  const path = requestState(ctx).path;
  if (!backend?.basic) {
    log.error(
      'mod_auth',
      backend
        ? `auth.require "method" => "basic" invalid (try "digest"?) for ${printable(path)}`
        : `auth.backend not configured for ${printable(path)}`,
    );
    misconfigured(ctx);
    return false;
  }
  const challenge = `Basic realm="${rule.realm}", charset="UTF-8"`;
  const header = authorizationHeader(ctx);
  if (!hasScheme(header, 'Basic ')) return deny(ctx, challenge);
  const encoded = header.slice('Basic '.length);
  if (encoded.length > MAX_BASE64) return deny(ctx, challenge);
  const decoded = decodeBase64Like(encoded);
  if (!decoded) {
    // lighttpd logs the base64 here, which carries the password: not done.
    log.error('mod_auth', 'decoding base64-string failed');
    badRequest(ctx);
    return false;
  }
  const colon = decoded.indexOf(0x3a);
  if (colon < 0) {
    log.error('mod_auth', "missing ':' in the Basic credentials");
    badRequest(ctx);
    return false;
  }
  const user = decoded.subarray(0, colon).toString('latin1');
  const password = decoded.subarray(colon + 1);
  try {
    let ok = cache?.basic(rule, user, password);
    if (ok === undefined) {
      const answer = await backend.basic(user, password, rule.realm, rule.algorithms);
      if (answer.unsupported)
        log.error(
          'mod_authn_file',
          `user ${printable(user)}: the password hash is ${answer.unsupported}, which koa-lighty cannot check: refused`,
        );
      ok = answer.ok && allowsUser(rule.require, user);
      if (ok) cache?.rememberBasic(rule, user, password);
    }
    if (!ok) {
      log.error(
        'mod_auth',
        `password doesn't match for ${printable(path)} username: ${printable(user)} IP: ${clientAddress(ctx)}`,
      );
      await invalidCredentials(ctx, challenge, auth.delayInvalid);
      return false;
    }
  } finally {
    password.fill(0);
  }
  const state = requestState(ctx);
  state.remoteUser = user;
  state.authType = 'Basic';
  return true;
}

function deny(ctx: Context, challenge: string): false {
  unauthorized(ctx, challenge);
  return false;
}
