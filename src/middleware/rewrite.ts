import type { Context, Middleware } from 'koa';
import { OptionError } from '../option-error.js';
import {
  applyRewrite,
  compileRewriteRules,
  isRegularFile,
  type RewriteRules,
  rewriteList,
} from './rewrite-rules.js';

export type { RewriteRule, RewriteRules } from './rewrite-rules.js';

/**
 * mod_rewrite as a Koa middleware: the request goes on with another target, so what is
 * mounted after it (fastcgi(), staticFiles(), accessDeny(), …) sees the rewritten path and
 * query, while PHP's REQUEST_URI stays what the client asked for (REDIRECT_URI is the new one).
 *
 * ```ts
 * app.use(rewrite({ ifNotFile: [['^/(.*)$', '/index.php/$1']], documentRoot: '/srv/www' }));
 * app.use(php);
 * app.use(staticFiles({ documentRoot: '/srv/www' }));
 * ```
 *
 * Rules match the normalised, still encoded target with its query, first match wins. A
 * `once` rule ends rewriting; after a `repeat` rule the rules run again on the new target
 * (more than 100 rounds: a 500 `RewriteFailed`). `ifNotFile` rules apply only when the path
 * is not a regular file under `documentRoot` (a directory and `/script.php/extra` are not),
 * as lighttpd's url.rewrite-if-not-file. A rule whose target is '' stops the list there.
 */
export interface RewriteOptions {
  /** url.rewrite-once (also url.rewrite-final and url.rewrite). */
  once?: RewriteRules;
  /** url.rewrite-repeat: tried after the `once` rules. */
  repeat?: RewriteRules;
  /** url.rewrite-if-not-file. */
  ifNotFile?: RewriteRules;
  /** url.rewrite-repeat-if-not-file: tried after the `ifNotFile` rules. */
  repeatIfNotFile?: RewriteRules;
  /** server.document-root: where `ifNotFile` looks for the file (required with those rules). */
  documentRoot?: string;
  /** server.force-lowercase-filenames: look the file up in lower case. */
  forceLowercaseFilenames?: boolean;
  /** What `%0`…`%9` stand for in targets (lighttpd: the enclosing condition's regex match). */
  conditionMatch?: (ctx: Context) => ArrayLike<string | undefined> | undefined;
}

export function rewrite(options: RewriteOptions): Middleware {
  const uriList = rewriteList(compiled(options, 'once'), compiled(options, 'repeat'));
  const fileList = rewriteList(compiled(options, 'ifNotFile'), compiled(options, 'repeatIfNotFile'));
  const documentRoot = options.documentRoot;
  if (fileList.rules.length > 0 && !documentRoot)
    throw new OptionError('ERR_REWRITE_DOCUMENT_ROOT', 'documentRoot', 'is needed by the ifNotFile rules');
  const lowercase = options.forceLowercaseFilenames === true;
  return async function rewriteTarget(ctx, next) {
    const captures = options.conditionMatch?.(ctx);
    // lighttpd handles a rewritten request again from the start: the URL rules first, then
    // (at its physical step) the file rules, until neither changes the target.
    for (;;) {
      if (uriList.rules.length > 0 && applyRewrite(ctx, uriList, captures)) continue;
      if (
        fileList.rules.length > 0 &&
        !(await isRegularFile(ctx, documentRoot!, lowercase)) &&
        applyRewrite(ctx, fileList, captures)
      )
        continue;
      break;
    }
    await next();
  };
}

type RuleOption = 'once' | 'repeat' | 'ifNotFile' | 'repeatIfNotFile';

function compiled(options: RewriteOptions, option: RuleOption) {
  try {
    return compileRewriteRules(options[option]);
  } catch (error) {
    throw new OptionError('ERR_REWRITE_RULE', option, (error as Error).message);
  }
}
