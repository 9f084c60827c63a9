import { evhost } from '../middleware/evhost.js';
import { module } from './descriptor.js';

/**
 * mod_evhost: the document root from evhost.path-pattern and the parts of the host name
 * (lighttpd's docroot hook). Inactive where the pattern is unset or empty; a pattern with a
 * `%` sequence lighttpd does not know refuses to start, as lighttpd does.
 */
export const modEvhost = module({
  name: 'mod_evhost',
  hook: 'docroot',
  keys: { 'evhost.path-pattern': 'string' },
  pure: true,
  optionKeys: { pathPattern: 'evhost.path-pattern' },
  read(r) {
    const pathPattern = r.string('evhost.path-pattern');
    return pathPattern ? { pathPattern } : undefined;
  },
  stage: (options, { log }) => evhost({ ...options, log }),
});
