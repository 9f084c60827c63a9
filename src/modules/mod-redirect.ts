import { redirectRules } from '../config/mapping.js';
import { requestState } from '../http/request-state.js';
import { redirect } from '../middleware/redirect.js';
import { module } from './descriptor.js';

/** mod_redirect: url.redirect, in the same hook as mod_access (so server.modules decides which answers). */
export const modRedirect = module({
  name: 'mod_redirect',
  hook: 'uri_clean',
  keys: { 'url.redirect': 'pairs', 'url.redirect-code': 'integer' },
  pure: true,
  conditionCaptureKeys: ['url.redirect'],
  optionKeys: { rules: 'url.redirect', status: 'url.redirect-code' },
  read(r) {
    const options = redirectRules(r);
    // `%n` are the captures of the condition of the block url.redirect is set in.
    const block = r.where('url.redirect').block ?? 0;
    return options.rules.length > 0 ? { ...options, block } : undefined;
  },
  stage: ({ block, ...options }) =>
    redirect({ ...options, conditionMatch: (ctx) => requestState(ctx).conditionCaptures?.(block) }),
});
