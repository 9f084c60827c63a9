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
    return rules.length > 0 ? rules : undefined;
  },
  stage: (rules) => alias(rules),
});
