/**
 * The authorizer's Koa app: a request described by the front server (nginx auth_request, or
 * lighttpd's FastCGI authorizer) meets the conf's conditions and only its protection stages
 * (access rules, mod_auth, trigger-before-download, secdownload). A request none of them
 * refuses is allowed: 200, empty. A refused one gets koa-lighty's own answer (403, 410, 401
 * with its challenge, the trigger's 307 with Location), for the front server to pass on.
 * No Server header: the front server's is the one the client sees.
 */
import Koa, { type Context } from 'koa';
import { requestState } from '../http/request-state.js';
import type { Logger } from '../log.js';
import { lighttpdErrors } from '../middleware/errors.js';
import { StageRegistry } from '../modules/pipeline.js';
import { configPipelines, type LoadedConfig, mutedWarnings, serverLogger } from '../server/app.js';
import { AUTHORIZER_MODULES } from './modules.js';

export interface AuthorizerApp {
  app: Koa;
  log: Logger;
  /** Connects what the stages need (nothing is spawned: no backend runs here). */
  ready(): Promise<void>;
  /** Closes the trigger stores. */
  close(): Promise<void>;
}

export function createAuthorizerApp(loaded: LoadedConfig, options: { log?: Logger } = {}): AuthorizerApp {
  const { server } = loaded;
  const log = options.log ?? serverLogger(server);
  // loadConfig said the warnings of building the stages already: say them once.
  const building = mutedWarnings(log);
  const stages = new StageRegistry(building.log, undefined);
  const { selection, buildAll } = configPipelines(loaded, stages, AUTHORIZER_MODULES);
  buildAll();
  building.unmute();

  const app = new Koa();
  app.silent = true;
  app.on('error', (error: Error) => log.error('authorizer', error.message));
  app.use(lighttpdErrors({ log }));
  app.use(selection.middleware);
  app.use(allowed);
  return { app, log, ready: () => stages.ready(), close: () => stages.close() };
}

/**
 * Nothing refused the request. The user mod_auth let in goes along as lighttpd's authorizer
 * variables (lighttpd hands `Variable-*` to the next backend; nginx can read them with
 * auth_request_set).
 */
function allowed(ctx: Context): void {
  ctx.status = 200;
  ctx.body = '';
  ctx.remove('Content-Type');
  const { remoteUser, authType } = requestState(ctx);
  if (remoteUser !== undefined) ctx.set('Variable-REMOTE_USER', remoteUser);
  if (authType !== undefined) ctx.set('Variable-AUTH_TYPE', authType);
}
