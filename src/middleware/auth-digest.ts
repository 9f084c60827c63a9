import { timingSafeEqual } from 'node:crypto';
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
import { CHALLENGE_ORDER, digestLength, digestOf, parseAlgorithm, SESS } from '../auth/digest-algorithm.js';
import { checkNonce, makeNonce, NONCE_RENEW_AFTER } from '../auth/digest-nonce.js';
import { decodeUserStar, parseDigestParams } from '../auth/digest-params.js';
import { allowsUser } from '../auth/require.js';
import { requestState } from '../http/request-state.js';
import type { AuthContext, CompiledRule } from './auth.js';

/**
 * HTTP Digest (RFC 7616, qop=auth) as lighttpd 1.4.69 checks it (mod_auth_check_digest), in
 * its order, each refusal as lighttpd answers it:
 * 1. no `Authorization: Digest …`: 401 with one challenge per algorithm of the rule
 *    (`Digest realm="…", charset="UTF-8", algorithm=…, nonce="…", qop="auth"`);
 * 2. a missing field (username xor username*, realm, nonce, uri, response; nc and cnonce with
 *    qop), a bad username*, a response that is not hex of the digest's length, qop=auth-int, or
 *    a `uri` other than the request-target as sent: 400;
 * 3. another realm, or an algorithm the rule does not offer: 401 (a fresh challenge);
 * 4. a nonce older than 10 minutes, from the future, or without a time: 401 with
 *    `stale=true`, so the browser retries without asking the user again;
 * 5. an unknown user or a wrong response: 401, logged with the user name, held back until the
 *    next full second, connection closed; a user `require` does not name: 401.
 * A nonce older than 9 minutes gets `Authentication-Info: nextnonce="…"` with the answer.
 * As in lighttpd, nonce counts are not tracked: a captured header works again for the same
 * URI while its nonce lasts (use HTTPS).
 */
export async function checkDigest(ctx: Context, rule: CompiledRule, auth: AuthContext): Promise<boolean> {
  const { backend, cache, log } = auth;
  const state = requestState(ctx);
  if (!backend?.digest) {
    log.error(
      'mod_auth',
      backend
        ? `auth.require "method" => "digest" invalid (try "basic"?) for ${printable(state.path)}`
        : `auth.backend not configured for ${printable(state.path)}`,
    );
    misconfigured(ctx);
    return false;
  }
  const now = auth.now();
  const challenge = (stale = 0) => digestChallenge(rule, now, stale);
  const header = authorizationHeader(ctx);
  if (!hasScheme(header, 'Digest ')) return deny(ctx, challenge());
  const p = parseDigestParams(header.slice('Digest '.length));

  const complete =
    (p.qop === undefined || (p.nc !== undefined && p.cnonce !== undefined)) &&
    (p.username !== undefined) !== (p['username*'] !== undefined) &&
    p.realm !== undefined &&
    p.nonce !== undefined &&
    p.uri !== undefined &&
    p.response !== undefined;
  if (!complete) return refuse(ctx, auth, 'digest: missing field');
  const userhash = p.userhash?.length === 4;
  let user = p.username;
  if (user === undefined) {
    if (userhash) return refuse(ctx, auth, 'digest: invalid "username*" with "userhash" = true');
    const decoded = decodeUserStar(p['username*']!);
    if ('error' in decoded) return refuse(ctx, auth, decoded.error);
    user = decoded.user;
  }
  const { realm, nonce, uri, response } = p as Required<typeof p>;
  if (realm !== rule.realm) {
    log.error('mod_auth', 'digest: realm mismatch');
    return deny(ctx, challenge());
  }
  const algorithm = parseAlgorithm(p.algorithm ?? '');
  if (algorithm === undefined || !(rule.algorithms & algorithm & ~SESS)) {
    log.error('mod_auth', `digest: (${printable(p.algorithm ?? '')}): invalid`);
    return deny(ctx, challenge());
  }
  if (algorithm & SESS && p.cnonce === undefined)
    return refuse(ctx, auth, `digest: (${printable(p.algorithm ?? '')}): missing field`);
  if (!/^(?:[0-9A-Fa-f]{2})*$/.test(response) || response.length !== digestLength(algorithm) * 2)
    return refuse(ctx, auth, `digest: (${printable(response)}): invalid format`);
  if (p.qop !== undefined && p.qop.toLowerCase() === 'auth-int')
    return refuse(ctx, auth, 'digest: qop=auth-int not supported');
  // The digest covers the request-target the client sent: it cannot be replayed on another.
  if (uri !== state.target)
    return refuse(
      ctx,
      auth,
      `digest: auth failed: uri mismatch (${printable(state.target)} != ${printable(uri)}), IP: ${clientAddress(ctx)}`,
    );

  const fresh = checkNonce(nonce, now, algorithm, rule.nonceSecret);
  if (!fresh.ok) {
    if (fresh.stale) return deny(ctx, challenge(algorithm));
    if (fresh.malformed) return refuse(ctx, auth, 'digest: nonce invalid');
    log.error('mod_auth', 'digest: nonce mismatch');
    return deny(ctx, challenge());
  }

  // userhash names are compared in lower case, as lighttpd does.
  const key = userhash ? user.replace(/[A-Z]+/g, (c) => c.toLowerCase()) : user;
  const cacheKey = `${userhash ? 'h' : 'u'}:${algorithm}:${key}`;
  let secret = cache?.digest(rule, cacheKey);
  if (!secret) {
    secret = await backend.digest({ user: key, realm, algorithm, userhash });
    if (!secret) {
      await invalidCredentials(ctx, challenge(), auth.delayInvalid);
      return false;
    }
    cache?.rememberDigest(rule, cacheKey, secret);
  }

  let ha1 = secret.digest.toString('hex');
  if (algorithm & SESS) ha1 = digestOf(algorithm, ha1, nonce, p.cnonce!).toString('hex');
  const ha2 = digestOf(algorithm, ctx.method, uri).toString('hex');
  const expected = p.qop
    ? digestOf(algorithm, ha1, nonce, p.nc!, p.cnonce!, p.qop, ha2)
    : digestOf(algorithm, ha1, nonce, ha2);
  if (!timingSafeEqual(expected, Buffer.from(response, 'hex'))) {
    log.error(
      'mod_auth',
      `digest: auth failed for ${printable(secret.user)}: wrong password, IP: ${clientAddress(ctx)}`,
    );
    await invalidCredentials(ctx, challenge(), auth.delayInvalid);
    return false;
  }
  if (!allowsUser(rule.require, secret.user)) return deny(ctx, challenge());

  if (fresh.age > NONCE_RENEW_AFTER)
    ctx.set('Authentication-Info', `nextnonce="${makeNonce(now, algorithm, rule.nonceSecret)}"`);
  state.remoteUser = secret.user;
  state.authType = 'Digest';
  return true;
}

/** One WWW-Authenticate line per algorithm offered; a stale answer offers the client's only. */
export function digestChallenge(rule: CompiledRule, now: number, staleAlgorithm = 0): string[] {
  const offered = staleAlgorithm || rule.algorithms;
  const lines: string[] = [];
  for (const [bit, name] of CHALLENGE_ORDER) {
    if (!(offered & bit)) continue;
    let line = `Digest realm="${rule.realm}", charset="UTF-8", algorithm=${name}, nonce="${makeNonce(now, bit, rule.nonceSecret)}", qop="auth"`;
    if (rule.userhash) line += ', userhash=true';
    if (staleAlgorithm) line += ', stale=true';
    lines.push(line);
  }
  return lines;
}

function deny(ctx: Context, challenge: string[]): false {
  unauthorized(ctx, challenge);
  return false;
}

function refuse(ctx: Context, auth: AuthContext, why: string): false {
  auth.log.error('mod_auth', why);
  badRequest(ctx);
  return false;
}
