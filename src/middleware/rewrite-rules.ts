/**
 * mod_rewrite's step (process_rewrite_rules of lighttpd 1.4.69), shared by the rewrite stages:
 * the first rule whose regex matches the encoded request-target replaces it with its
 * substituted target. A rule of a "once" list ends rewriting for the request; a "repeat" rule
 * lets the rules run again on the new target. Every later attempt counts, and the 101st is
 * refused as an endless loop.
 */
import type { Context } from 'koa';
import { fileInfo } from '../http/file-info.js';
import { asciiLowerCase } from '../http/physical.js';
import { type RequestState, requestState, rewriteRequestTarget } from '../http/request-state.js';
import { compileRules, firstMatch, type Rule, substitute, type UrlParts } from './rule-substitution.js';
import { aliasedBase, documentRootPath } from './static.js';

/** One rule: a PCRE pattern as in lighttpd.conf (or a RegExp) and the new target. */
export interface RewriteRule {
  /**
   * Matched against the normalised, still encoded target with its query (`/a%20b?x=1`); a
   * string is PCRE as in lighttpd.conf (`ä` or `%c3%a4` in it match the encoded `%C3%A4`).
   */
  match: string | RegExp;
  /**
   * The new target, starting with `/`: `$1`…`$9` the rule's captures (as they stand,
   * encoded), `%1`…`%9` a condition's, `${qsa}` the query string appended with `?` or `&`,
   * `${url.path}`, `${url.query}`, `${esc:1}` and the like (README, "URL rewriting").
   */
  target: string;
}

export type RewriteRules = ReadonlyArray<RewriteRule | readonly [match: string | RegExp, target: string]>;

/** A compiled list: the "once" rules first, then the "repeat" ones (lighttpd's order in one scope). */
export interface RewriteList {
  rules: Rule[];
  /** Rules before this index end rewriting when they match. */
  repeatFrom: number;
  /** Where the rules were configured, for the loop message. */
  where?: string;
}

/** Compiles one list of rules; throws a plain Error naming the rule that cannot be compiled. */
export function compileRewriteRules(rules: RewriteRules = []): Rule[] {
  return compileRules(rules.map((rule) => ('match' in rule ? rule : { match: rule[0], target: rule[1] })));
}

/** The list lighttpd builds for one scope: its "once" rules, then its "repeat" rules. */
export function rewriteList(once: Rule[], repeat: Rule[], where?: string): RewriteList {
  return { rules: [...once, ...repeat], repeatFrom: once.length, where };
}

/** A 500 with lighttpd's log line: the rules keep rewriting (or a result is no path). */
export class RewriteFailed extends Error {
  override readonly name = 'RewriteFailed';
  readonly status = 500;
}

/** lighttpd aborts a request whose rules ran more than this many times after its first rewrite. */
const MAX_ATTEMPTS = 100;

interface Progress {
  rewritten: boolean;
  finished: boolean;
  attempts: number;
}

const PROGRESS = Symbol.for('koa-lighty.rewrite');

function progressOf(ctx: Context): Progress {
  const held = ctx.state as Record<symbol, Progress | undefined>;
  let progress = held[PROGRESS];
  if (!progress) {
    progress = { rewritten: false, finished: false, attempts: 0 };
    held[PROGRESS] = progress;
  }
  return progress;
}

/**
 * Applies the list once. Returns whether the target was rewritten (the request state then
 * describes the new target; a target that cannot be normalised is a 400 BadRequestTarget).
 */
export function applyRewrite(
  ctx: Context,
  list: RewriteList,
  conditionMatch: ArrayLike<string | undefined> | undefined,
): boolean {
  const progress = progressOf(ctx);
  if (progress.rewritten) {
    if (++progress.attempts > MAX_ATTEMPTS) {
      const hint = list.where
        ? `, perhaps you want to use url.rewrite-once instead of url.rewrite-repeat (${list.where})`
        : '';
      throw new RewriteFailed(`ENDLESS LOOP IN rewrite-rule DETECTED ... aborting request${hint}`);
    }
    if (progress.finished) return false;
  }
  const state = requestState(ctx);
  const found = firstMatch(list.rules, state.encodedTarget);
  if (!found || found.rule.target === '') return false;
  const { text } = substitute(found.rule.target, {
    match: found.match,
    conditionMatch,
    url: urlParts(ctx, state),
  });
  if (!text.startsWith('/'))
    throw new RewriteFailed(
      `mod_rewrite invalid result (not beginning with '/') while processing uri: ${state.encodedTarget}`,
    );
  rewriteRequestTarget(ctx, text);
  progress.rewritten = true;
  if (found.index < list.repeatFrom) progress.finished = true;
  return true;
}

/** What `${url.…}` and `${qsa}` see of the request. */
export function urlParts(ctx: Context, state: RequestState): UrlParts {
  const socket = ctx.req.socket;
  return {
    scheme: 'encrypted' in socket ? 'https' : 'http',
    authority: (ctx.get('Host') || '').toLowerCase(),
    port: socket.localPort ?? 0,
    target: state.encodedTarget,
    query: state.hasQuery ? state.query : undefined,
  };
}

/**
 * What url.rewrite-if-not-file asks (mod_rewrite_physical): is the physical path, the document
 * root (or an alias's directory) plus uri.path, a regular file? A directory is not, and
 * neither is `/index.php/extra` (PATH_INFO is not split off at this point), so both are
 * rewritten, as in lighttpd.
 */
export async function isRegularFile(
  ctx: Context,
  documentRoot: string,
  forceLowercaseFilenames: boolean,
): Promise<boolean> {
  const state = requestState(ctx);
  const base = aliasedBase(state) ?? {
    docRoot: documentRootPath(state.docRoot ?? documentRoot),
    path: state.path,
  };
  const path = base.docRoot + (forceLowercaseFilenames ? asciiLowerCase(base.path) : base.path);
  try {
    return (await fileInfo(path)).isFile;
  } catch {
    return false;
  }
}
