import { type Backend, type BackendOptions, backendAddresses, createBackend } from '../backends/backend.js';
import { Balancer } from '../backends/balancer.js';
import { backendStopped, holdBackend } from '../backends/handover.js';
import type { MimeTypes } from '../http/mime.js';
import type { Logger } from '../log.js';
import {
  type FastCgiHost,
  type FastCgiOptions,
  type HostSettings,
  hostSettings,
  secondsToMs,
} from './fastcgi-options.js';
import type { RouteKey } from './fastcgi-route.js';
import { normaliseSendfileDocroots, type SendfileOptions } from './sendfile.js';

/**
 * From the `backends` option to running parts: one Backend (pools, spawned php-cgi) per
 * distinct address, shared by every key and host block that names it (lighttpd shares a
 * socket named twice too; the first block's spawning options win), and one Balancer per key.
 * Each host block keeps its own request-side settings (docroot, send-file, …) even when it
 * shares the Backend with another block.
 */
export interface HostBlock {
  backend: Backend;
  settings: HostSettings;
  sendfile: SendfileOptions;
}

export interface KeyTarget {
  key: string;
  balancer: Balancer;
  /** The host block each of the balancer's backends stands for. */
  blocks: Map<Backend, HostBlock>;
}

export interface BuiltHosts {
  routes: RouteKey<KeyTarget>[];
  /** Every distinct backend, to start and stop. */
  backends: Backend[];
}

export function buildHosts(options: FastCgiOptions, mimeTypes: MimeTypes, log: Logger): BuiltHosts {
  const byAddress = options.sharedBackends ?? new Map<string, Backend>();
  const used = new Set<Backend>();
  const routes = options.backends.map(({ key, hosts }): RouteKey<KeyTarget> => {
    const blocks = new Map<Backend, HostBlock>();
    const disableTimes = new Map<Backend, number>();
    for (const host of hosts) {
      const backend = sharedBackend(byAddress, host, log, options.workerShare, options.previousBackends);
      used.add(backend);
      if (blocks.has(backend)) continue; // the same address twice under one key: one host
      const settings = hostSettings(host);
      if (settings.allowXSendFile && settings.xSendfileDocroot.length === 0) {
        log.warn(
          'fastcgi',
          `${key} ${backend.label}: allowXSendFile without xSendfileDocroot lets the backend send any file this process can read`,
        );
      }
      if (host.disableTime !== undefined) disableTimes.set(backend, host.disableTime);
      blocks.set(backend, {
        backend,
        settings,
        sendfile: {
          docroots: normaliseSendfileDocroots(settings.xSendfileDocroot),
          mimeTypes,
          forceLowercase: options.forceLowercaseFilenames,
          log,
        },
      });
    }
    const balancer = new Balancer([...blocks.keys()], {
      balance: options.balance,
      disableTimes,
      logger: log,
    });
    const first = hostSettings(hosts[0]!);
    return {
      key,
      checkLocal: first.checkLocal,
      fixRootScriptname: first.fixRootScriptname,
      target: { key, balancer, blocks },
    };
  });
  return { routes, backends: [...used] };
}

/** What a backend was made from (all but its logger): equal after a reload means keep it. */
const specs = new WeakMap<Backend, string>();

/** The same address with new options: the old process must have let go of it first. */
function startAfter(backend: Backend, previousStopped: Promise<void>): void {
  const start = backend.start.bind(backend);
  let starting: Promise<void> | undefined;
  backend.start = () => {
    starting ??= previousStopped.then(start);
    return starting;
  };
}

function sharedBackend(
  byAddress: Map<string, Backend>,
  host: FastCgiHost,
  log: Logger,
  share: FastCgiOptions['workerShare'],
  previous: Map<string, Backend> | undefined,
): Backend {
  const id = JSON.stringify([host.binPath ?? '', backendAddresses(host)]);
  let backend = byAddress.get(id);
  if (!backend) {
    const binEnvironment =
      host.phpFcgiChildren === undefined
        ? host.binEnvironment
        : { ...host.binEnvironment, PHP_FCGI_CHILDREN: String(host.phpFcgiChildren) };
    const options: BackendOptions = {
      label: host.label,
      host: host.host,
      port: host.port,
      socket: host.socket,
      binPath: host.binPath,
      binEnvironment,
      binCopyEnvironment: host.binCopyEnvironment,
      maxProcs: host.maxProcs,
      maxRequests: host.phpFcgiMaxRequests,
      pool: {
        connectTimeout: secondsToMs(host.connectTimeout ?? 8),
        readTimeout: secondsToMs(host.readTimeout ?? 0),
        writeTimeout: secondsToMs(host.writeTimeout ?? 0),
        keepConn: host.keepConn ?? true,
        share,
      },
    };
    const spec = JSON.stringify(options);
    const old = previous?.get(id);
    if (old && specs.get(old) === spec) backend = old;
    else {
      backend = createBackend({ ...options, logger: log });
      if (old) startAfter(backend, backendStopped(old));
    }
    specs.set(backend, spec);
    holdBackend(backend, byAddress);
    byAddress.set(id, backend);
  }
  return backend;
}
