import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Koa from 'koa';
import { respondWithError } from '../src/http/error-page.js';
import { BadRequestTarget } from '../src/http/request-path.js';
import { memoryLogger } from '../src/log.js';
import { type SecdownloadOptions, secdownload } from '../src/middleware/secdownload.js';
import { serve } from './helpers/http.js';

/** Shared set-up of the secdownload tests: the fixture area and an app around the middleware. */
export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'secdownload');
export const AREA = join(FIXTURES, 'area');
export const CANARY = readFileSync(join(FIXTURES, 'outside', 'canary.txt'));
export const PASSED_THROUGH = 'passed through secdownload to the next middleware';

export const SECRET = 'verysecret';
/** The timestamp of the spec 2.3 vectors, and a clock standing on it. */
export const T = '6b0cf5d4';
export const T_SECONDS = 0x6b0cf5d4;
export const atT = () => T_SECONDS * 1000;

export function areaFile(relPath: string): Buffer {
  return readFileSync(join(AREA, relPath));
}

/**
 * Serves an app as a site would compose it: bad request-targets become lighttpd's 400, the
 * secdownload stage, and a last middleware standing for "whatever comes next" (a 404 marker).
 */
export async function serveSecdownload(options: Partial<SecdownloadOptions> = {}) {
  const log = memoryLogger();
  const app = new Koa();
  const errors: unknown[] = [];
  app.on('error', (err) => errors.push(err));
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      if (!(err instanceof BadRequestTarget)) throw err;
      respondWithError(ctx, 400);
    }
  });
  app.use(
    secdownload({
      secret: SECRET,
      documentRoot: AREA,
      uriPrefix: '/dl/',
      algorithm: 'md5',
      now: atT,
      log,
      ...options,
    }),
  );
  app.use((ctx) => {
    ctx.status = 404;
    ctx.body = PASSED_THROUGH;
  });
  const served = await serve(app);
  return { ...served, log, errors };
}
