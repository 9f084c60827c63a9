import type { Context, Middleware } from 'koa';
import { requestState } from '../http/request-state.js';
import { OptionError } from '../option-error.js';
import { FastCgiRoutes } from './fastcgi-route.js';
import { applyRewrite, compileRewriteRules, isRegularFile, rewriteList } from './rewrite-rules.js';

/**
 * mod_rewrite as the lighttpd.conf front end runs it: one stage per hook. The `url` stage
 * (url.rewrite-once, -final, url.rewrite, -repeat) stands where lighttpd's uri_raw handler
 * does, before every other module; the `file` stage (url.rewrite-if-not-file,
 * -repeat-if-not-file) at its physical handler, in server.modules order among mod_alias and
 * the like. After a rewrite the stage calls `restart` instead of going on: the front end then
 * handles the request again from the start with the conditions evaluated for the new URL, as
 * lighttpd does after its HANDLER_COMEBACK.
 */
export interface RewriteStageOptions {
  phase: 'url' | 'file';
  /** The once rules, then the repeat rules, of the one scope whose lists apply. */
  once: Array<[string, string]>;
  repeat: Array<[string, string]>;
  /** That scope's block id (0: global): `%n` are its condition's captures. */
  block: number;
  /** Where the lists are configured, for the endless-loop message. */
  where: string;
  /** The file stage: server.document-root and server.force-lowercase-filenames. */
  documentRoot?: string;
  forceLowercaseFilenames?: boolean;
  /**
   * The file stage: fastcgi.server's keys (with check-local of their first host) and
   * fastcgi.map-extensions, when mod_fastcgi is loaded. A check-local-off key takes a matching
   * request at its URL, before lighttpd's physical step, and mod_rewrite then leaves it alone.
   */
  fastcgiKeys?: Array<{ key: string; checkLocal: boolean }>;
  mapExtensions?: Array<[string, string]>;
}

export function rewriteStage(options: RewriteStageOptions, restart: (ctx: Context) => void): Middleware {
  // lighttpd names the block in its loop message, and suggests url.rewrite-once, for block rules only.
  const where = options.block === 0 ? undefined : options.where;
  const list = rewriteList(compiled(options.once, 'once'), compiled(options.repeat, 'repeat'), where);
  const captures = (ctx: Context) => requestState(ctx).conditionCaptures?.(options.block);
  if (options.phase === 'url') {
    return function rewriteUrl(ctx, next) {
      if (applyRewrite(ctx, list, captures(ctx))) return restart(ctx);
      return next();
    };
  }
  const documentRoot = options.documentRoot ?? '/';
  const lowercase = options.forceLowercaseFilenames === true;
  const fastcgi = new FastCgiRoutes(
    (options.fastcgiKeys ?? []).map(({ key, checkLocal }) => ({
      key,
      checkLocal,
      fixRootScriptname: false,
      target: key,
    })),
    options.mapExtensions,
  );
  return async function rewriteIfNotFile(ctx, next) {
    const claimed = fastcgi.matchUriPath(requestState(ctx).path);
    if ((claimed && 'claimed' in claimed) || (await isRegularFile(ctx, documentRoot, lowercase)))
      return next();
    if (applyRewrite(ctx, list, captures(ctx))) return restart(ctx);
    return next();
  };
}

function compiled(rules: Array<[string, string]>, option: 'once' | 'repeat') {
  try {
    return compileRewriteRules(rules);
  } catch (error) {
    throw new OptionError('ERR_REWRITE_RULE', option, (error as Error).message);
  }
}
