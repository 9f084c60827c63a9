import { redirectRules } from '../config/mapping.js';
import { redirect } from '../middleware/redirect.js';
import { module } from './descriptor.js';

/** mod_redirect: url.redirect, in the same hook as mod_access (so server.modules decides which answers). */
export const modRedirect = module({
  name: 'mod_redirect',
  hook: 'uri_clean',
  keys: { 'url.redirect': 'pairs', 'url.redirect-code': 'integer' },
  pure: true,
  optionKeys: { rules: 'url.redirect', status: 'url.redirect-code' },
  read(r) {
    const options = redirectRules(r);
    return options.rules.length > 0 ? options : undefined;
  },
  stage: (options) => redirect(options),
});
