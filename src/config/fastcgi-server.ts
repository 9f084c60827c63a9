/**
 * fastcgi.server → the options of `fastcgi()`: the three levels of lighttpd's nesting
 * (key → hosts → host options, spec 3.1) checked with errors at the option's line, and every
 * host option in camelCase.
 */
import type { BalanceMode } from '../backends/balancer.js';
import { spelledRoot } from '../http/doc-root.js';
import type { FastCgiHost, FastCgiKey, FastCgiOptions } from '../middleware/fastcgi-options.js';
import { indexFileNames } from './index-files.js';
import type { OptionReader } from './option-reader.js';
import { serverTag } from './server-tag.js';
import { uploadDirs } from './upload-dirs.js';
import { ConfigArray, type ConfigValue, toBool, toInt } from './values.js';

/** fastcgi.server with its three-level nesting (spec 3.1), host options in camelCase. */
export function fastcgiOptions(r: OptionReader): FastCgiOptions | undefined {
  const value = r.raw('fastcgi.server');
  if (value === undefined) return undefined;
  const shape = 'expected ( ".ext" => ( ( "host" => …, "port" => … ) ), … )';
  if (!(value instanceof ConfigArray) || !value.isKeyed) throw r.error('fastcgi.server', shape);
  const backends: FastCgiKey[] = value.entries.map(({ key, value: hostsValue }) => {
    if (!(hostsValue instanceof ConfigArray)) throw r.error('fastcgi.server', `${key}: ${shape}`);
    const hosts = hostsValue.entries.map(({ key: label, value: host }) => {
      if (!(host instanceof ConfigArray) || !host.isKeyed || host.length === 0) {
        throw r.error(
          'fastcgi.server',
          `${key}: each host must be an array of options (three levels of parentheses)`,
        );
      }
      return fastcgiHost(r, key!, label, host);
    });
    return { key: key!, hosts };
  });
  const balance = r.string('fastcgi.balance') ?? 'least-connection';
  if (!['least-connection', 'fair', 'round-robin'].includes(balance)) {
    throw r.error(
      'fastcgi.balance',
      `"${balance}" is not supported yet (least-connection, fair, round-robin are)`,
    );
  }
  return {
    backends,
    balance: balance as BalanceMode,
    mapExtensions: Object.fromEntries(r.pairs('fastcgi.map-extensions')),
    // As written, but absolute: DOCUMENT_ROOT keeps a trailing slash, as lighttpd's.
    documentRoot: spelledRoot(r.string('server.document-root') ?? '/'),
    indexFiles: indexFileNames(r),
    followSymlink: r.bool('server.follow-symlink', true),
    forceLowercaseFilenames: r.bool('server.force-lowercase-filenames', false),
    serverTag: serverTag(r),
    serverName: r.string('server.name') || undefined,
    debug: fastcgiDebug(r),
    // Unset stays undefined: koa-lighty's default differs from lighttpd's (README).
    streamResponseBody: r.has('server.stream-response-body')
      ? (r.int('server.stream-response-body', 0) as 0 | 1 | 2)
      : undefined,
    uploadDirs: uploadDirs(r),
  };
}

/** fastcgi.debug: lighttpd's integer (0 off); "enable"/"disable" are taken too. */
function fastcgiDebug(r: OptionReader): number {
  const value = r.raw('fastcgi.debug');
  if (value === undefined) return 0;
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0) throw r.error('fastcgi.debug', 'must be 0 or more');
    return value;
  }
  if (typeof value === 'string' && /^[0-9]+$/.test(value)) return Number(value);
  try {
    return toBool(value, r.where('fastcgi.debug')) ? 1 : 0;
  } catch {
    throw r.error(
      'fastcgi.debug',
      `expected a number (0 is off) or "enable"/"disable", got ${JSON.stringify(value)}`,
    );
  }
}

function fastcgiHost(
  r: OptionReader,
  key: string,
  label: string | undefined,
  host: ConfigArray,
): FastCgiHost {
  const where = r.where('fastcgi.server');
  const at = (name: string) => ({ ...where, key: `fastcgi.server ${key} ${name}` });
  const str = (name: string) => {
    const v = host.get(name);
    if (v === undefined) return undefined;
    if (v instanceof ConfigArray) throw r.error('fastcgi.server', `${key}: "${name}" must be a string`);
    return String(v);
  };
  const int = (name: string, min = 0, max = 2 ** 31 - 1) => {
    const v = host.get(name);
    return v === undefined ? undefined : toInt(v, at(name), { min, max });
  };
  const bool = (name: string) => {
    const v = host.get(name);
    return v === undefined ? undefined : toBool(v, at(name));
  };
  const list = (name: string) => {
    const v = host.get(name);
    if (v === undefined) return undefined;
    if (typeof v === 'string') return [v];
    if (!(v instanceof ConfigArray)) throw r.error('fastcgi.server', `${key}: "${name}" must be a list`);
    return v.values().map(String);
  };
  const pairs = (name: string): Record<string, string> | undefined => {
    const v = host.get(name);
    if (v === undefined) return undefined;
    if (!(v instanceof ConfigArray))
      throw r.error('fastcgi.server', `${key}: "${name}" must be ( "NAME" => "value", … )`);
    return Object.fromEntries(v.entries.map((e) => [e.key ?? '', stringOf(e.value)]));
  };
  let hostName = str('host');
  let socket = str('socket');
  if (hostName?.startsWith('/')) {
    socket = hostName;
    hostName = undefined;
  }
  const port = int('port', 1, 65535);
  const binPath = str('bin-path');
  // lighttpd splits at every space: a leading one leaves no program to run.
  if (binPath !== undefined && /^[ \t]/.test(binPath))
    throw r.error('fastcgi.server', `${key}: "bin-path" must start with the program, not a space`);
  if (socket && (hostName || port))
    throw r.error('fastcgi.server', `${key}: "socket" cannot be combined with "host"/"port"`);
  if (!socket && !hostName && !binPath)
    throw r.error('fastcgi.server', `${key}: a host needs "host" and "port", "socket", or "bin-path"`);
  const mode = str('mode');
  // lighttpd warns and makes an unknown mode a responder; an authorizer misspelt must not
  // silently become the page itself, so it is refused here.
  if (mode && mode !== 'responder' && mode !== 'authorizer')
    throw r.error('fastcgi.server', `${key}: mode "${mode}" is not known (responder or authorizer)`);
  // `x-sendfile` is applied after `allow-x-send-file` when both are present (spec 3.1).
  const allowXSendFile = bool('x-sendfile') ?? bool('allow-x-send-file');
  const docroots = list('x-sendfile-docroot');
  for (const d of docroots ?? []) {
    if (!d.startsWith('/'))
      throw r.error(
        'fastcgi.server',
        `${key}: x-sendfile-docroot entries must be absolute paths, not "${d}"`,
      );
  }
  return {
    label: label && !/^\d+$/.test(label) ? label : undefined,
    mode: mode === 'authorizer' ? 'authorizer' : undefined,
    host: hostName,
    port,
    socket,
    binPath,
    binEnvironment: pairs('bin-environment'),
    binCopyEnvironment: list('bin-copy-environment'),
    maxProcs: int('max-procs', 1, 256),
    checkLocal: bool('check-local'),
    docroot: str('docroot'),
    stripRequestUri: str('strip-request-uri'),
    fixRootScriptname: bool('fix-root-scriptname'),
    brokenScriptfilename: bool('broken-scriptfilename'),
    allowXSendFile,
    xSendfileDocroot: docroots,
    disableTime: int('disable-time'),
    connectTimeout: int('connect-timeout'),
    readTimeout: int('read-timeout'),
    writeTimeout: int('write-timeout'),
  };
}

function stringOf(value: ConfigValue): string {
  return value instanceof ConfigArray ? '' : String(value);
}

/** The host options fastcgiHost() reads: every other key of a host is not honoured. */
const HONOURED_HOST_KEYS = new Set([
  'host',
  'port',
  'socket',
  'bin-path',
  'bin-environment',
  'bin-copy-environment',
  'max-procs',
  'check-local',
  'docroot',
  'strip-request-uri',
  'fix-root-scriptname',
  'broken-scriptfilename',
  'x-sendfile',
  'allow-x-send-file',
  'x-sendfile-docroot',
  'disable-time',
  'connect-timeout',
  'read-timeout',
  'write-timeout',
  'mode',
]);

/** Why a host key lighttpd knows has no effect here. */
const IGNORED_HOST_KEYS: Record<string, string> = {
  'min-procs': 'adaptive spawning is not supported: max-procs processes run all the time',
  'max-load-per-proc': 'adaptive spawning is not supported: max-procs processes run all the time',
  'idle-timeout': 'adaptive spawning is not supported: spawned processes are never stopped for idleness',
  'listen-backlog': "the spawned program's socket has lighttpd's default backlog, 1024",
  'kill-signal': 'spawned programs are stopped with SIGTERM',
};

/**
 * One warning per host key of fastcgi.server that koa-lighty does not honour (lighttpd's
 * adaptive spawning, listen-backlog, kill-signal, or a key neither knows), at the line of the
 * fastcgi.server assignment: an ignored option must not look like one that works.
 */
export function fastcgiHostWarnings(r: OptionReader): string[] {
  const value = r.raw('fastcgi.server');
  if (!(value instanceof ConfigArray)) return [];
  const at = r.where('fastcgi.server');
  const warnings: string[] = [];
  for (const { key, value: hosts } of value.entries) {
    if (!(hosts instanceof ConfigArray)) continue;
    for (const { value: host } of hosts.entries) {
      if (!(host instanceof ConfigArray)) continue;
      for (const { key: name } of host.entries) {
        if (name === undefined || HONOURED_HOST_KEYS.has(name)) continue;
        const why = IGNORED_HOST_KEYS[name] ?? 'koa-lighty does not know this host option';
        warnings.push(
          `${at.file}:${at.line}: fastcgi.server ${JSON.stringify(key)}: "${name}" has no effect: ${why}`,
        );
      }
    }
  }
  return warnings;
}
