import type { Middleware } from 'koa';
import { requestState } from '../http/request-state.js';

/**
 * mod_alias (alias.url): a URL prefix served from another directory, e.g.
 * `alias.url = ( "/javascript/" => "/usr/share/javascript/" )`. The first prefix that matches
 * wins, in config order, as in lighttpd. The file step (static files and the FastCGI bridge's
 * check-local) then looks the rest of the path up in that directory.
 */
export function alias(rules: ReadonlyArray<readonly [prefix: string, directory: string]>): Middleware {
  const checked = rules.map(([prefix, directory]) => {
    if (!prefix.startsWith('/')) throw new Error(`alias.url: "${prefix}" must start with /`);
    if (!directory.startsWith('/'))
      throw new Error(`alias.url: "${prefix}" => "${directory}" must be an absolute path`);
    return { prefix, directory };
  });
  return async function aliasPrefix(ctx, next) {
    const state = requestState(ctx);
    const match = checked.find((rule) => state.path.startsWith(rule.prefix));
    if (match) state.alias = match;
    await next();
  };
}
