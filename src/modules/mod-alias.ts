import { aliasRules } from '../config/mapping.js';
import { alias } from '../middleware/alias.js';
import { module } from './descriptor.js';

/** mod_alias: alias.url moves a URL prefix onto another directory (lighttpd's physical hook). */
export const modAlias = module({
  name: 'mod_alias',
  hook: 'physical',
  keys: { 'alias.url': 'pairs' },
  pure: true,
  optionKeys: { rules: 'alias.url' },
  read(r) {
    const rules = aliasRules(r);
    // server.force-lowercase-filenames: prefixes compare without case, as lighttpd's.
    const caseInsensitive = r.bool('server.force-lowercase-filenames', false);
    return rules.length > 0 ? { rules, caseInsensitive } : undefined;
  },
  stage: ({ rules, caseInsensitive }) => alias(rules, { caseInsensitive }),
});
