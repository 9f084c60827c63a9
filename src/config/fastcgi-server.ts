/**
 * fastcgi.server → the options of `fastcgi()`: the three levels of lighttpd's nesting
 * (key → hosts → host options, spec 3.1) checked with errors at the option's line, and every
 * host option in camelCase.
 */
import { resolve } from 'node:path';
import type { BalanceMode } from '../backends/balancer.js';
import type { FastCgiHost, FastCgiKey, FastCgiOptions } from '../middleware/fastcgi-options.js';
import type { OptionReader } from './option-reader.js';
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
    documentRoot: resolve(r.string('server.document-root') ?? '/'),
    indexFiles: r.list('index-file.names'),
    followSymlink: r.bool('server.follow-symlink', true),
    forceLowercaseFilenames: r.bool('server.force-lowercase-filenames', false),
    serverTag: r.string('server.tag') ?? 'lighttpd/1.4.69 (koa-lighty)',
    serverName: r.string('server.name') || undefined,
  };
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
  if (mode && mode !== 'responder')
    throw r.error('fastcgi.server', `${key}: mode "${mode}" is not supported yet (only responder)`);
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
