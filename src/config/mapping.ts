/**
 * lighttpd.conf options → the options of koa-lighty's middlewares. Nothing here serves a
 * request: each function reads one effective option set (global options overlaid by the
 * blocks that hold for a request) and returns plain options for one stage.
 */
import { resolve } from 'node:path';
import type { ConnectionLimits } from '../http/connection-limits.js';
import { spelledRoot } from '../http/doc-root.js';
import { DEFAULT_MAX_REQUEST_FIELD_SIZE } from '../http/limits.js';
import type { SecdownloadAlgorithm } from '../secdownload/algorithm.js';
import type { Http2Settings } from '../server/http2-server.js';
import type { ListenAddress } from '../server/listen.js';
import { indexFileNames } from './index-files.js';
import type { OptionReader } from './option-reader.js';
import { compilePcre } from './pcre.js';
import { checkTuningKnobs, connectionBudget, connectionLimitsOf } from './server-limits.js';
import { serverTag } from './server-tag.js';
import { ConfigArray, toBool, toInt } from './values.js';

export interface ServerSettings {
  documentRoot: string;
  listen: ListenAddress;
  tag: string;
  errorLog?: string;
  accessLog?: string;
  pidFile?: string;
  user?: string;
  group?: string;
  modules: string[];
  /** server.max-request-field-size: request line and headers, in bytes (431 beyond). */
  maxRequestFieldSize: number;
  /** server.systemd-socket-activation: listen on the socket systemd hands over on fd 3. */
  socketActivation: boolean;
  /** server.max-connections (with server.max-fds, as lighttpd combines them): more wait. */
  maxConnections: number;
  /**
   * The global server.max-keep-alive-requests, -keep-alive-idle, -read-idle, -write-idle: what
   * the server applies before a request's own config is known (blocks may change them).
   */
  connectionLimits: ConnectionLimits;
  /** server.feature-flags "server.h2proto" / "server.h2c" (both on by default, as in lighttpd). */
  http2: Http2Settings;
  /**
   * server.feature-flags' "server.graceful-shutdown-timeout" (default 8 s; 0 = no limit): how
   * long the requests of the previous config may run after SIGUSR1 before they are cut.
   */
  gracefulShutdownTimeoutMs: number;
  /** What could not be made as lighttpd would make it (server.max-fds above the process's limit). */
  warnings: string[];
}

export function serverSettings(r: OptionReader): ServerSettings {
  const documentRoot = r.string('server.document-root');
  if (!documentRoot) throw r.error('server.document-root', 'is not set: koa-lighty needs a document root');
  const bind = r.string('server.bind') || '0.0.0.0';
  const port = r.int('server.port', 80, { min: 0, max: 65535 });
  checkTuningKnobs(r);
  const connections = connectionBudget(r);
  const features = featureFlags(r);
  return {
    documentRoot: resolve(documentRoot),
    listen: bind.startsWith('/') ? { path: bind } : { host: bind, port },
    tag: serverTag(r),
    errorLog: r.string('server.errorlog') || undefined,
    accessLog: r.string('accesslog.filename') || undefined,
    pidFile: r.string('server.pid-file') || undefined,
    user: r.string('server.username') || undefined,
    group: r.string('server.groupname') || undefined,
    modules: r.list('server.modules'),
    maxRequestFieldSize: r.int('server.max-request-field-size', DEFAULT_MAX_REQUEST_FIELD_SIZE, {
      min: 256,
      max: 65535,
    }),
    socketActivation: r.bool('server.systemd-socket-activation', false),
    maxConnections: connections.maxConnections,
    connectionLimits: connectionLimitsOf(r),
    http2: features.http2,
    gracefulShutdownTimeoutMs: features.gracefulShutdownTimeoutMs,
    warnings: [...connections.warnings, ...features.warnings],
  };
}

/** The server.feature-flags koa-lighty acts on. */
const FEATURE_FLAGS = new Set([
  'server.h2proto',
  'server.h2c',
  'server.graceful-shutdown-timeout',
  // lighttpd's graceful restart in a forked copy, so that the old one can keep serving: a
  // koa-lighty reload never stops serving, so there is nothing to choose.
  'server.graceful-restart-bg',
]);

/** lighttpd's default for "server.graceful-shutdown-timeout" (server.c), in seconds. */
const GRACEFUL_SHUTDOWN_TIMEOUT_S = 8;

/**
 * server.feature-flags, read once for the server as lighttpd reads it (configfile.c): h2c only
 * counts where h2proto is on. The other flags lighttpd knows are named in a warning.
 */
function featureFlags(r: OptionReader): {
  http2: Http2Settings;
  gracefulShutdownTimeoutMs: number;
  warnings: string[];
} {
  const value = r.raw('server.feature-flags');
  const gracefulDefault = GRACEFUL_SHUTDOWN_TIMEOUT_S * 1000;
  if (value === undefined)
    return { http2: { h2proto: true, h2c: true }, gracefulShutdownTimeoutMs: gracefulDefault, warnings: [] };
  if (!(value instanceof ConfigArray) || !value.isKeyed)
    throw r.error('server.feature-flags', 'expected ( "flag" => "enable" | "disable", … )');
  const where = r.where('server.feature-flags');
  const flag = (name: string) => {
    const given = value.get(name);
    return given === undefined ? true : toBool(given, where);
  };
  const h2proto = flag('server.h2proto');
  const warnings = value
    .keys()
    .filter((name) => !FEATURE_FLAGS.has(name))
    .map(
      (name) => `${where.file}:${where.line}: server.feature-flags: "${name}" has no effect in koa-lighty`,
    );
  const timeout = value.get('server.graceful-shutdown-timeout');
  const gracefulShutdownTimeoutMs =
    timeout === undefined ? gracefulDefault : toInt(timeout, where, { min: 0, max: 86_400 }) * 1000;
  return { http2: { h2proto, h2c: h2proto && flag('server.h2c') }, gracefulShutdownTimeoutMs, warnings };
}

export function mimeAssign(r: OptionReader): Array<[string, string]> {
  // lighttpd 1.4.69 (configfile.c) sends a ".js" => "application/javascript" entry as text/javascript.
  return r
    .pairs('mimetype.assign')
    .map(([suffix, type]) =>
      suffix === '.js' && type === 'application/javascript' ? [suffix, 'text/javascript'] : [suffix, type],
    );
}

export function accessRule(r: OptionReader) {
  return {
    deny: r.list('url.access-deny'),
    allow: r.list('url.access-allow'),
    caseInsensitive: r.bool('server.force-lowercase-filenames', false),
  };
}

export function staticOptions(r: OptionReader) {
  return {
    // As written, but absolute: DOCUMENT_ROOT keeps a trailing slash, as lighttpd's.
    documentRoot: spelledRoot(r.string('server.document-root') ?? '/'),
    indexFiles: indexFileNames(r),
    excludeExtensions: r.list('static-file.exclude-extensions'),
    disablePathInfo: r.bool('static-file.disable-pathinfo', false),
    followSymlink: r.bool('server.follow-symlink', true),
    forceLowercaseFilenames: r.bool('server.force-lowercase-filenames', false),
    denySuffixes: cgiAssignSuffixes(r),
  };
}

/**
 * cgi.assign's suffixes (of the file path, as mod_cgi matches them; `""` is every file).
 * koa-lighty runs no CGI, so these files are refused rather than sent as their source;
 * whether mod_cgi is loaded does not matter (lighttpd without it would send the source).
 */
function cgiAssignSuffixes(r: OptionReader): string[] {
  return r.pairs('cgi.assign').map(([suffix]) => suffix);
}

/** The start-up warning for a cgi.assign in this scope, naming where it was set. */
export function cgiAssignWarning(r: OptionReader): string | undefined {
  if (!r.has('cgi.assign')) return undefined;
  const at = r.where('cgi.assign');
  const suffixes = cgiAssignSuffixes(r);
  const what = suffixes.includes('')
    ? 'every file there is'
    : `files ending in ${suffixes.map((suffix) => JSON.stringify(suffix)).join(', ')} are`;
  return `${at.file}:${at.line}: cgi.assign: mod_cgi is not supported by koa-lighty; ${what} denied (403), never sent as they are`;
}

/** secdownload.*: undefined while the uri-prefix is unset (the module is then inactive). */
export function secdownloadOptions(r: OptionReader) {
  const uriPrefix = r.string('secdownload.uri-prefix');
  if (!uriPrefix) return undefined;
  const missing = ['secdownload.secret', 'secdownload.document-root'].filter((key) => !r.string(key));
  if (missing.length > 0) {
    throw r.error(
      'secdownload.uri-prefix',
      `is set, but ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not`,
    );
  }
  const algorithm = r.string('secdownload.algorithm');
  if (algorithm !== undefined && !['md5', 'hmac-sha1', 'hmac-sha256'].includes(algorithm)) {
    throw r.error(
      'secdownload.algorithm',
      `must be "md5", "hmac-sha1" or "hmac-sha256", not ${JSON.stringify(algorithm)}`,
    );
  }
  return {
    uriPrefix,
    secret: r.string('secdownload.secret')!,
    documentRoot: resolve(r.string('secdownload.document-root')!),
    timeout: r.int('secdownload.timeout', 60, { min: 0 }),
    algorithm: algorithm as SecdownloadAlgorithm | undefined,
    pathSegments: r.int('secdownload.path-segments', 0, { min: 0, max: 65535 }),
    hashQuerystr: r.bool('secdownload.hash-querystr', false),
    followSymlink: r.bool('server.follow-symlink', true),
  };
}

export type TriggerStoreSpec =
  | { kind: 'memory' }
  | { kind: 'file'; path: string }
  | { kind: 'memcached'; servers: string[]; namespace: string };

/** trigger-before-download.*: undefined unless both regexes are set (lighttpd's rule). */
export function triggerOptions(r: OptionReader) {
  const triggerUrl = r.string('trigger-before-download.trigger-url');
  const downloadUrl = r.string('trigger-before-download.download-url');
  if (!triggerUrl || !downloadUrl) return undefined;
  // PCRE, as lighttpd compiled them; a pattern that cannot mean the same here is refused.
  for (const key of ['trigger-before-download.trigger-url', 'trigger-before-download.download-url']) {
    try {
      compilePcre(r.string(key)!);
    } catch (error) {
      throw r.error(key, `invalid regex: ${(error as Error).message}`);
    }
  }
  const gdbm = r.string('trigger-before-download.gdbm-filename');
  const memcache = r.list('trigger-before-download.memcache-hosts').filter((h) => h !== '');
  const memory = r.bool('trigger-before-download.memory-store', false);
  const chosen = [
    gdbm ? 'gdbm-filename' : '',
    memcache.length ? 'memcache-hosts' : '',
    memory ? 'memory-store' : '',
  ].filter(Boolean);
  if (chosen.length > 1) {
    // lighttpd silently switched the module off; a site that thinks it is protected is worse.
    throw r.error(
      'trigger-before-download.trigger-url',
      `choose one store: ${chosen.map((c) => `trigger-before-download.${c}`).join(' and ')} are both set`,
    );
  }
  if (chosen.length === 0) {
    throw r.error(
      'trigger-before-download.trigger-url',
      'needs a store: trigger-before-download.memcache-hosts, .gdbm-filename, or (koa-lighty) .memory-store = "enable"',
    );
  }
  const denyUrl = r.string('trigger-before-download.deny-url');
  if (denyUrl === undefined)
    throw r.error('trigger-before-download.trigger-url', 'trigger-before-download.deny-url is not set');
  const store: TriggerStoreSpec = gdbm
    ? { kind: 'file', path: resolve(gdbm) }
    : memcache.length
      ? {
          kind: 'memcached',
          servers: memcache,
          namespace: r.string('trigger-before-download.memcache-namespace') ?? '',
        }
      : { kind: 'memory' };
  const debug = r.raw('trigger-before-download.debug');
  return {
    triggerUrl,
    downloadUrl,
    denyUrl,
    timeout: r.int('trigger-before-download.trigger-timeout', 0, { min: 0, max: 65535 }),
    trustedProxies: r.list('trigger-before-download.trusted-proxies'),
    debug:
      debug === undefined
        ? false
        : typeof debug === 'number'
          ? debug > 0
          : toBool(debug, r.where('trigger-before-download.debug')),
    store,
  };
}

export function aliasRules(r: OptionReader): Array<[string, string]> {
  return r.pairs('alias.url');
}

export { fastcgiOptions } from './fastcgi-server.js';
export { serverTag } from './server-tag.js';

/** url.redirect and url.redirect-code; the stage itself refuses what it cannot do (redirect.ts). */
export function redirectRules(r: OptionReader) {
  return {
    rules: r.pairs('url.redirect').map(([match, location]) => ({ match, location })),
    status: r.int('url.redirect-code', 301),
  };
}
