import type { Middleware } from 'koa';
import { compilePcre } from '../config/pcre.js';
import { requestState } from '../http/request-state.js';

/**
 * mod_redirect (url.redirect): the first rule whose regex matches the request-target (path and
 * query, after lighttpd's normalisation) answers with a redirect; `$1`…`$9` in the target are
 * the rule's captures. lighttpd also expands `%1`…`%9` from an enclosing conditional's regex;
 * koa-lighty does not yet (a rule using them is refused at start, not silently mangled).
 */
export interface RedirectRule {
  /** A PCRE pattern as written in lighttpd.conf, or a RegExp. */
  match: string | RegExp;
  /** The Location, with `$n` references. */
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
    throw new Error(`url.redirect-code must be a 3xx status, not ${status}`);
  const rules = options.rules.map((rule) => {
    if (/%[0-9]/.test(rule.location))
      throw new Error(`url.redirect: %N references (${rule.location}) are not supported yet`);
    return {
      regex: typeof rule.match === 'string' ? compilePcre(rule.match) : rule.match,
      location: rule.location,
    };
  });
  return async function redirectByRule(ctx, next) {
    const state = requestState(ctx);
    const subject = state.hasQuery ? `${state.path}?${state.query}` : state.path;
    for (const rule of rules) {
      const m = rule.regex.exec(subject);
      if (!m) continue;
      ctx.status = status;
      ctx.set(
        'Location',
        rule.location.replace(/\$([0-9])/g, (_, n: string) => m[Number(n)] ?? ''),
      );
      ctx.body = Buffer.alloc(0);
      return;
    }
    await next();
  };
}
