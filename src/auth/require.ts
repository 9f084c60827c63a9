/**
 * auth.require's `require`: `valid-user`, or `user=a|user=b|group=g|host=h` (lighttpd 1.4.69's
 * mod_auth_require_parse). Names are byte strings compared exactly. lighttpd's file backends
 * never match `group=` (groups exist only for LDAP) nor `host=` (not implemented, warned at
 * start): a rule made of those alone lets nobody in.
 */
export interface RequireRule {
  validUser: boolean;
  users: readonly string[];
  groups: readonly string[];
  hosts: readonly string[];
}

const EXPECTING = '(expecting "valid-user" or "user=a|user=b|group=g|host=h")';

/** The rule, or the reason it is not one (lighttpd refuses to start with it). */
export function parseRequire(text: string): RequireRule | string {
  if (text === 'valid-user') return { validUser: true, users: [], groups: [], hosts: [] };
  const rule = { validUser: false, users: [] as string[], groups: [] as string[], hosts: [] as string[] };
  const parts = text.split('|');
  for (const [i, part] of parts.entries()) {
    // lighttpd stops at a `|` that ends the text (`user=a|`); any other empty part is an error.
    if (part === '' && i > 0 && i === parts.length - 1) break;
    const eq = part.indexOf('=');
    if (eq < 0) return `missing '=' ${EXPECTING}, near: ${part}`;
    const value = part.slice(eq + 1);
    if (value === '') return `missing token after '=' ${EXPECTING}, near: ${part}`;
    const key = part.slice(0, eq);
    if (key === 'user') rule.users.push(value);
    else if (key === 'group') rule.groups.push(value);
    else if (key === 'host') rule.hosts.push(value);
    else if (key === 'valid-user')
      return `valid-user can not be combined with other require rules ${EXPECTING}`;
    else return `invalid/unsupported token ${EXPECTING}, near: ${part}`;
  }
  return rule;
}

/** lighttpd's http_auth_match_rules for a user of the file backends (no group, no host). */
export function allowsUser(rule: RequireRule, user: string): boolean {
  return rule.validUser || rule.users.includes(user);
}
