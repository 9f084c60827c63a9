import { existsSync, readFileSync } from 'node:fs';
import type { BackendName } from '../auth/backends.js';
import { isDesCrypt, unsupportedFormat } from '../auth/htpasswd-hash.js';
import { parseRequire } from '../auth/require.js';
import { splitLines, withoutCr } from '../auth/user-file.js';
import type { OptionReader } from '../config/option-reader.js';
import { ConfigArray } from '../config/values.js';
import { type AuthOptions, type AuthRule, authRequire } from '../middleware/auth.js';
import { module } from './descriptor.js';
import { USERFILE_KEYS } from './mod-authn-file.js';

/**
 * mod_auth (with mod_authn_file's user files): auth.require, auth.backend, auth.cache and
 * auth.extern-authn, in every block, as lighttpd 1.4.69 reads them. lighttpd runs it in
 * uri_clean, so server.modules decides whether it or mod_access, mod_redirect… answers first.
 *
 * Safety over compatibility where they part: auth.require with mod_auth not loaded refuses
 * to start (lighttpd ignores the key, with a warning, and serves the path to everyone), and so
 * does a backend koa-lighty does not have (ldap, pam, gssapi, sasl, dbi).
 */
const FILE_BACKENDS = new Set<string>(['plain', 'htpasswd', 'htdigest']);
const OTHER_BACKENDS: Record<string, string> = {
  ldap: 'mod_authn_ldap',
  pam: 'mod_authn_pam',
  gssapi: 'mod_authn_gssapi',
  sasl: 'mod_authn_sasl',
  dbi: 'mod_authn_dbi',
};
const RULE_FIELDS = new Set([
  'method',
  'realm',
  'require',
  'algorithm',
  'nonce_secret',
  'nonce-secret',
  'userhash',
]);
const TRUE_WORDS = new Set(['enable', 'enabled', 'true', '1']);

export const modAuth = module<AuthOptions>({
  name: 'mod_auth',
  hook: 'uri_clean',
  keys: {
    'auth.require': 'array',
    'auth.backend': 'string',
    'auth.extern-authn': 'boolean',
    'auth.cache': 'array',
  },
  pure: true,
  optionKeys: { rules: 'auth.require', backend: 'auth.backend', cache: 'auth.cache' },
  read(r) {
    const backend = readBackend(r);
    if (!r.has('auth.require')) return undefined;
    if (!r.list('server.modules').includes('mod_auth'))
      throw r.error(
        'auth.require',
        'mod_auth is not in server.modules: refusing to start rather than serve what auth.require protects to everyone (lighttpd would ignore it)',
      );
    const userFileKey = backend ? USERFILE_KEYS[backend] : undefined;
    return {
      rules: readRules(r),
      backend,
      userFile: userFileKey ? r.string(userFileKey) || undefined : undefined,
      cache: readCache(r),
      externAuthn: r.bool('auth.extern-authn', false),
      caseInsensitive: r.bool('server.force-lowercase-filenames', false),
    };
  },
  stage: (options, { log }) => authRequire({ ...options, log }),
  warnings(r) {
    if (!r.has('auth.require')) return [];
    const warnings: string[] = [];
    const at = r.where('auth.require');
    for (const rule of readRules(r)) {
      const require = parseRequire(rule.require ?? '');
      if (typeof require === 'string') continue;
      if (require.hosts.length > 0)
        warnings.push(
          `${at.file}:${at.line}: auth.require: warning parsing auth.require 'require' field: 'host' not implemented; field value: ${rule.require}`,
        );
      if (require.groups.length > 0)
        warnings.push(
          `${at.file}:${at.line}: auth.require: ${rule.require}: group= never matches: the file backends have no groups (as in lighttpd)`,
        );
    }
    const backend = readBackend(r);
    if (backend && !r.list('server.modules').includes('mod_authn_file'))
      warnings.push(
        `${at.file}:${at.line}: please add "mod_authn_file" to server.modules list in lighttpd.conf (auth.backend = "${backend}" loads it here, as in lighttpd 1.4.69)`,
      );
    if (backend === 'htpasswd') warnings.push(...htpasswdWarnings(r));
    return warnings;
  },
});

function readBackend(r: OptionReader): BackendName | undefined {
  const name = r.string('auth.backend');
  if (!name) return undefined;
  if (FILE_BACKENDS.has(name)) return name as BackendName;
  const other = OTHER_BACKENDS[name];
  if (other)
    throw r.error(
      'auth.backend',
      `${other} is not supported by koa-lighty: refusing to start rather than serve what it protects without it`,
    );
  throw r.error('auth.backend', `auth.backend not supported: ${name}`);
}

/** `( "/path" => ( "method" => "…", "realm" => "…", "require" => "…", … ), … )` */
function readRules(r: OptionReader): AuthRule[] {
  const value = r.raw('auth.require');
  const shape =
    'unexpected value for auth.require; expected auth.require = ( "urlpath" => ( "option" => "value" ) )';
  if (!(value instanceof ConfigArray) || !value.isKeyed) throw r.error('auth.require', shape);
  return value.entries.map((entry) => {
    if (!(entry.value instanceof ConfigArray) || !entry.value.isKeyed) throw r.error('auth.require', shape);
    const fields = new Map<string, string>();
    for (const field of entry.value.entries) {
      if (!RULE_FIELDS.has(field.key!))
        throw r.error(
          'auth.require',
          `the field is unknown in: auth.require = ( "${entry.key}" => ( ..., -> "${field.key}" <- => "..." ) )`,
        );
      if (typeof field.value !== 'string')
        throw r.error(
          'auth.require',
          `a string was expected for: auth.require = ( "${entry.key}" => ( ..., -> "${field.key}" <- => "..." ) )`,
        );
      fields.set(field.key!, field.value);
    }
    const method = fields.get('method');
    if (!method?.trim())
      throw r.error(
        'auth.require',
        `the method field is missing or blank in: auth.require = ( "${entry.key}" => ( ..., "method" => "..." ) )`,
      );
    if (!['basic', 'digest', 'extern'].includes(method))
      throw r.error(
        'auth.require',
        `unknown method ${method} (e.g. "basic", "digest" or "extern") in auth.require = ( "${entry.key}" => ( ..., "method" => "...") )`,
      );
    const realm = fields.get('realm');
    if (realm === undefined)
      throw r.error(
        'auth.require',
        `the realm field is missing in: auth.require = ( "${entry.key}" => ( ..., "realm" => "..." ) )`,
      );
    const require = fields.get('require');
    if (!require?.trim())
      throw r.error(
        'auth.require',
        `the require field is missing or blank in: auth.require = ( "${entry.key}" => ( ..., "require" => "..." ) )`,
      );
    const parsed = parseRequire(require);
    if (typeof parsed === 'string')
      throw r.error('auth.require', `error parsing auth.require 'require' field: ${parsed}`);
    const algorithm = fields.get('algorithm');
    const userhash = fields.get('userhash');
    return {
      path: entry.key!,
      method: method as AuthRule['method'],
      realm,
      require,
      algorithm: algorithm?.trim() ? algorithm : undefined,
      nonceSecret: fields.get('nonce-secret') ?? fields.get('nonce_secret'),
      userhash: userhash !== undefined && TRUE_WORDS.has(userhash.toLowerCase()),
    };
  });
}

/** auth.cache = ( "max-age" => "600" ): on, for max-age seconds (600 when missing or not a number). */
function readCache(r: OptionReader): AuthOptions['cache'] {
  const value = r.raw('auth.cache');
  if (value === undefined) return undefined;
  if (!(value instanceof ConfigArray)) throw r.error('auth.cache', 'expected ( "max-age" => "600" )');
  const maxAge = value.get('max-age');
  const seconds =
    typeof maxAge === 'number'
      ? maxAge
      : typeof maxAge === 'string' && /^\s*[+-]?\d+$/.test(maxAge)
        ? Number.parseInt(maxAge, 10)
        : 600;
  return { maxAge: Math.abs(seconds) <= 2 ** 31 - 1 ? seconds : 600 };
}

/**
 * What koa-lighty tells at start about an htpasswd file: a missing file, hashes it cannot
 * check (those users are refused), and DES hashes (lighttpd accepts them as koa-lighty does,
 * but only the first 8 characters of such a password count).
 */
function htpasswdWarnings(r: OptionReader): string[] {
  const key = USERFILE_KEYS.htpasswd;
  const path = r.string(key);
  if (!path) return [];
  const at = r.where(key);
  const where = `${at.file}:${at.line}: ${key}`;
  if (!existsSync(path)) return [`${where}: ${path} does not exist: every login is refused until it does`];
  let content: string;
  try {
    content = readFileSync(path).toString('latin1');
  } catch (error) {
    return [
      `${where}: ${path} cannot be read (${(error as NodeJS.ErrnoException).code}): every login is refused`,
    ];
  }
  const des: string[] = [];
  const unsupported: string[] = [];
  for (const { text } of splitLines(content)) {
    const colon = text.indexOf(':');
    if (colon < 0) continue;
    const user = text.slice(0, colon);
    const hash = withoutCr(text.slice(colon + 1));
    const format = unsupportedFormat(hash);
    if (format) unsupported.push(`${user} (${format})`);
    else if (isDesCrypt(hash)) des.push(user);
  }
  const warnings: string[] = [];
  if (unsupported.length > 0)
    warnings.push(
      `${where}: koa-lighty cannot check these hashes, so these users are refused: ${unsupported.join(', ')}`,
    );
  if (des.length > 0)
    warnings.push(
      `${where}: DES crypt() hashes count only the first 8 characters of a password (use bcrypt, htpasswd -B): ${des.join(', ')}`,
    );
  return warnings;
}
