import type { Context, Middleware } from 'koa';
import { requestState } from '../http/request-state.js';
import { OptionError } from '../option-error.js';
import { urlParts } from './rewrite-rules.js';
import { compileRules, firstMatch, safeLocation, substitute } from './rule-substitution.js';

/**
 * mod_redirect (url.redirect): the first rule whose regex matches the request-target answers
 * with a redirect; `$1`…`$9` in the target are the rule's captures. The subject is lighttpd's
 * normalised but still encoded target (RequestState.encodedTarget: `/a%20b?x=1`, not the
 * decoded uri.path), so a capture keeps its encoding: `%5C`, `%3F`, `%23` and `%20` stay as
 * they are in the Location instead of becoming `\`, `?`, `#` and a space. `%1`…`%9` are the
 * captures of a condition (`conditionMatch`; in a lighttpd.conf, the `=~` of the block the
 * rules are set in), and `${url.path}`, `${qsa}`, `${esc:1}`… work as in url.rewrite.
 */
export interface RedirectRule {
  /**
   * A PCRE pattern as written in lighttpd.conf (matched against the encoded target: `%xx` and
   * non-ASCII in it are normalised like lighttpd does, so `ä` matches `%C3%A4`), or a RegExp
   * (used as it is, against the same encoded target).
   */
  match: string | RegExp;
  /** The Location, with `$n` and `%n` references (`$$` is `$`, `%%` is `%`). A rule with '' stops the list. */
  location: string;
}

export interface RedirectOptions {
  rules: RedirectRule[];
  /** url.redirect-code, 301 by default. */
  status?: number;
  /** What `%0`…`%9` stand for (lighttpd: the enclosing condition's regex match). */
  conditionMatch?: (ctx: Context) => ArrayLike<string | undefined> | undefined;
}

export function redirect(options: RedirectOptions): Middleware {
  const status = options.status ?? 301;
  if (!Number.isInteger(status) || status < 300 || status > 399)
    throw new OptionError('ERR_REDIRECT_STATUS', 'status', `must be a 3xx status, not ${status}`);
  let rules: ReturnType<typeof compileRules>;
  try {
    rules = compileRules(options.rules.map(({ match, location }) => ({ match, target: location })));
  } catch (error) {
    throw new OptionError('ERR_REDIRECT_RULE', 'rules', (error as Error).message);
  }
  return async function redirectByRule(ctx, next) {
    const state = requestState(ctx);
    const found = firstMatch(rules, state.encodedTarget);
    if (!found || found.rule.target === '') return next();
    const location = substitute(found.rule.target, {
      match: found.match,
      conditionMatch: options.conditionMatch?.(ctx),
      url: urlParts(ctx, state),
    });
    ctx.status = status;
    ctx.set('Location', safeLocation(location));
    ctx.body = Buffer.alloc(0);
    ctx.remove('Content-Type'); // lighttpd's redirect has none (Koa would say octet-stream)
  };
}
