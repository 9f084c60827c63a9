import type { BackendName } from '../auth/backends.js';
import { module } from './descriptor.js';

/** The user file of each backend of mod_authn_file; mod_auth reads them (modules/mod-auth.ts). */
export const USERFILE_KEYS: Record<BackendName, string> = {
  plain: 'auth.backend.plain.userfile',
  htpasswd: 'auth.backend.htpasswd.userfile',
  htdigest: 'auth.backend.htdigest.userfile',
};

/**
 * mod_authn_file: the plain, htpasswd and htdigest user files behind auth.backend. Its keys
 * are mod_auth's options; it has no stage of its own. auth.backend.plain.groupfile is read by
 * lighttpd 1.4.69 and used for nothing, so it is accepted here for nothing too.
 */
export const modAuthnFile = module({
  name: 'mod_authn_file',
  hook: 'uri_clean',
  keys: {
    ...Object.fromEntries(Object.values(USERFILE_KEYS).map((key) => [key, 'string' as const])),
    'auth.backend.plain.groupfile': 'string',
  },
  read: () => undefined,
});
