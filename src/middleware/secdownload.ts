import type { Context, Middleware, Next } from 'koa';
import { respondWithError } from '../http/error-page.js';
import { OCTET_STREAM } from '../http/mime.js';
import { encodeRelativeUri, resolvePhysical } from '../http/physical.js';
import { type RequestState, requestState } from '../http/request-state.js';
import { serveFile } from '../http/serve-file.js';
import { parseSecdownloadLink } from '../secdownload/link.js';
import {
  LOG_SOURCE,
  type SecdownloadConfig,
  type SecdownloadOptions,
  secdownloadConfig,
} from '../secdownload/options.js';
import { RootConfinement } from '../secdownload/root-confinement.js';
import { createSigner, signedPath } from '../secdownload/sign.js';

export type { SecdownloadOptions } from '../secdownload/options.js';

/**
 * lighttpd's mod_secdownload (spec 2.4): links `<uriPrefix><mac>/<hex timestamp>/<path>` that
 * open a file of `documentRoot` only while the timestamp is within `timeout` seconds of now
 * and the MAC matches. In order:
 *
 * - a path outside the prefix, or one that is not shaped like a link, goes on to `next()`;
 * - an expired link (past or future) is 410 Gone, whatever its MAC: it will never work again;
 * - a wrong MAC is 403;
 * - otherwise the file is sent like a static file (ETag, 304, Range, HEAD), or 404/403/301.
 *
 * The request-target is normalised first (requestState), so the rel-path has no `..` left;
 * a BadRequestTarget (400) thrown there is for the application's error handling.
 */
/** Links answered since start: expired (410), a wrong MAC (403), and checked ones passed on to the file. */
export interface SecdownloadCounts {
  gone: number;
  forbidden: number;
  valid: number;
}

export type SecdownloadMiddleware = Middleware & { readonly counts: Readonly<SecdownloadCounts> };

export function secdownload(options: SecdownloadOptions): SecdownloadMiddleware {
  const config = secdownloadConfig(options);
  const signer = createSigner(config.secret, config.algorithm);
  const confinement = new RootConfinement(config.documentRoot);
  const { uriPrefix, timeout, pathSegments, hashQuerystr, log } = config;

  const counts: SecdownloadCounts = { gone: 0, forbidden: 0, valid: 0 };
  // Not async: a request that is no link passes on without a promise of its own.
  const middleware = function secdownloadMiddleware(ctx: Context, next: Next) {
    const state = requestState(ctx);
    if (!state.path.startsWith(uriPrefix)) return next();
    const link = parseSecdownloadLink(state.path, uriPrefix.length, signer.macLength);
    if (!link) return next();
    return answerLink(ctx, state, link);
  };
  return Object.assign(middleware, { counts });

  async function answerLink(
    ctx: Context,
    state: RequestState,
    link: NonNullable<ReturnType<typeof parseSecdownloadLink>>,
  ): Promise<void> {
    const now = Math.floor(config.now() / 1000);
    if (Math.abs(now - link.timestamp) > timeout) {
      counts.gone++;
      log.info(LOG_SOURCE, `link expired (410): ${state.path}`);
      return respondWithError(ctx, 410);
    }
    const signed = signedPath(link.relPath, pathSegments, hashQuerystr ? state.query : '');
    if (!signer.verify(link.mac, link.timestampHex, signed)) {
      // Never the expected MAC: the log must not hand out working links.
      counts.forbidden++;
      log.info(LOG_SOURCE, `mac invalid (403): ${state.path}`);
      return respondWithError(ctx, 403);
    }
    counts.valid++;
    return sendProtectedFile(ctx, state, link.relPath, config, confinement);
  }
}

/** documentRoot + rel-path, answered as lighttpd's physical step and mod_staticfile would. */
async function sendProtectedFile(
  ctx: Context,
  state: RequestState,
  relPath: string,
  config: SecdownloadConfig,
  confinement: RootConfinement,
): Promise<void> {
  state.docRoot = config.documentRoot;
  const found = await resolvePhysical(config.documentRoot, relPath, state.target, {
    followSymlink: config.followSymlink,
  });
  switch (found.kind) {
    case 'error':
      return respondWithError(ctx, found.status);
    case 'redirect':
      // lighttpd's directory redirect: the whole uri.path (the link, not only the rel-path
      // resolvePhysical saw) and a slash, path-only, no body. The MAC usually no longer fits
      // the new URL, which then gets 403: lighttpd does the same.
      ctx.status = 301;
      ctx.set('Location', `${encodeRelativeUri(state.path)}/${state.query ? `?${state.query}` : ''}`);
      ctx.body = Buffer.alloc(0);
      ctx.remove('Content-Type');
      return;
    case 'directory':
      // No index file and no listing here: nobody handles it.
      return respondWithError(ctx, unhandledStatus(ctx));
  }
  if (!(await confinement.contains(found.info.path))) {
    config.log.warn(LOG_SOURCE, `refused (403), a symlink leads out of the document root: ${state.path}`);
    return respondWithError(ctx, 403);
  }
  state.physical = {
    path: found.info.path,
    info: found.info,
    scriptPath: state.path.slice(0, state.path.length - found.pathInfo.length),
    pathInfo: found.pathInfo,
  };
  if (!STATIC_METHODS.has(ctx.method)) return respondWithError(ctx, unhandledStatus(ctx));
  const type = config.mimeTypes.lookup(found.info.path);
  // With the implicit octet-stream fallback lighttpd sends no ETag or Last-Modified.
  await serveFile(ctx, found.info, { contentType: type ?? OCTET_STREAM, validators: type !== undefined });
}

/** mod_staticfile's methods; lighttpd answers anything else it has no handler for with 501. */
const STATIC_METHODS = new Set(['GET', 'HEAD', 'POST']);

function unhandledStatus(ctx: Context): 403 | 501 {
  return STATIC_METHODS.has(ctx.method) ? 403 : 501;
}
