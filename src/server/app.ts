/**
 * The lighttpd.conf front end: a parsed config becomes a Koa app. Per request, the config's
 * conditions are evaluated once (lighttpd caches them per request too) and the set of blocks
 * that hold selects a pipeline of stages built for exactly those options. Pipelines are built
 * on first use and kept; stages with identical options (and so their pools, spawned php-cgi
 * and trigger stores) are shared between pipelines.
 */
import { createWriteStream, existsSync, statSync } from 'node:fs';
import Koa, { type Middleware } from 'koa';
import { backendAddresses } from '../backends/backend.js';
import { ConfigError } from '../config/errors.js';
import { effectiveOptions, effectiveSources, matchingBlocks } from '../config/evaluate.js';
import {
  accessRule,
  aliasRules,
  fastcgiOptions,
  mimeAssign,
  redirectRules,
  type ServerSettings,
  SUPPORTED_MODULES,
  SUPPORTED_OPTIONS,
  secdownloadOptions,
  serverSettings,
  staticOptions,
  triggerOptions,
} from '../config/mapping.js';
import type { Config } from '../config/model.js';
import { OptionReader } from '../config/option-reader.js';
import { parseConfigFile } from '../config/parser.js';
import { compilePcre } from '../config/pcre.js';
import { printConfig } from '../config/print.js';
import { MimeTypes } from '../http/mime.js';
import { requestState } from '../http/request-state.js';
import { defaultLogger, type Logger, memoryLogger, streamLogger } from '../log.js';
import { accessDeny } from '../middleware/access.js';
import { alias } from '../middleware/alias.js';
import { lighttpdErrors } from '../middleware/errors.js';
import { type FastCgiKey, type FastCgiMiddleware, fastcgi } from '../middleware/fastcgi.js';
import { redirect } from '../middleware/redirect.js';
import { stripInternalHeaders } from '../middleware/response-filter.js';
import { secdownload } from '../middleware/secdownload.js';
import { staticFiles } from '../middleware/static.js';
import { triggerBeforeDownload } from '../middleware/trigger.js';
import { fileStore, memcachedStore, memoryStore, type TriggerStore } from '../stores/index.js';
import { accessLog } from './access-log.js';
import { requestFacts } from './facts.js';
import { describeAddress, type ListenAddress } from './listen.js';

const CLIENT_GONE = new Set(['ERR_STREAM_PREMATURE_CLOSE', 'ECONNRESET', 'EPIPE', 'ABORT_ERR']);

export interface LoadedConfig {
  file: string;
  config: Config;
  server: ServerSettings;
  /** One line per option or module koa-lighty does not support yet. */
  warnings: string[];
  print(): unknown;
}

/** Parses and checks a lighttpd.conf: every error names its file and line. */
export function loadConfig(file: string, options: { env?: NodeJS.ProcessEnv } = {}): LoadedConfig {
  const config = parseConfigFile(file, { env: options.env });
  const global = readerFor(config, []);
  const server = serverSettings(global);
  if (!existsSync(server.documentRoot) || !statSync(server.documentRoot).isDirectory()) {
    throw global.error('server.document-root', `${server.documentRoot} is not a directory`);
  }
  // Each block is checked with the options it would see, so a bad value in a rarely matched
  // block is found at start, not by the first visitor who matches it.
  const readers = [global, ...config.blocks.map((block) => readerFor(config, lineage(block)))];
  const warnings = [...unsupported(config, server), ...constructionWarnings(readers, server.modules)];
  return { file, config, server, warnings, print: () => printConfig(config, { omitPredefined: true }) };
}

/**
 * What the stages would warn about when built (md5 without an algorithm, send-file without a
 * docroot), found at load time so that `-t` shows it and a server says it once, not once per
 * worker. Building them here starts nothing: no process, no connection.
 */
function constructionWarnings(readers: OptionReader[], modules: string[]): string[] {
  const heard = memoryLogger();
  for (const r of readers) {
    const o = buildStageOptions(r);
    if (modules.includes('mod_secdownload') && o.secdownload) secdownload({ ...o.secdownload, log: heard });
    if (modules.includes('mod_fastcgi') && o.fastcgi) fastcgi({ ...o.fastcgi, log: heard });
  }
  const lines = heard.lines.filter((line) => line.includes(') warning: '));
  return [...new Set(lines.map((line) => line.replace(/^\((\S+)\) warning: /, '$1: ')))];
}

/** server.errorlog, or stderr. */
export function serverLogger(server: ServerSettings): Logger {
  return server.errorLog ? streamLogger(createWriteStream(server.errorLog, { flags: 'a' })) : defaultLogger;
}

export interface LightyApp {
  app: Koa;
  listen: ListenAddress;
  pidFile?: string;
  user?: string;
  group?: string;
  log: Logger;
  /** Spawns the bin-path programs (php-cgi) and resolves once their sockets listen. */
  ready(): Promise<void>;
  /** Stops spawned php-cgi, closes pools and stores. */
  close(): Promise<void>;
  /** What the demo prints at start. */
  demoLinks(address: ListenAddress): string[];
}

export interface CreateAppOptions {
  log?: Logger;
  /** This process is worker `index` of `count` (--workers): backends are shared, not spawned here. */
  worker?: { index: number; count: number };
}

export function createApp(loaded: LoadedConfig, options: CreateAppOptions = {}): LightyApp {
  const { config, server } = loaded;
  const log = options.log ?? serverLogger(server);
  // Warnings of building the stages were reported by loadConfig already: say them once.
  const building = mutedWarnings(log);
  const stages = new StageRegistry(building.log, options.worker);
  const pipelines = new Map<string, Middleware>();
  const pipelineFor = (ids: number[]) => {
    const key = ids.join(',');
    let pipeline = pipelines.get(key);
    if (!pipeline) {
      pipeline = stages.pipeline(readerFor(config, ids), server.modules);
      pipelines.set(key, pipeline);
    }
    return pipeline;
  };
  // Build the global pipeline and every block's now: start-up spawns all backends.
  pipelineFor([]);
  for (const block of config.blocks) pipelineFor(lineage(block));
  building.unmute();

  const app = new Koa();
  app.silent = true;
  // Errors after the response started (a file that shrank while being sent, a backend cut
  // mid-body) reach Koa's 'error' event, not lighttpdErrors: log them, but not the everyday
  // client that closed its connection early.
  app.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code && CLIENT_GONE.has(error.code)) return;
    log.error('server', error.message);
  });
  app.use(lighttpdErrors({ log }));
  app.use(stripInternalHeaders({ server: server.tag }));
  if (server.accessLog && server.modules.includes('mod_accesslog')) app.use(accessLog(server.accessLog));
  const conditional = config.blocks.length > 0;
  app.use(function selectPipeline(ctx, next) {
    if (!conditional) return pipelineFor([])(ctx, next);
    const ids = matchingBlocks(config, requestFacts(ctx, requestState(ctx)));
    return pipelineFor(ids)(ctx, next);
  });

  return {
    app,
    listen: server.listen,
    pidFile: server.pidFile,
    user: server.user,
    group: server.group,
    log,
    ready: () => stages.ready(),
    close: () => stages.close(),
    demoLinks: (address) => demoLinks(address),
  };
}

/**
 * --workers: the primary process spawns the php-cgi of every fastcgi.server; workers find
 * their sockets already served and only connect (lighttpd spawns only when nobody listens).
 */
export function createBackendSupervisor(loaded: LoadedConfig, log: Logger = serverLogger(loaded.server)) {
  const building = mutedWarnings(log);
  const registry = new StageRegistry(building.log, undefined);
  if (loaded.server.modules.includes('mod_fastcgi')) {
    for (const ids of [[], ...loaded.config.blocks.map(lineage)])
      registry.backends(readerFor(loaded.config, ids));
  }
  building.unmute();
  return { log, start: () => registry.ready(), stop: () => registry.close() };
}

/** A logger that drops warnings until unmute(): for building stages whose warnings were already given. */
function mutedWarnings(log: Logger): { log: Logger; unmute(): void } {
  let muted = true;
  return {
    log: {
      error: (source, message) => log.error(source, message),
      info: (source, message) => log.info(source, message),
      warn: (source, message) => {
        if (!muted) log.warn(source, message);
      },
    },
    unmute: () => {
      muted = false;
    },
  };
}

/**
 * A worker's view of fastcgi.server: the primary spawns and supervises php-cgi, so each
 * bin-path host becomes the addresses its processes listen on (socket-N, port+N), reached
 * like any remote backend.
 */
function connectOnly(keys: FastCgiKey[]): FastCgiKey[] {
  return keys.map(({ key, hosts }) => ({
    key,
    hosts: hosts.flatMap((host) => {
      if (!host.binPath) return [host];
      const {
        binPath: _spawned,
        binEnvironment: _env,
        binCopyEnvironment: _copy,
        maxProcs: _procs,
        ...rest
      } = host;
      return backendAddresses(host).map((address) =>
        'socket' in address
          ? { ...rest, host: undefined, port: undefined, socket: address.socket }
          : { ...rest, socket: undefined, ...address },
      );
    }),
  }));
}

function readerFor(config: Config, ids: number[]): OptionReader {
  return new OptionReader(effectiveOptions(config, ids), effectiveSources(config, ids), config.file);
}

/** The ids of a block and its ancestors, outermost first: the options that block sees. */
function lineage(block: Config['blocks'][number]): number[] {
  const ids: number[] = [];
  for (let b: typeof block | undefined = block; b; b = b.parent) ids.unshift(b.id);
  return ids;
}

function buildStageOptions(r: OptionReader) {
  return {
    mime: mimeAssign(r),
    access: accessRule(r),
    statics: staticOptions(r),
    secdownload: secdownloadOptions(r),
    trigger: triggerOptions(r),
    fastcgi: fastcgiOptions(r),
    redirect: redirectRules(r),
    alias: aliasRules(r),
  };
}

/** Stages by their options: equal options, one instance (one pool, one store, one php-cgi). */
class StageRegistry {
  readonly #instances = new Map<string, unknown>();
  readonly #fastcgi: FastCgiMiddleware[] = [];
  readonly #stores: TriggerStore[] = [];

  constructor(
    private readonly log: Logger,
    private readonly worker: CreateAppOptions['worker'],
  ) {}

  #shared<T>(kind: string, options: unknown, make: () => T): T {
    const key = `${kind}\0${JSON.stringify(options)}`;
    let instance = this.#instances.get(key) as T | undefined;
    if (instance === undefined) {
      instance = make();
      this.#instances.set(key, instance);
    }
    return instance;
  }

  pipeline(r: OptionReader, modules: string[]): Middleware {
    const o = buildStageOptions(r);
    const log = this.log;
    const mimeTypes = this.#shared('mime', o.mime, () => new MimeTypes(o.mime));
    const has = (name: string) => modules.includes(name);
    const stages: Middleware[] = [];
    if (has('mod_redirect') && o.redirect.rules.length > 0)
      stages.push(this.#shared('redirect', o.redirect, () => redirect(o.redirect)));
    // uri_clean hooks run in server.modules order (spec 1.2a).
    const uriClean: Array<[string, Middleware]> = [];
    if (has('mod_access') && (o.access.deny.length > 0 || o.access.allow.length > 0)) {
      uriClean.push(['mod_access', this.#shared('access', o.access, () => accessDeny(o.access))]);
    }
    if (has('mod_trigger_b4_dl') && o.trigger) {
      const spec = o.trigger;
      const store = this.#shared('store', spec.store, () => {
        const s = spec.store;
        const made =
          s.kind === 'memcached'
            ? memcachedStore({ servers: s.servers, namespace: s.namespace })
            : s.kind === 'file'
              ? fileStore(s.path)
              : memoryStore();
        this.#stores.push(made);
        return made;
      });
      uriClean.push([
        'mod_trigger_b4_dl',
        this.#shared('trigger', spec, () =>
          triggerBeforeDownload({
            ...spec,
            triggerUrl: compilePcre(spec.triggerUrl),
            downloadUrl: compilePcre(spec.downloadUrl),
            store,
            log,
          }),
        ),
      ]);
    }
    uriClean.sort((a, b) => modules.indexOf(a[0]) - modules.indexOf(b[0]));
    stages.push(...uriClean.map(([, stage]) => stage));
    if (has('mod_secdownload') && o.secdownload) {
      const options = o.secdownload;
      stages.push(this.#shared('secdownload', options, () => secdownload({ ...options, mimeTypes, log })));
    }
    // docroot hook: mod_alias moves a URL prefix onto another directory for the file step.
    if (has('mod_alias') && o.alias.length > 0)
      stages.push(this.#shared('alias', o.alias, () => alias(o.alias)));
    const php = has('mod_fastcgi') ? this.backends(r) : undefined;
    if (php) stages.push(php);
    stages.push(
      this.#shared('static', { s: o.statics, mime: o.mime }, () =>
        staticFiles({ ...o.statics, mimeTypes, log }),
      ),
    );
    return compose(stages);
  }

  /** The fastcgi stage for these options (its pools and spawned php-cgi), if fastcgi.server is set. */
  backends(r: OptionReader): FastCgiMiddleware | undefined {
    const options = fastcgiOptions(r);
    if (!options) return undefined;
    const assign = mimeAssign(r);
    const mimeTypes = this.#shared('mime', assign, () => new MimeTypes(assign));
    return this.#shared('fastcgi', { options, mime: assign }, () => {
      const backends = this.worker ? connectOnly(options.backends) : options.backends;
      const made = fastcgi({ ...options, backends, mimeTypes, log: this.log, workerShare: this.worker });
      this.#fastcgi.push(made);
      return made;
    });
  }

  async ready(): Promise<void> {
    await Promise.all(this.#fastcgi.map((f) => f.ready()));
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#fastcgi.map((f) => f.close()), ...this.#stores.map((s) => s.close())]);
  }
}

/** koa-compose for a fixed list, without the per-call closures: stages run in order. */
function compose(stages: Middleware[]): Middleware {
  return function pipeline(ctx, next) {
    const dispatch = (i: number): Promise<void> => {
      const stage = stages[i];
      if (!stage) return Promise.resolve(next());
      return Promise.resolve(stage(ctx, () => dispatch(i + 1)));
    };
    return dispatch(0);
  };
}

function unsupported(config: Config, server: ServerSettings): string[] {
  const warnings: string[] = [];
  const seen = new Set<string>();
  const check = (key: string, where: string) => {
    if (
      seen.has(key) ||
      SUPPORTED_OPTIONS.has(key) ||
      key.startsWith('var.') ||
      key.startsWith('env.') ||
      !key.includes('.')
    )
      return;
    seen.add(key);
    warnings.push(`${where}: ${key} is not supported by koa-lighty yet and has no effect`);
  };
  for (const [key, source] of config.globalSources) check(key, `${source.file}:${source.line}`);
  for (const block of config.blocks)
    for (const [key, source] of block.sources) check(key, `${source.file}:${source.line}`);
  for (const module of server.modules) {
    if (!SUPPORTED_MODULES.has(module))
      warnings.push(
        `${config.file}: server.modules: ${module} is not supported by koa-lighty yet and is not loaded`,
      );
  }
  return warnings;
}

function demoLinks(address: ListenAddress): string[] {
  const base = describeAddress(address);
  return [
    '',
    `  Open ${base}/ in a browser. Things to try:`,
    `  ${base}/                    PHP through php-cgi, a gallery, links for everything below`,
    `  ${base}/report.php          PHP answers with X-LIGHTTPD-send-file; the server sends the file`,
    `  ${base}/downloads/intro.mpg a download that needs a visit to the site first (else 307)`,
    `  ${base}/secret.inc          denied by url.access-deny (403)`,
    `  curl -e http://elsewhere.example/ ${base}/gallery/sea.png   hotlinked image: 403`,
    '',
  ];
}

export { ConfigError };
