import type { Context, Middleware } from 'koa';
import { unauthorized } from '../auth/answers.js';
import { type AuthBackend, type BackendName, fileBackend } from '../auth/backends.js';
import { AuthCache } from '../auth/cache.js';
import { parseAlgorithms } from '../auth/digest-algorithm.js';
import { allowsUser, parseRequire, type RequireRule } from '../auth/require.js';
import { toByteString } from '../config/facts.js';
import { requestState } from '../http/request-state.js';
import { defaultLogger, type Logger } from '../log.js';
import { OptionError } from '../option-error.js';
import { checkBasic } from './auth-basic.js';
import { checkDigest } from './auth-digest.js';

/**
 * lighttpd 1.4.69's mod_auth with mod_authn_file, as Koa middleware: paths protected by HTTP
 * Basic or Digest authentication against a user file, or by a user some earlier stage already
 * established (`extern`).
 *
 * The first rule whose `path` is a prefix of the request's path (uri.path: decoded and
 * normalised, as every stage sees it) decides, as lighttpd's first matching auth.require
 * entry does. A request without valid credentials is answered here: 401 with the challenge
 * (`WWW-Authenticate`), 400 for credentials that cannot be parsed, 500 when the rule's method
 * needs what the backend lacks (Digest over htpasswd). A request that passes gets REMOTE_USER
 * and AUTH_TYPE (`Basic`, `Digest`) for the backend's environment (PHP's $_SERVER), and
 * continues.
 *
 * The user file is read again whenever it changes; passwords and digests are compared in
 * constant time; no password, nor the base64 carrying one, is ever written to the log.
 */
export type AuthMethod = 'basic' | 'digest' | 'extern';

export interface AuthRule {
  /** The uri.path prefix the rule protects; '' protects everything. */
  path: string;
  method: AuthMethod;
  /** Shown by the browser; part of every Digest hash. */
  realm: string;
  /**
   * Who may enter: `valid-user` (default), or `user=alice|user=bob`. (`group=` and `host=`
   * are accepted, as lighttpd accepts them, but never match a user of a file backend.)
   */
  require?: string;
  /**
   * Digest: `MD5` (default), `SHA-256`, `SHA-512-256`, or several joined by `|` (each one
   * offered). With an htdigest file, Basic checks against the digest of this algorithm.
   */
  algorithm?: string;
  /** Digest: nonces carry a hash with this secret, and only such nonces are accepted. */
  nonceSecret?: string;
  /** Digest (RFC 7616 userhash): the client sends H(user:realm) instead of the name. */
  userhash?: boolean;
}

export interface AuthOptions {
  rules: readonly AuthRule[];
  /** Where users and passwords come from (auth.backend). */
  backend?: BackendName;
  /** The backend's user file (auth.backend.<name>.userfile). */
  userFile?: string;
  /** Remember successful logins (auth.cache): `true` for 600 s, or `{ maxAge: seconds }`. */
  cache?: boolean | { maxAge?: number };
  /**
   * auth.extern-authn: a request whose REMOTE_USER an earlier stage set (and the rule
   * allows) passes without credentials.
   */
  externAuthn?: boolean;
  /** Compare paths without regard to ASCII case (server.force-lowercase-filenames). */
  caseInsensitive?: boolean;
  log?: Logger;
  /**
   * Hold back the answer to wrong credentials until the next full second (default true), as
   * lighttpd's "auth.delay-invalid-creds" does: password guessing gets slow.
   */
  delayInvalidCredentials?: boolean;
  /** Seconds since the epoch (for nonces); tests may fix it. */
  now?: () => number;
}

/** A rule ready for requests: byte strings, parsed `require` and algorithm flags. */
export interface CompiledRule {
  readonly path: string;
  readonly method: AuthMethod;
  /** latin1 byte string (the UTF-8 of the text), as sent and hashed. */
  readonly realm: string;
  readonly require: RequireRule;
  readonly algorithms: number;
  readonly nonceSecret?: string;
  readonly userhash: boolean;
}

/** What the scheme checks share. */
export interface AuthContext {
  backend?: AuthBackend;
  cache?: AuthCache;
  log: Logger;
  now: () => number;
  delayInvalid: boolean;
}

const METHODS = new Set<string>(['basic', 'digest', 'extern']);
const CONTROL = /[\x00-\x1f\x7f]/;

export function authRequire(options: AuthOptions): Middleware {
  const rules = options.rules.map((rule, i) => compileRule(rule, i));
  const log = options.log ?? defaultLogger;
  if (options.backend !== undefined && !['plain', 'htpasswd', 'htdigest'].includes(options.backend))
    throw new OptionError('ERR_AUTH_BACKEND', 'backend', `auth.backend not supported: ${options.backend}`);
  const context: AuthContext = {
    backend: options.backend ? fileBackend(options.backend, options.userFile || undefined, log) : undefined,
    cache: options.cache ? new AuthCache(cacheMaxAge(options.cache)) : undefined,
    log,
    now: options.now ?? (() => Math.floor(Date.now() / 1000)),
    delayInvalid: options.delayInvalidCredentials ?? true,
  };
  const fold = options.caseInsensitive
    ? (s: string) => s.replace(/[A-Z]+/g, (c) => c.toLowerCase())
    : undefined;
  const prefixes = rules.map((rule) => (fold ? fold(rule.path) : rule.path));

  return async function authMiddleware(ctx: Context, next) {
    const state = requestState(ctx);
    const path = fold ? fold(state.path) : state.path;
    const at = prefixes.findIndex((prefix) => path.startsWith(prefix));
    if (at < 0) return next();
    const rule = rules[at]!;
    if (options.externAuthn && state.remoteUser !== undefined && allowsUser(rule.require, state.remoteUser))
      return next();
    const passed =
      rule.method === 'basic'
        ? await checkBasic(ctx, rule, context)
        : rule.method === 'digest'
          ? await checkDigest(ctx, rule, context)
          : extern(ctx, rule);
    if (passed) return next();
  };
}

export interface BasicAuthOptions {
  realm: string;
  backend: BackendName;
  userFile: string;
  /** `valid-user` (default) or `user=alice|user=bob`. */
  require?: string;
  /** With an htdigest file: the algorithm of its digests (default MD5). */
  algorithm?: string;
  cache?: AuthOptions['cache'];
  delayInvalidCredentials?: boolean;
  log?: Logger;
}

/** HTTP Basic authentication for every request that reaches it. */
export function basicAuth(options: BasicAuthOptions): Middleware {
  const { realm, require, algorithm, backend, userFile, cache, log } = options;
  if (!userFile) throw new OptionError('ERR_AUTH_USERFILE', 'userFile', 'a user file is required');
  return authRequire({
    rules: [{ path: '', method: 'basic', realm, require, algorithm }],
    backend,
    userFile,
    cache,
    log,
  });
}

export interface DigestAuthOptions {
  realm: string;
  /** `plain` or `htdigest`: an htpasswd file holds no digest. */
  backend: Exclude<BackendName, 'htpasswd'>;
  userFile: string;
  require?: string;
  algorithm?: string;
  nonceSecret?: string;
  userhash?: boolean;
  cache?: AuthOptions['cache'];
  delayInvalidCredentials?: boolean;
  log?: Logger;
}

/** HTTP Digest authentication (RFC 7616, qop=auth) for every request that reaches it. */
export function digestAuth(options: DigestAuthOptions): Middleware {
  const { realm, require, algorithm, nonceSecret, userhash, backend, userFile, cache, log } = options;
  if ((backend as string) === 'htpasswd')
    throw new OptionError(
      'ERR_AUTH_BACKEND',
      'backend',
      'an htpasswd file holds no digest: use plain or htdigest',
    );
  if (!userFile) throw new OptionError('ERR_AUTH_USERFILE', 'userFile', 'a user file is required');
  return authRequire({
    rules: [{ path: '', method: 'digest', realm, require, algorithm, nonceSecret, userhash }],
    backend,
    userFile,
    cache,
    log,
  });
}

/** `extern`: some earlier stage (TLS client certificates, a proxy in front) named the user. */
function extern(ctx: Context, rule: CompiledRule): boolean {
  const user = requestState(ctx).remoteUser;
  if (user !== undefined && allowsUser(rule.require, user)) return true;
  unauthorized(ctx, undefined);
  return false;
}

function compileRule(rule: AuthRule, i: number): CompiledRule {
  const where = `rules[${i}]`;
  const fail = (reason: string) => new OptionError('ERR_AUTH_RULE', 'rules', `${where}: ${reason}`);
  if (typeof rule.path !== 'string') throw fail('the path must be a string');
  if (!METHODS.has(rule.method))
    throw fail(`unknown method ${JSON.stringify(rule.method)} (e.g. "basic", "digest" or "extern")`);
  if (typeof rule.realm !== 'string') throw fail('the realm field is missing');
  // It goes into a header between quotes: a line break there would split the header.
  if (CONTROL.test(rule.realm)) throw fail('the realm must not contain control characters');
  const require = parseRequire(rule.require ?? 'valid-user');
  if (typeof require === 'string') throw fail(`error parsing the require field: ${require}`);
  const algorithms = parseAlgorithms(rule.algorithm ?? '');
  if (algorithms === undefined) throw fail(`invalid algorithm ${JSON.stringify(rule.algorithm)}`);
  return {
    path: rule.path,
    method: rule.method,
    realm: toByteString(rule.realm),
    require: {
      ...require,
      users: require.users.map(toByteString),
    },
    algorithms,
    nonceSecret: rule.nonceSecret === undefined ? undefined : toByteString(rule.nonceSecret),
    userhash: rule.userhash === true,
  };
}

function cacheMaxAge(cache: true | { maxAge?: number }): number {
  const maxAge = cache === true ? undefined : cache.maxAge;
  return maxAge === undefined || !Number.isFinite(maxAge) ? 600 : maxAge;
}
