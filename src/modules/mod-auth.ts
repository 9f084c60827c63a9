import { module } from './descriptor.js';

/**
 * mod_auth: not built yet. A config that protects a path with auth.require must not start
 * and serve that path to everyone, so auth.require refuses to start at its line; the other
 * auth.* keys protect nothing by themselves and are only warned about.
 */
const AUTH_KEYS = {
  'auth.require': 'array',
  'auth.backend': 'string',
  'auth.extern-authn': 'boolean',
  'auth.cache': 'array',
  'auth.backend.plain.userfile': 'string',
  'auth.backend.plain.groupfile': 'string',
  'auth.backend.htpasswd.userfile': 'string',
  'auth.backend.htdigest.userfile': 'string',
} as const;

export const modAuth = module({
  name: 'mod_auth',
  hook: 'uri_clean',
  keys: AUTH_KEYS,
  read(r) {
    if (r.has('auth.require'))
      throw r.error(
        'auth.require',
        'mod_auth is not supported by koa-lighty yet: refusing to start rather than serve what it protects to everyone',
      );
    return undefined;
  },
  warnings(r) {
    return Object.keys(AUTH_KEYS)
      .filter((key) => r.has(key))
      .map((key) => {
        const at = r.where(key);
        return `${at.file}:${at.line}: ${key} is not supported by koa-lighty yet and has no effect`;
      });
  },
});
