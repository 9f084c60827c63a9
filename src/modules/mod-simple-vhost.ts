import { simpleVhost } from '../middleware/simple-vhost.js';
import { module } from './descriptor.js';

/**
 * mod_simple_vhost: the document root from the host name (lighttpd's docroot hook, after
 * uri_clean and before physical). Inactive where simple-vhost.server-root is unset or empty.
 */
export const modSimpleVhost = module({
  name: 'mod_simple_vhost',
  hook: 'docroot',
  keys: {
    'simple-vhost.server-root': 'string',
    'simple-vhost.default-host': 'string',
    'simple-vhost.document-root': 'string',
    'simple-vhost.debug': 'integer',
  },
  pure: true,
  optionKeys: {
    serverRoot: 'simple-vhost.server-root',
    defaultHost: 'simple-vhost.default-host',
    documentRoot: 'simple-vhost.document-root',
    debug: 'simple-vhost.debug',
  },
  read(r) {
    // lighttpd's short integer: a number, or a string of digits; "enable" is refused at start.
    const debug = r.int('simple-vhost.debug', 0, { min: 0, max: 65535 }) > 0;
    // An empty string is unset, as in lighttpd; a relative server-root is relative to where
    // koa-lighty was started, as lighttpd's is to its working directory.
    const serverRoot = r.string('simple-vhost.server-root');
    if (!serverRoot) return undefined;
    return {
      serverRoot,
      defaultHost: r.string('simple-vhost.default-host') || undefined,
      documentRoot: r.string('simple-vhost.document-root') || undefined,
      debug,
    };
  },
  stage: (options, { log }) => simpleVhost({ ...options, log }),
});
