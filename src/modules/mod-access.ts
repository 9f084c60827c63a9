import { accessRule } from '../config/mapping.js';
import { accessDeny } from '../middleware/access.js';
import { module } from './descriptor.js';

/** mod_access: url.access-deny / url.access-allow, checked on the path (and again after the file step). */
export const modAccess = module({
  name: 'mod_access',
  hook: 'uri_clean',
  keys: { 'url.access-deny': 'list', 'url.access-allow': 'list' },
  pure: true,
  read(r) {
    const rule = accessRule(r);
    return rule.deny.length > 0 || rule.allow.length > 0 ? rule : undefined;
  },
  stage: (rule) => accessDeny(rule),
});
