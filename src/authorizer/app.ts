/**
 * The authorizer's Koa app: a request described by the front server (nginx auth_request, or
 * lighttpd's FastCGI authorizer) meets the conf's conditions and only its protection stages
 * (access rules, mod_auth, trigger-before-download, secdownload). A request none of them
 * refuses is allowed: 200, empty. A refused one gets koa-lighty's own answer (403, 410, 401
 * with its challenge, the trigger's 307 with Location), for the front server to pass on.
 * No Server header: the front server's is the one the client sees.
 */
import Koa, { type Context } from 'koa';
import { ConditionCaptures } from '../config/captures.js';
import { requestState } from '../http/request-state.js';
import type { Logger } from '../log.js';
import { lighttpdErrors } from '../middleware/errors.js';
import { usesConditionCaptures } from '../middleware/rule-substitution.js';
import { type Pipeline, StageRegistry } from '../modules/pipeline.js';
import { CONDITION_CAPTURE_KEYS } from '../modules/table.js';
import { type LoadedConfig, lineage, readerFor, serverLogger } from '../server/app.js';
import { selectPipeline } from '../server/select-pipeline.js';
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
  const { config, server } = loaded;
  const log = options.log ?? serverLogger(server);
  // loadConfig said the warnings of building the stages already; building here says them again.
  let built = false;
  const stageLog: Logger = {
    error: (source, message) => log.error(source, message),
    info: (source, message) => log.info(source, message),
    warn: (source, message) => {
      if (built) log.warn(source, message);
    },
  };
  const stages = new StageRegistry(stageLog, undefined);
  const pipelines = new Map<string, Pipeline>();
  const pipelineFor = (ids: number[]) => {
    const key = ids.join(',');
    let pipeline = pipelines.get(key);
    if (!pipeline) {
      pipeline = stages.pipeline(readerFor(config, ids), server, AUTHORIZER_MODULES);
      pipelines.set(key, pipeline);
    }
    return pipeline;
  };
  const selection = selectPipeline({
    config,
    pipelineFor,
    captures: new ConditionCaptures(config, CONDITION_CAPTURE_KEYS, usesConditionCaptures),
    headLimits: { maxRequestFieldSize: server.maxRequestFieldSize },
  });
  // Every block's stages now, so that a bad option stops the start, not a visitor.
  pipelineFor([]);
  for (const block of config.blocks) pipelineFor(lineage(block));
  built = true;

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
