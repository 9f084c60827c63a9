/**
 * The lighttpd.conf front end: a parsed config becomes a Koa app. Per request, the config's
 * conditions are evaluated once (lighttpd caches them per request too; again after a rewrite,
 * see select-pipeline.ts) and the set of blocks that hold selects a pipeline of stages built
 * for exactly those options. Pipelines are built
 * on first use and kept; stages with identical options (and so their pools, spawned php-cgi
 * and trigger stores) are shared between pipelines.
 */
import { existsSync, statSync } from 'node:fs';
import Koa, { type Context } from 'koa';
import { type LogOutput, openLogOutput } from '../accesslog/output.js';
import { ConditionCaptures } from '../config/captures.js';
import { ConfigError } from '../config/errors.js';
import { lineage, readerFor } from '../config/evaluate.js';
import { mimeAssign, type ServerSettings, serverSettings } from '../config/mapping.js';
import type { Config } from '../config/model.js';
import type { OptionReader } from '../config/option-reader.js';
import { parseConfigFile } from '../config/parser.js';
import { printConfig } from '../config/print.js';
import { serverScopeWarnings } from '../config/server-limits.js';
import { MimeTypes } from '../http/mime.js';
import { defaultLogger, type Logger, memoryLogger, streamLogger } from '../log.js';
import { lighttpdErrors } from '../middleware/errors.js';
import { stripInternalHeaders } from '../middleware/response-filter.js';
import { usesConditionCaptures } from '../middleware/rule-substitution.js';
import type { BuildContext, ModuleDescriptor } from '../modules/descriptor.js';
import { mapModCompress } from '../modules/mod-deflate.js';
import { modFastcgi } from '../modules/mod-fastcgi.js';
import { buildStage, type Pipeline, StageRegistry } from '../modules/pipeline.js';
import { CONDITION_CAPTURE_KEYS, MODULES, SUPPORTED_MODULES, SUPPORTED_OPTIONS } from '../modules/table.js';
import type { OptionError } from '../option-error.js';
import { StatusRegistry } from '../status/registry.js';
import { checkListenerTls } from '../tls/contexts.js';
import { describeAddress, type ListenAddress } from './listen.js';
import { configListeners, type Listener } from './listeners.js';
import { type Selection, selectPipeline } from './select-pipeline.js';

const CLIENT_GONE = new Set(['ERR_STREAM_PREMATURE_CLOSE', 'ECONNRESET', 'EPIPE', 'ABORT_ERR']);

export interface LoadedConfig {
  file: string;
  config: Config;
  server: ServerSettings;
  /** Where to listen: server.bind/server.port and every `$SERVER["socket"]` block, TLS or not. */
  listeners: Listener[];
  /** One line per option or module koa-lighty does not support yet. */
  warnings: string[];
  print(): unknown;
}

/** Parses and checks a lighttpd.conf: every error names its file and line. */
export function loadConfig(file: string, options: { env?: NodeJS.ProcessEnv } = {}): LoadedConfig {
  const config = parseConfigFile(file, { env: options.env });
  const global = readerFor(config, []);
  const server = serverSettings(global);
  // lighttpd 1.4.69 loads mod_deflate for mod_compress (and says so) before anything else.
  const compat = mapModCompress(server.modules, config);
  server.modules = compat.modules;
  if (!existsSync(server.documentRoot) || !statSync(server.documentRoot).isDirectory()) {
    throw global.error('server.document-root', `${server.documentRoot} is not a directory`);
  }
  const { listeners, warnings: scopeWarnings } = configListeners(config, server, (ids) =>
    readerFor(config, ids),
  );
  const tlsWarnings = [...scopeWarnings, ...listenerWarnings(config, server, listeners)];
  // Each block is checked with the options it would see, so a bad value in a rarely matched
  // block is found at start, not by the first visitor who matches it.
  const readers = [global, ...config.blocks.map((block) => readerFor(config, lineage(block)))];
  const warnings = [
    ...(compat.warning ? [compat.warning] : []),
    ...server.warnings,
    ...tlsWarnings,
    ...serverScopeWarnings(config),
    ...unsupported(config, server),
    ...moduleWarnings(readers, server.modules),
    ...constructionWarnings(readers, server.modules),
  ];
  return {
    file,
    config,
    server,
    listeners,
    warnings,
    print: () => printConfig(config, { omitPredefined: true }),
  };
}

/**
 * The certificates of every TLS listener, read and checked now (a key that does not match is
 * refused at its line). lighttpd loads mod_openssl for ssl.* options that server.modules
 * forgot, with a warning: so does this.
 */
function listenerWarnings(config: Config, server: ServerSettings, listeners: Listener[]): string[] {
  const warnings = listeners.flatMap((l) => (l.tls ? checkListenerTls(l.tls) : []));
  if (listeners.some((l) => l.tls) && !server.modules.includes('mod_openssl')) {
    server.modules = ['mod_openssl', ...server.modules];
    warnings.unshift(
      `${config.file}: server.modules: please add "mod_openssl" (loaded for the ssl.* options, as lighttpd does)`,
    );
  }
  return warnings;
}

/** What each loaded module says it does not honour, once per line however many blocks see it. */
function moduleWarnings(readers: OptionReader[], loaded: string[]): string[] {
  const used = MODULES.filter((m) => m.warnings && (m.builtIn || loaded.includes(m.name)));
  return [...new Set(readers.flatMap((r) => used.flatMap((m) => m.warnings!(r))))];
}

/**
 * What the stages would warn about or refuse when built (md5 without an algorithm, send-file
 * without a docroot, a 2xx redirect code), found at load time so that `-t` shows it and a
 * server says it once, not once per worker. Every module reads its options; only loaded
 * pure stages are built here, as building them starts nothing (no process, connection, file).
 */
function constructionWarnings(readers: OptionReader[], loaded: string[]): string[] {
  const heard = memoryLogger();
  const used = MODULES.filter((m) => m.builtIn || loaded.includes(m.name));
  for (const r of readers) {
    // Reading is checking (regexes, required companions, types); it starts nothing. Every
    // module's keys are checked, loaded or not: a broken value is a mistake either way.
    for (const descriptor of MODULES) descriptor.read(r);
    const assign = mimeAssign(r);
    const build: BuildContext = {
      log: heard,
      mimeTypes: new MimeTypes(assign),
      shared: (_kind, _key, make) => make(),
      onReady: () => {},
      onClose: () => {},
    };
    for (const descriptor of used) if (descriptor.pure) buildStage(descriptor, r, build);
  }
  const lines = heard.lines.filter((line) => line.includes(') warning: '));
  return [...new Set(lines.map((line) => line.replace(/^\((\S+)\) warning: /, '$1: ')))];
}

/**
 * server.errorlog (a file, reopened on SIGHUP with the access logs, or `|program`), or stderr.
 */
export function serverLogger(server: ServerSettings): Logger {
  if (!server.errorLog) return defaultLogger;
  let output: LogOutput;
  try {
    output = openLogOutput(server.errorLog, defaultLogger);
  } catch (error) {
    throw new Error(`server.errorlog: ${(error as OptionError).reason ?? (error as Error).message}`);
  }
  return streamLogger({ write: (line: string) => output.write(Buffer.from(line)) });
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
  /** Stops spawned php-cgi (but what a newer app took over), closes pools and stores. */
  close(): Promise<void>;
  /** The backends (php-cgi, pools) by address, for the app that replaces this one (SIGUSR1). */
  backends: Map<string, unknown>;
  /** What the demo prints at start. */
  demoLinks(address: ListenAddress): string[];
}

export interface CreateAppOptions {
  log?: Logger;
  /** This process is worker `index` of `count` (--workers): backends are shared, not spawned here. */
  worker?: { index: number; count: number };
  /**
   * The app this one replaces (a graceful restart): its backends whose options did not
   * change are taken over, running, instead of spawning new ones.
   */
  previous?: { backends: Map<string, unknown> };
}

export function createApp(loaded: LoadedConfig, options: CreateAppOptions = {}): LightyApp {
  const { server } = loaded;
  const log = options.log ?? serverLogger(server);
  // Warnings of building the stages were reported by loadConfig already: say them once.
  const building = mutedWarnings(log);
  // The error handler's pass: the handler's URI meets the conditions (and mod_rewrite) afresh,
  // as in lighttpd. Bound once the selection exists, which needs the pipelines built here.
  const dispatch = (ctx: Context): Promise<void> => selection.dispatch(ctx);
  const status = new StatusRegistry({ connectionLimit: server.maxConnections, worker: options.worker });
  const stages = new StageRegistry(building.log, options.worker, dispatch, status);
  const backends = seedBackends(stages, options.previous);
  const { selection, buildAll } = configPipelines(loaded, stages);
  // Every block's pipeline now: start-up spawns all backends.
  closeOnError(stages, buildAll);
  building.unmute();

  let closing: Promise<void> | undefined;
  const app = new Koa();
  app.silent = true;
  // Errors after the response started (a file that shrank while being sent, a backend cut
  // mid-body) reach Koa's 'error' event, not lighttpdErrors: log them, but not the everyday
  // client that closed its connection early.
  app.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code && CLIENT_GONE.has(error.code)) return;
    log.error('server', error.message);
  });
  // Outermost: every request counts for the status page, refused and failed ones too. Only
  // where mod_status is loaded: nobody could read the counts otherwise, and the tracking is
  // per request.
  if (server.modules.includes('mod_status')) app.use(status.track);
  app.use(lighttpdErrors({ log }));
  app.use(stripInternalHeaders({ server: server.tag }));
  app.use(selection.middleware);

  return {
    app,
    listen: server.listen,
    pidFile: server.pidFile,
    user: server.user,
    group: server.group,
    log,
    ready: () => stages.ready(),
    // Idempotent: a stop may meet an app a reload is still retiring.
    close: () => {
      closing ??= stages.close();
      return closing;
    },
    backends,
    demoLinks: (address) => demoLinks(address),
  };
}

/**
 * --workers: the primary process spawns the php-cgi of every fastcgi.server; workers find
 * their sockets already served and only connect (lighttpd spawns only when nobody listens).
 */
export function createBackendSupervisor(
  loaded: LoadedConfig,
  log: Logger = serverLogger(loaded.server),
  previous?: { backends: Map<string, unknown> },
) {
  const building = mutedWarnings(log);
  const registry = new StageRegistry(building.log, undefined);
  const backends = seedBackends(registry, previous);
  if (loaded.server.modules.includes('mod_fastcgi')) {
    closeOnError(registry, () => {
      for (const ids of [[], ...loaded.config.blocks.map(lineage)])
        registry.pipeline(readerFor(loaded.config, ids), loaded.server, [modFastcgi]);
    });
  }
  building.unmute();
  return { log, backends, start: () => registry.ready(), stop: () => registry.close() };
}

/**
 * A build that fails half-way (a reload's file with a bad value) gives back what it opened:
 * log files, store connections, its hold on the running app's php-cgi.
 */
function closeOnError(registry: StageRegistry, build: () => void): void {
  try {
    build();
  } catch (error) {
    void registry.close();
    throw error;
  }
}

/**
 * The registry's map of backends (mod-fastcgi.ts shares it between the app's stages), and
 * the previous app's backends where the stages look for ones to take over.
 */
function seedBackends(registry: StageRegistry, previous?: { backends: Map<string, unknown> }) {
  if (previous) registry.shared('fastcgi-previous-backends', 'all', () => previous.backends);
  return registry.shared('fastcgi-backends', 'all', () => new Map<string, unknown>());
}

/** A logger that drops warnings until unmute(): for building stages whose warnings were already given. */
/**
 * The pipelines of a config, one per set of matching blocks (cached), and the per-request
 * selection among them. `buildAll` builds the global pipeline and every block's, so that a
 * bad option stops the start rather than a visitor. `table`: the modules to build from
 * (the authorizer builds only its protection stages).
 */
export function configPipelines(
  { config, server }: LoadedConfig,
  stages: StageRegistry,
  table: readonly ModuleDescriptor[] = MODULES,
): { selection: Selection; buildAll(): void } {
  const pipelines = new Map<string, Pipeline>();
  const pipelineFor = (ids: number[]) => {
    const key = ids.join(',');
    let pipeline = pipelines.get(key);
    if (!pipeline) {
      pipeline = stages.pipeline(readerFor(config, ids), server, table);
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
  const buildAll = () => {
    pipelineFor([]);
    for (const block of config.blocks) pipelineFor(lineage(block));
  };
  return { selection, buildAll };
}

/** Warnings held back while stages are built a second time (loadConfig said them already). */
export function mutedWarnings(log: Logger): { log: Logger; unmute(): void } {
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

function unsupported(config: Config, server: ServerSettings): string[] {
  const warnings: string[] = [];
  const seen = new Set<string>();
  const check = (key: string, where: string) => {
    if (
      seen.has(key) ||
      key === 'cgi.assign' || // its own warning: the files are denied (cgiAssignWarning)
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
    `  ${base}/server-status       the status page (mod_status, live), also ?auto, ?json and /metrics`,
    `  curl -e http://elsewhere.example/ ${base}/gallery/sea.png   hotlinked image: 403`,
    '',
  ];
}

export { ConfigError };
