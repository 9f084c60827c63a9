import type { Context, Middleware } from 'koa';
import { type RequestState, requestState } from '../http/request-state.js';
import { OptionError } from '../option-error.js';

/**
 * mod_expire: tells clients how long they may cache an answer, from a rule picked by URL-path
 * prefix or, failing that, by Content-Type prefix. It acts once the answer is decided (Koa's
 * way of being lighttpd's response_start hook) and only where lighttpd 1.4.69 does (read and
 * seen on it):
 *  - a 200, 204 or 206 to GET, HEAD or QUERY (not a 304, not an error page);
 *  - an answer without its own Cache-Control (PHP's, say); an Expires of PHP's does not count;
 *  - HTTP/1.1 gets `Cache-Control: max-age=N` and no Expires; HTTP/1.0 gets only `Expires`
 *    (replacing one PHP sent), as Cache-Control takes precedence over Expires in HTTP/1.1;
 *  - never less than now: a rule whose time has passed gives max-age=0.
 * "modification" counts from the mtime of the file that answered (the script, for PHP output),
 * as found by the file step (resolveRequestFile); where there is none, the rule is skipped,
 * as lighttpd skips it when the physical path cannot be stat'ed.
 */
export type ExpireRules =
  | Readonly<Record<string, string>>
  | ReadonlyArray<readonly [prefix: string, expression: string]>;

export interface ExpiresOptions {
  /**
   * URL-path prefix → expression (`"access plus 1 hours"`), in order: the first prefix of the
   * decoded path wins; `""` matches every path.
   */
  url?: ExpireRules;
  /**
   * Content-Type prefix → expression, used when no `url` prefix matched: the first prefix of
   * the answer's Content-Type wins (`"image/"`; a trailing `*` is ignored, so `"image/*"` is
   * the same); `""` is every answer, with or without a Content-Type.
   */
  mimetypes?: ExpireRules;
}

/** When an expression says the answer expires: `seconds` after the request or the file's mtime. */
export interface ExpireRule {
  base: 'access' | 'modification';
  seconds: number;
}

const STATUSES = new Set([200, 204, 206]);
const METHODS = new Set(['GET', 'HEAD', 'QUERY']);

export function expires(options: ExpiresOptions): Middleware {
  const byUrl = compileRules(options.url, 'url', (prefix) => prefix);
  const byType = compileRules(options.mimetypes, 'mimetypes', (prefix) =>
    prefix.endsWith('*') ? prefix.slice(0, -1) : prefix,
  );
  const untyped = byType.find(([prefix]) => prefix === '')?.[1];
  const ruleFor = (ctx: Context): ExpireRule | undefined => {
    const path = stateOf(ctx)?.path;
    if (path !== undefined) for (const [prefix, rule] of byUrl) if (path.startsWith(prefix)) return rule;
    const type = ctx.response.get('Content-Type');
    if (type) for (const [prefix, rule] of byType) if (type.startsWith(prefix)) return rule;
    return untyped;
  };
  return async function expiresMiddleware(ctx, next) {
    await next();
    if (!STATUSES.has(ctx.status) || !METHODS.has(ctx.method) || ctx.response.get('Cache-Control')) return;
    const rule = ruleFor(ctx);
    if (rule) setExpiry(ctx, rule);
  };
}

function setExpiry(ctx: Context, rule: ExpireRule): void {
  const now = Math.floor(Date.now() / 1000);
  let from = now;
  if (rule.base === 'modification') {
    const file = stateOf(ctx)?.physical;
    if (!file) return;
    from = Math.floor(file.info.mtimeMs / 1000);
  }
  const at = Math.max(from + rule.seconds, now);
  if (ctx.req.httpVersion === '1.0') ctx.set('Expires', httpDate(at));
  else ctx.set('Cache-Control', `max-age=${at - now}`);
  // Both are read against Date: it comes from the same clock reading, as in lighttpd, or a
  // second boundary between the two would make the answer live a second more or less.
  if (!ctx.response.get('Date')) ctx.set('Date', httpDate(now));
}

function httpDate(seconds: number): string {
  return new Date(seconds * 1000).toUTCString();
}

/** A target that cannot be normalised matches no URL rule (the Content-Type may still). */
function stateOf(ctx: Context): RequestState | undefined {
  try {
    return requestState(ctx);
  } catch {
    return undefined;
  }
}

function compileRules(
  rules: ExpireRules | undefined,
  option: 'url' | 'mimetypes',
  prefixOf: (key: string) => string,
): Array<[string, ExpireRule]> {
  if (rules === undefined) return [];
  const entries = Array.isArray(rules) ? rules : Object.entries(rules);
  return entries.map(([key, expression]) => {
    const parsed = parseExpireExpression(String(expression));
    if (typeof parsed === 'string') throw new OptionError('ERR_EXPIRE_EXPRESSION', option, parsed);
    return [prefixOf(String(key)), parsed];
  });
}

const UNIT_SECONDS: Readonly<Record<string, number>> = {
  year: 60 * 60 * 24 * 30 * 12,
  month: 60 * 60 * 24 * 30,
  week: 60 * 60 * 24 * 7,
  day: 60 * 60 * 24,
  hour: 60 * 60,
  minute: 60,
  second: 1,
};

/**
 * `<access|now|modification> [plus] (<num> <unit>)+`, read exactly as lighttpd 1.4.69 reads
 * it (seen): single spaces between words, a trailing space allowed, units singular or plural
 * (a month is 30 days, a year 360), each number taken as a C int (so `139 years` wraps round
 * to 28488704 seconds, as lighttpd's multiplication does). The rule, or what is wrong.
 */
export function parseExpireExpression(expression: string): ExpireRule | string {
  if (expression === '') return 'an empty expression';
  const base = /^(access|now|modification) /.exec(expression);
  if (!base) return `"${expression}": it must start with "access", "now" or "modification" and a space`;
  let rest = expression.slice(base[0].length);
  if (rest.startsWith('plus ')) rest = rest.slice(5);
  let seconds = 0;
  do {
    const space = rest.indexOf(' ');
    if (space < 0) return `"${expression}": a number and a unit expected at "${rest}"`;
    const number = strtolAsInt(rest);
    if (rest[number.end] !== ' ') return `"${expression}": a number and a unit expected at "${rest}"`;
    rest = rest.slice(space + 1);
    const wordEnd = rest.includes(' ') ? rest.indexOf(' ') : rest.length;
    const word = rest.slice(0, wordEnd);
    const factor = UNIT_SECONDS[word.endsWith('s') ? word.slice(0, -1) : word];
    if (factor === undefined)
      return `"${expression}": unknown unit "${word}" (years, months, weeks, days, hours, minutes, seconds)`;
    seconds += Math.imul(number.value, factor);
    if (wordEnd === rest.length) break;
    rest = rest.slice(wordEnd + 1);
  } while (rest !== '');
  return { base: base[1] === 'modification' ? 'modification' : 'access', seconds };
}

const LONG_MAX = 2n ** 63n - 1n;
const LONG_MIN = -(2n ** 63n);

/** strtol(s, &end, 10) stored in an int: blanks, a sign, digits; saturated, then cut to 32 bits. */
function strtolAsInt(s: string): { value: number; end: number } {
  const m = /^[ \t\n\v\f\r]*([+-]?\d+)/.exec(s);
  if (!m) return { value: 0, end: 0 };
  let value = BigInt(m[1]!);
  if (value > LONG_MAX) value = LONG_MAX;
  if (value < LONG_MIN) value = LONG_MIN;
  return { value: Number(BigInt.asIntN(32, value)), end: m[0].length };
}
