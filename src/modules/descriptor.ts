/**
 * What koa-lighty knows of one lighttpd module: the hook it runs in, the config keys it reads
 * (with their types), how those become its stage's options, and how the stage is built. The
 * table of all descriptors (modules/table.ts) is the only place that lists modules: the
 * pipeline order, the supported options and modules, and the start-up checks follow from it.
 */
import type { Context, Middleware } from 'koa';
import type { OptionReader } from '../config/option-reader.js';
import type { MimeTypes } from '../http/mime.js';
import type { Logger } from '../log.js';
import type { StatusRegistry } from '../status/registry.js';

/**
 * lighttpd's request hooks (plugin.h), in the order a request meets them. Request-side hooks
 * run on the way in; response-side hooks act on the answer, so their stages wrap the
 * request-side ones (Koa's onion: outermost first).
 */
export const REQUEST_HOOKS = ['uri_raw', 'uri_clean', 'docroot', 'physical', 'subrequest_start'] as const;
export const RESPONSE_HOOKS = ['request_done', 'response_start'] as const;
export type RequestHook = (typeof REQUEST_HOOKS)[number];
export type ResponseHook = (typeof RESPONSE_HOOKS)[number];
export type Hook = RequestHook | ResponseHook;

/** How a key's value is written in lighttpd.conf (documentation, and the checks of `-t`). */
export type OptionType = 'string' | 'integer' | 'boolean' | 'list' | 'pairs' | 'array';

/** What a stage factory gets besides its options: shared resources of the running server. */
export interface BuildContext {
  log: Logger;
  /** mimetype.assign of the same option set. */
  mimeTypes: MimeTypes;
  /** This process is worker `index` of `count` (--workers). */
  worker?: { index: number; count: number };
  /** The server's status figures: stages with counters of their own hand them over here. */
  status?: StatusRegistry;
  /** One instance per (kind, key): pools, stores and spawned backends are shared by pipelines. */
  shared<T>(kind: string, key: unknown, make: () => T): T;
  /** Runs before the server says it is listening (spawned php-cgi must accept first). */
  onReady(start: () => Promise<void>): void;
  /** Runs on shutdown. */
  onClose(stop: () => Promise<void>): void;
  /**
   * Serves the request again for its current target (the error handler's URI): the config
   * conditions evaluated anew, then the request-side stages of the options that hold.
   */
  dispatch?: (ctx: Context) => Promise<void>;
}

export interface ModuleDescriptor<Options = unknown> {
  /** As in server.modules: `mod_access`. */
  readonly name: string;
  readonly hook: Hook;
  /** lighttpd loads it whether server.modules lists it or not (mod_indexfile, mod_staticfile). */
  readonly builtIn?: boolean;
  /**
   * Not a module but lighttpd's core (server.* keys, always there): server.modules cannot
   * name it, so it is never in SUPPORTED_MODULES and the list does not move it.
   */
  readonly core?: boolean;
  /** The config keys it reads. Keys of the core (server.*) are listed in modules/core.ts. */
  readonly keys: Readonly<Record<string, OptionType>>;
  /**
   * The stage's options for one effective option set, or undefined when the module has
   * nothing to do there (no rules, no prefix). Errors are ConfigErrors at the option's line.
   */
  read(r: OptionReader): Options | undefined;
  /** The stage. Without it the module only contributes keys (mod_indexfile). */
  stage?(options: Options, build: BuildContext): Middleware;
  /**
   * Building the stage starts nothing (no process, connection or file): loadConfig builds it
   * for every block, so that its option errors and warnings are reported at start, by `-t` too.
   */
  readonly pure?: boolean;
  /**
   * What this option set asks of the module that koa-lighty does not honour, one line each
   * with the file and line: said at start (and by `-t`), never silently dropped.
   */
  warnings?(r: OptionReader): string[];
  /**
   * Keys whose `regex => target` pairs may refer to `%0`…`%9`, the captures of the condition of
   * the block they are set in (url.redirect, url.rewrite-*): the front end keeps those.
   */
  readonly conditionCaptureKeys?: readonly string[];
  /** Stage option name → config key, for an OptionError the factory throws. */
  readonly optionKeys?: Readonly<Record<string, string>>;
}

/** For the table: keeps each descriptor's own Options type while listing them together. */
export function module<Options>(descriptor: ModuleDescriptor<Options>): ModuleDescriptor<unknown> {
  return descriptor as ModuleDescriptor<unknown>;
}

const RANK: Record<Hook, number> = Object.fromEntries(
  [...RESPONSE_HOOKS, ...REQUEST_HOOKS].map((hook, i) => [hook, i]),
) as Record<Hook, number>;

/**
 * The loaded modules in pipeline order: response-side hooks first (they wrap), then the
 * request-side hooks in lighttpd's order; within one hook, server.modules order decides, as
 * lighttpd calls the plugins of a hook in the order they were loaded. Built-in modules that
 * server.modules does not list come last in their hook, as lighttpd appends them; the core's
 * own stages too, in table order.
 */
export function pipelineOrder(
  table: readonly ModuleDescriptor[],
  loaded: readonly string[],
): ModuleDescriptor[] {
  const position = (m: ModuleDescriptor) => {
    const at = m.core ? -1 : loaded.indexOf(m.name);
    return at >= 0 ? at : loaded.length + table.indexOf(m);
  };
  return table
    .filter((m) => m.builtIn || m.core || loaded.includes(m.name))
    .sort((a, b) => RANK[a.hook] - RANK[b.hook] || position(a) - position(b));
}
