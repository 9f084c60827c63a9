import type { Context, Middleware, Next } from 'koa';
import { respondWithError } from '../http/error-page.js';
import { requestState } from '../http/request-state.js';
import { parseSecdownloadLink } from '../secdownload/link.js';
import { LOG_SOURCE, type SecdownloadOptions, secdownloadConfig } from '../secdownload/options.js';
import { createSigner, signedPath } from '../secdownload/sign.js';

/**
 * mod_secdownload's verdict without its file: the front server sends the file, so a link
 * whose time and MAC are good goes on (to the authorizer's "allowed"). The refusals are the
 * server's: 410 for an expired link, whatever its MAC; 403 for a wrong MAC. A path that is not
 * shaped like a link is not secdownload's business here either.
 */
export function secdownloadCheck(options: SecdownloadOptions): Middleware {
  const config = secdownloadConfig(options);
  const signer = createSigner(config.secret, config.algorithm);
  const { uriPrefix, timeout, pathSegments, hashQuerystr, log } = config;

  return function secdownloadCheckMiddleware(ctx: Context, next: Next) {
    const state = requestState(ctx);
    if (!state.path.startsWith(uriPrefix)) return next();
    const link = parseSecdownloadLink(state.path, uriPrefix.length, signer.macLength);
    if (!link) return next();
    const now = Math.floor(config.now() / 1000);
    if (Math.abs(now - link.timestamp) > timeout) {
      log.info(LOG_SOURCE, `link expired (410): ${state.path}`);
      respondWithError(ctx, 410);
      return Promise.resolve();
    }
    const signed = signedPath(link.relPath, pathSegments, hashQuerystr ? state.query : '');
    if (!signer.verify(link.mac, link.timestampHex, signed)) {
      log.info(LOG_SOURCE, `mac invalid (403): ${state.path}`);
      respondWithError(ctx, 403);
      return Promise.resolve();
    }
    return next();
  };
}
