/**
 * From one effective option set to the stages that serve it: every loaded module of the
 * table, in pipeline order, builds its stage from its options, and koa-compose runs them.
 * Stages with equal options (and so their pools, spawned php-cgi and trigger stores) are one
 * instance, shared by every pipeline that needs them.
 */
import type { Context, Middleware } from 'koa';
import compose from 'koa-compose';
import { mimeAssign, type ServerSettings, serverTag } from '../config/mapping.js';
import type { OptionReader } from '../config/option-reader.js';
import { MimeTypes } from '../http/mime.js';
import type { Logger } from '../log.js';
import { serverTag as serverTagStage } from '../middleware/response-filter.js';
import { OptionError } from '../option-error.js';
import type { StatusRegistry } from '../status/registry.js';
import { type BuildContext, type ModuleDescriptor, pipelineOrder, REQUEST_HOOKS } from './descriptor.js';
import { MODULES } from './table.js';

export interface Pipeline {
  /**
   * The response-side stages (access log and the like): they wrap the request side, and alone
   * they serve a request refused before the modules ran.
   */
  outer: Middleware;
  /**
   * The uri_raw stages (mod_rewrite's URL rules): run before the response side is chosen, as
   * a rewrite there changes which blocks apply to the rest of the request. Undefined when
   * there are none.
   */
  raw?: Middleware;
  /** The other request-side stages, in hook order. */
  inner: Middleware;
}

export class StageRegistry {
  readonly #instances = new Map<string, unknown>();
  readonly #starts: Array<() => Promise<void>> = [];
  readonly #stops: Array<() => Promise<void>> = [];

  constructor(
    private readonly log: Logger,
    private readonly worker?: { index: number; count: number },
    /** The server's BuildContext.dispatch (the error handler's pass). */
    private readonly dispatch?: (ctx: Context) => Promise<void>,
    /** The server's status figures (createApp's), for the stages that count. */
    private readonly status?: StatusRegistry,
  ) {}

  shared<T>(kind: string, key: unknown, make: () => T): T {
    const id = `${kind}\0${JSON.stringify(key)}`;
    let instance = this.#instances.get(id) as T | undefined;
    if (instance === undefined) {
      instance = make();
      this.#instances.set(id, instance);
    }
    return instance;
  }

  /**
   * The pipeline of the loaded modules for these options. The core's own stage comes first:
   * server.tag set in a block gives this pipeline's responses the block's Server header.
   */
  pipeline(r: OptionReader, server: ServerSettings, table: readonly ModuleDescriptor[] = MODULES): Pipeline {
    const build = this.#context(r);
    const outer: Middleware[] = [];
    const raw: Middleware[] = [];
    const inner: Middleware[] = [];
    const tag = serverTag(r);
    const tagStage = this.shared('server-tag', tag, () => serverTagStage(tag));
    if (tag !== server.tag) outer.push(tagStage);
    // An error handler's answer carries the Server header of its own URI's blocks (lighttpd's
    // config at response time is the handler's), even when that is the global tag.
    inner.push(tagStage);
    for (const descriptor of pipelineOrder(table, server.modules)) {
      const stage = buildStage(descriptor, r, build);
      if (!stage) continue;
      if (descriptor.hook === 'uri_raw') raw.push(stage);
      else if ((REQUEST_HOOKS as readonly string[]).includes(descriptor.hook)) inner.push(stage);
      else outer.push(stage);
    }
    return { outer: compose(outer), raw: raw.length > 0 ? compose(raw) : undefined, inner: compose(inner) };
  }

  /** Spawns what the stages spawn (php-cgi) and waits until it accepts connections. */
  async ready(): Promise<void> {
    await Promise.all(this.#starts.map((start) => start()));
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.#stops.map((stop) => stop()));
  }

  #context(r: OptionReader): BuildContext {
    const assign = mimeAssign(r);
    return {
      log: this.log,
      mimeTypes: this.shared('mime', assign, () => new MimeTypes(assign)),
      worker: this.worker,
      shared: (kind, key, make) => this.shared(kind, key, make),
      onReady: (start) => this.#starts.push(start),
      onClose: (stop) => this.#stops.push(stop),
      dispatch: this.dispatch,
      status: this.status,
    };
  }
}

/**
 * One module's stage for these options, shared with every other pipeline whose options for
 * the module are equal. An OptionError of its factory becomes a ConfigError at the line of
 * the config key behind the option.
 */
export function buildStage(
  descriptor: ModuleDescriptor,
  r: OptionReader,
  build: BuildContext,
): Middleware | undefined {
  const options = descriptor.read(r);
  if (options === undefined || !descriptor.stage) return undefined;
  const make = descriptor.stage;
  try {
    // The MIME rules are part of what a stage is (static files, PHP's send-file answer).
    return build.shared(`stage:${descriptor.name}`, [options, mimeAssign(r)], () => make(options, build));
  } catch (error) {
    if (!(error instanceof OptionError)) throw error;
    const key = descriptor.optionKeys?.[error.option] ?? Object.keys(descriptor.keys)[0]!;
    throw r.error(key, error.reason);
  }
}
