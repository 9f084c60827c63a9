/**
 * The server-wide limits of a lighttpd.conf (server.c, configfile.c): how many connections,
 * what the file-descriptor budget implies for them, and the tuning knobs that mean nothing
 * under Node but must still be spelled as lighttpd knows them.
 */
import { readFileSync } from 'node:fs';
import { type ConnectionLimits, LIGHTTPD_CONNECTION_LIMITS } from '../http/connection-limits.js';
import type { Config } from './model.js';
import type { OptionReader } from './option-reader.js';

export interface ConnectionBudget {
  /** Connections served at once; more wait (lighttpd stops accepting). */
  maxConnections: number;
  /** One line per setting that could not be what lighttpd would make of it. */
  warnings: string[];
}

export const CONNECTION_LIMIT_KEYS = {
  maxKeepAliveRequests: 'server.max-keep-alive-requests',
  keepAliveIdleMs: 'server.max-keep-alive-idle',
  readIdleMs: 'server.max-read-idle',
  writeIdleMs: 'server.max-write-idle',
} as const satisfies Record<keyof ConnectionLimits, string>;

/** The limits of one option set: lighttpd's "short" options, in seconds (but the request count). */
export function connectionLimitsOf(r: OptionReader): ConnectionLimits {
  const seconds = (key: string, fallbackMs: number) =>
    r.int(key, fallbackMs / 1000, { min: 0, max: 65535 }) * 1000;
  const defaults = LIGHTTPD_CONNECTION_LIMITS;
  return {
    maxKeepAliveRequests: r.int(CONNECTION_LIMIT_KEYS.maxKeepAliveRequests, defaults.maxKeepAliveRequests, {
      min: 0,
      max: 65535,
    }),
    keepAliveIdleMs: seconds(CONNECTION_LIMIT_KEYS.keepAliveIdleMs, defaults.keepAliveIdleMs),
    readIdleMs: seconds(CONNECTION_LIMIT_KEYS.readIdleMs, defaults.readIdleMs),
    writeIdleMs: seconds(CONNECTION_LIMIT_KEYS.writeIdleMs, defaults.writeIdleMs),
  };
}

/** lighttpd's upper bound for server.max-fds when the config does not set it. */
const DEFAULT_MAX_FDS = 4096;

/**
 * server.max-connections and server.max-fds as lighttpd combines them: max-fds defaults to the
 * process's open-file limit, at most 4096; connections are at most max-fds / 2 and default to
 * max-fds / 3 (1365 for 4096). lighttpd started as root raises its own limit to max-fds with
 * setrlimit; Node has no setrlimit, so a max-fds above the limit the process has is used for
 * the arithmetic and named in a warning (raise it with `ulimit -n` or systemd's LimitNOFILE=).
 */
export function connectionBudget(r: OptionReader, openFiles = openFileLimit()): ConnectionBudget {
  const warnings: string[] = [];
  const configuredFds = r.int('server.max-fds', 0, { min: 0, max: 65535 });
  let maxFds = configuredFds || Math.min(openFiles ?? DEFAULT_MAX_FDS, DEFAULT_MAX_FDS);
  if (configuredFds > 0 && openFiles !== undefined && configuredFds > openFiles) {
    const at = r.where('server.max-fds');
    warnings.push(
      `${at.file}:${at.line}: server.max-fds = ${configuredFds} is more than the ${openFiles} files this process may open, and koa-lighty cannot raise its own limit (lighttpd does, as root): raise it with ulimit -n or systemd's LimitNOFILE=`,
    );
  }
  // lighttpd's own sanity floor.
  maxFds = Math.max(maxFds, 32);
  const configured = r.int('server.max-connections', 0, { min: 0, max: 65535 });
  const most = Math.floor(maxFds / 2);
  if (configured > most) {
    const at = r.where('server.max-connections');
    warnings.push(
      `${at.file}:${at.line}: server.max-connections = ${configured} is more than server.max-fds / 2 (${most}): ${most} are served at once, as by lighttpd`,
    );
    return { maxConnections: most, warnings };
  }
  return { maxConnections: configured || Math.floor(maxFds / 3), warnings };
}

/** The soft RLIMIT_NOFILE of this process (Linux), or undefined where it cannot be read. */
function openFileLimit(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
    return soft && /^\d+$/.test(soft) ? Number(soft) : undefined;
  } catch {
    return undefined;
  }
}

/** Every name lighttpd 1.4.69 accepts in some build (network_write.c, fdevent_impl.c). */
const NETWORK_BACKENDS = [
  'sendfile',
  'linux-sendfile',
  'freebsd-sendfile',
  'solaris-sendfilev',
  'writev',
  'write',
];
const EVENT_HANDLERS = [
  'linux-sysepoll',
  'epoll',
  'solaris-eventports',
  'solaris-devpoll',
  'freebsd-kqueue',
  'kqueue',
  'poll',
  'select',
  'libev',
];

/**
 * server.network-backend and server.event-handler choose lighttpd's system calls; libuv makes
 * that choice under Node, so any name lighttpd knows is accepted and changes nothing. A name it
 * does not know stops lighttpd at start, and koa-lighty too.
 */
export function checkTuningKnobs(r: OptionReader): void {
  const backend = r.string('server.network-backend');
  if (backend?.trim() && !NETWORK_BACKENDS.includes(backend))
    throw r.error(
      'server.network-backend',
      `unknown value ${JSON.stringify(backend)}: one of ${NETWORK_BACKENDS.join(', ')}`,
    );
  const handler = r.string('server.event-handler');
  if (handler !== undefined && !EVENT_HANDLERS.includes(handler))
    throw r.error(
      'server.event-handler',
      `unknown or not supported: ${JSON.stringify(handler)}: one of ${EVENT_HANDLERS.join(', ')}`,
    );
}

/** lighttpd reads these once for the whole server; in a condition it ignores them. */
const SERVER_SCOPE = [
  'server.max-connections',
  'server.max-fds',
  'server.network-backend',
  'server.event-handler',
];

/** lighttpd's warning for a server option in a condition, which it then ignores (so do we). */
export function serverScopeWarnings(config: Config): string[] {
  const warnings: string[] = [];
  for (const block of config.blocks) {
    for (const [key, at] of block.sources) {
      if (SERVER_SCOPE.includes(key))
        warnings.push(
          `${at.file}:${at.line}: ${key}: do not set server options in conditionals (lighttpd: DEPRECATED); the global value applies`,
        );
    }
  }
  return warnings;
}
