/**
 * Per request, the pipeline of the config blocks whose conditions hold. lighttpd evaluates its
 * conditions again whenever mod_rewrite changes the URL (HANDLER_COMEBACK), so this does too:
 * the uri_raw stages (mod_rewrite's URL rules) run before the response side is chosen and,
 * after each rewrite, again for the blocks of the new URL; a rewrite at the file step
 * (url.rewrite-if-not-file) starts the request-side stages over.
 */
import type { Context, Middleware, Next } from 'koa';
import type { ConditionCaptures } from '../config/captures.js';
import { matchingBlocks } from '../config/evaluate.js';
import type { Config } from '../config/model.js';
import { requestState, takeComeback } from '../http/request-state.js';
import { checkRequestHead, type RequestHeadOptions } from '../middleware/request-head.js';
import type { Pipeline } from '../modules/pipeline.js';
import { requestFacts } from './facts.js';

export interface SelectPipelineOptions {
  config: Config;
  /** The (cached) pipeline for a list of matching block ids. */
  pipelineFor: (ids: number[]) => Pipeline;
  captures: ConditionCaptures;
  headLimits: RequestHeadOptions;
}

/** Where the uri_raw stages left a request. */
interface Routed {
  pipeline: Pipeline;
  /** false: one of them answered. */
  passed: boolean;
  thrown?: { error: unknown };
}

export interface Selection {
  /** The app's stage after the request head: selects and runs the request's pipeline. */
  middleware: Middleware;
  /**
   * The error handler's pass for a request retargeted to the handler URI: the conditions and
   * mod_rewrite's URL rules meet the new URL, then the request side of its pipeline runs.
   */
  dispatch(ctx: Context): Promise<void>;
}

export function selectPipeline({
  config,
  pipelineFor,
  captures,
  headLimits,
}: SelectPipelineOptions): Selection {
  const conditional = config.blocks.length > 0;

  /** The pipeline of the blocks that hold for the request as it stands (its URL may be rewritten). */
  const select = (ctx: Context): Pipeline => {
    if (!conditional) return pipelineFor([]);
    const state = requestState(ctx);
    const facts = requestFacts(ctx, state);
    if (captures.used) state.conditionCaptures = (id) => captures.of(id, facts);
    return pipelineFor(matchingBlocks(config, facts, captures.conditionOf));
  };

  const route = async (ctx: Context, first: Pipeline): Promise<Routed> => {
    let pipeline = first;
    try {
      for (;;) {
        if (!pipeline.raw) return { pipeline, passed: true };
        let passed = false;
        await pipeline.raw(ctx, async () => {
          passed = true;
        });
        if (!takeComeback(ctx)) return { pipeline, passed };
        pipeline = select(ctx);
      }
    } catch (error) {
      return { pipeline, passed: false, thrown: { error } };
    }
  };

  const requestSide = async (ctx: Context, first: Pipeline, next: Next) => {
    let pipeline = first;
    for (;;) {
      await pipeline.inner(ctx, next);
      if (!takeComeback(ctx, true)) return;
      const routed = await route(ctx, select(ctx));
      if (routed.thrown) throw routed.thrown.error;
      if (!routed.passed) return;
      pipeline = routed.pipeline;
    }
  };

  // The response side is that of the URL the uri_raw stages leave (lighttpd's follows the
  // final URL; after a rewrite at the file step it stays this one, see README).
  const serve = (ctx: Context, { pipeline, passed, thrown }: Routed, next: Next) => {
    if (thrown) return pipeline.outer(ctx, () => Promise.reject(thrown.error));
    if (!passed) return pipeline.outer(ctx, () => Promise.resolve());
    return pipeline.outer(ctx, () => requestSide(ctx, pipeline, next));
  };

  const middleware: Middleware = function selectedPipeline(ctx, next) {
    // The request head first: the conditions must see the host the request really names. A
    // broken head, or a target that does not normalise, still passes the global pipeline's
    // response-side stages (the access log, the error handler).
    let refused: unknown;
    let answered = false;
    let pipeline: Pipeline | undefined;
    try {
      answered = checkRequestHead(ctx, headLimits);
      if (!answered) pipeline = select(ctx);
    } catch (error) {
      refused = error;
    }
    if (refused) return pipelineFor([]).outer(ctx, () => Promise.reject(refused));
    if (answered || !pipeline) return pipelineFor([]).outer(ctx, () => Promise.resolve());
    if (!pipeline.raw) return serve(ctx, { pipeline, passed: true }, next);
    return route(ctx, pipeline).then((routed) => serve(ctx, routed, next));
  };

  const dispatch = async (ctx: Context): Promise<void> => {
    const routed = await route(ctx, select(ctx));
    if (routed.thrown) throw routed.thrown.error;
    if (!routed.passed) return;
    await requestSide(ctx, routed.pipeline, () => Promise.resolve());
  };

  return { middleware, dispatch };
}
