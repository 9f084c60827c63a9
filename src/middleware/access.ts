import type { Context, Middleware } from 'koa';
import { respondWithError } from '../http/error-page.js';
import { forgetOnComeback, requestState } from '../http/request-state.js';

/**
 * url.access-deny / url.access-allow (spec 5.1) as Koa middleware.
 *
 * lighttpd checks the same lists twice: on uri.path as the request arrives (check #1), and
 * again once the file step has cut off PATH_INFO and appended the index file (check #2), so
 * `/config.inc/` and `/sub/` cannot slip past a rule that `/config.inc` and
 * `/sub/index.html` would meet. Here, check #1 runs where this middleware is mounted; check #2
 * needs the file, which only the stage that resolves it knows. So the middleware leaves its
 * rule on the request, and `resolveRequestFile` (static files, and the FastCGI bridge through
 * it) calls `deniedAfterResolve` on the script path it found. Mounted once in front of
 * `staticFiles`, a rule gets both checks; `phase` lets the lighttpd.conf front end split them.
 */
export interface AccessRule {
  /** Suffixes of uri.path to refuse (`""` refuses everything). Ignored when `allow` is non-empty. */
  deny?: readonly string[];
  /** When non-empty, only paths ending in one of these are served; `deny` is then ignored. */
  allow?: readonly string[];
  /** server.force-lowercase-filenames: compare suffixes without regard to case. */
  caseInsensitive?: boolean;
}

export interface AccessDenyOptions extends AccessRule {
  /**
   * The rule applies only when this holds (a lighttpd.conf condition around the lists). It is
   * evaluated once per request, when the middleware runs, and the answer holds for check #2 as
   * well: lighttpd caches condition results per request too.
   */
  when?: (ctx: Context) => boolean;
  /**
   * Instead of fixed lists: the rule for this request, or undefined for none (the lighttpd.conf
   * front end passes the effective lists of the blocks that matched). Replaces deny, allow,
   * caseInsensitive and when.
   */
  ruleFor?: (ctx: Context) => AccessRule | undefined;
  /** 'uri': check #1 only; 'physical': check #2 only; 'both' (default). */
  phase?: 'uri' | 'physical' | 'both';
}

const RULES = Symbol.for('koa-lighty.access-rules');
// After a rewrite the front end runs the access stages again, with the new URL's rules.
forgetOnComeback(RULES);

export function accessDeny(options: AccessDenyOptions): Middleware {
  const { when } = options;
  const fixed: AccessRule = {
    deny: options.deny ? [...options.deny] : undefined,
    allow: options.allow ? [...options.allow] : undefined,
    caseInsensitive: options.caseInsensitive,
  };
  const ruleFor = options.ruleFor ?? ((ctx: Context) => (!when || when(ctx) ? fixed : undefined));
  const phase = options.phase ?? 'both';
  return async function accessDenyMiddleware(ctx, next) {
    const path = requestState(ctx).path;
    const rule = ruleFor(ctx);
    if (rule && phase !== 'physical' && isDenied(path, rule)) return respondWithError(ctx, 403);
    if (rule && phase !== 'uri') rulesOf(ctx).push(rule);
    await next();
  };
}

/**
 * Check #2: whether any rule left on this request refuses `scriptPath` (uri.path without
 * PATH_INFO, with the index file appended for a directory).
 */
export function deniedAfterResolve(ctx: Context, scriptPath: string): boolean {
  const rules = (ctx.state as Record<symbol, AccessRule[] | undefined>)[RULES];
  return rules?.some((rule) => isDenied(scriptPath, rule)) ?? false;
}

/** lighttpd's mod_access_check: byte-wise suffix compare, the allow list taking precedence. */
export function isDenied(path: string, rule: AccessRule): boolean {
  const fold = rule.caseInsensitive ? (s: string) => s.toLowerCase() : (s: string) => s;
  const subject = fold(path);
  const endsWithAny = (suffixes: readonly string[]) => suffixes.some((s) => subject.endsWith(fold(s)));
  if (rule.allow && rule.allow.length > 0) return !endsWithAny(rule.allow);
  return rule.deny !== undefined && endsWithAny(rule.deny);
}

function rulesOf(ctx: Context): AccessRule[] {
  const state = ctx.state as Record<symbol, AccessRule[] | undefined>;
  state[RULES] ??= [];
  return state[RULES];
}
