import type { Middleware } from 'koa';
import { asciiLowerCase } from '../http/physical.js';
import { requestState } from '../http/request-state.js';
import { OptionError } from '../option-error.js';

/**
 * mod_alias (alias.url): a URL prefix served from another directory, e.g.
 * `alias.url = ( "/javascript/" => "/usr/share/javascript/" )`. The first prefix that matches
 * wins, in config order, as in lighttpd. The file step (static files and the FastCGI bridge's
 * check-local) then looks the rest of the path up in that directory.
 *
 * `caseInsensitive` (server.force-lowercase-filenames) compares the prefix without regard to
 * the case of ASCII letters, as lighttpd does on its lower-cased path.
 */
export function alias(
  rules: ReadonlyArray<readonly [prefix: string, directory: string]>,
  options: { caseInsensitive?: boolean } = {},
): Middleware {
  const checked = rules.map(([prefix, directory]) => {
    if (!prefix.startsWith('/'))
      throw new OptionError('ERR_ALIAS_PREFIX', 'rules', `"${prefix}" must start with /`);
    if (!directory.startsWith('/'))
      throw new OptionError(
        'ERR_ALIAS_DIRECTORY',
        'rules',
        `"${prefix}" => "${directory}" must be an absolute path`,
      );
    return { rule: { prefix, directory }, folded: asciiLowerCase(prefix) };
  });
  const caseless = options.caseInsensitive === true;
  return async function aliasPrefix(ctx, next) {
    const state = requestState(ctx);
    const path = caseless ? asciiLowerCase(state.path) : state.path;
    const match = checked.find(({ rule, folded }) => path.startsWith(caseless ? folded : rule.prefix));
    if (match) state.alias = match.rule;
    await next();
  };
}
