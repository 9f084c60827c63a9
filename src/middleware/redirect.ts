import type { Middleware } from 'koa';
import { compilePcre } from '../config/pcre.js';
import { requestState } from '../http/request-state.js';
import { OptionError } from '../option-error.js';
import {
  normaliseRuleMatch,
  normaliseRuleTarget,
  safeLocation,
  substitute,
  usesConditionCaptures,
} from './rule-substitution.js';

/**
 * mod_redirect (url.redirect): the first rule whose regex matches the request-target answers
 * with a redirect; `$1`…`$9` in the target are the rule's captures. The subject is lighttpd's
 * normalised but still encoded target (RequestState.encodedTarget: `/a%20b?x=1`, not the
 * decoded uri.path), so a capture keeps its encoding: `%5C`, `%3F`, `%23` and `%20` stay as
 * they are in the Location instead of becoming `\`, `?`, `#` and a space.
 * lighttpd also expands `%1`…`%9` from an enclosing conditional's regex; koa-lighty does not
 * yet (a rule using them is refused at start, not silently mangled).
 */
export interface RedirectRule {
  /**
   * A PCRE pattern as written in lighttpd.conf (matched against the encoded target: `%xx` and
   * non-ASCII in it are normalised like lighttpd does, so `ä` matches `%C3%A4`), or a RegExp
   * (used as it is, against the same encoded target).
   */
  match: string | RegExp;
  /** The Location, with `$n` references (`$$` is `$`, `%%` is `%`). */
  location: string;
}

export interface RedirectOptions {
  rules: RedirectRule[];
  /** url.redirect-code, 301 by default. */
  status?: number;
}

export function redirect(options: RedirectOptions): Middleware {
  const status = options.status ?? 301;
  if (!Number.isInteger(status) || status < 300 || status > 399)
    throw new OptionError('ERR_REDIRECT_STATUS', 'status', `must be a 3xx status, not ${status}`);
  const rules = options.rules.map((rule) => {
    if (usesConditionCaptures(rule.location))
      throw new OptionError(
        'ERR_REDIRECT_CONDITION_CAPTURE',
        'rules',
        `%N references (${rule.location}) are not supported yet`,
      );
    return {
      regex: typeof rule.match === 'string' ? compilePcre(normaliseRuleMatch(rule.match)) : rule.match,
      location: normaliseRuleTarget(rule.location),
    };
  });
  return async function redirectByRule(ctx, next) {
    const subject = requestState(ctx).encodedTarget;
    for (const rule of rules) {
      const m = rule.regex.exec(subject);
      if (!m) continue;
      ctx.status = status;
      ctx.set('Location', safeLocation(substitute(rule.location, m)));
      ctx.body = Buffer.alloc(0);
      ctx.remove('Content-Type'); // lighttpd's redirect has none (Koa would say octet-stream)
      return;
    }
    await next();
  };
}
