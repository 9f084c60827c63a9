/**
 * The running server's life: start, graceful restart (SIGUSR1), log reopening (SIGHUP) and
 * stop (SIGINT, SIGTERM). The listening sockets belong to the life cycle, the app to one
 * generation of the config: a reload builds a new app from the file and swaps the request
 * handler, so the sockets and the connections already open stay; requests running on the old
 * app finish there, and its resources (stores, log files, php-cgi whose options changed) are
 * closed once they are done.
 */

import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import { constants as http2Constants, type ServerHttp2Stream } from 'node:http2';
import { reopenLogFiles } from '../accesslog/output.js';
import type { ServerSettings } from '../config/mapping.js';
import type { Logger } from '../log.js';
import { createApp, type LightyApp, type LoadedConfig, serverLogger } from './app.js';
import { dropPrivileges, type ListenAddress, writePidFile } from './listen.js';

/** What the server does with a config change that only a full restart can apply. */
const RESTART_ONLY: Array<[keyof ServerSettings, string]> = [
  ['listen', 'server.port / server.bind'],
  ['socketActivation', 'server.systemd-socket-activation'],
  ['errorLog', 'server.errorlog'],
  ['pidFile', 'server.pid-file'],
  ['user', 'server.username'],
  ['group', 'server.groupname'],
  ['maxRequestFieldSize', 'server.max-request-field-size'],
  ['maxConnections', 'server.max-connections / server.max-fds'],
  ['connectionLimits', 'server.max-keep-alive-* / server.max-*-idle'],
];

/** The global options that changed from `before` to `after` but need a full restart. */
export function restartOnlyChanges(before: ServerSettings, after: ServerSettings): string[] {
  return RESTART_ONLY.filter(([key]) => JSON.stringify(before[key]) !== JSON.stringify(after[key])).map(
    ([, name]) => name,
  );
}

interface Generation {
  loaded: LoadedConfig;
  lighty: LightyApp;
  handle: RequestListener;
  /** Its requests still running: what a cut after the graceful timeout closes. */
  running: Set<ServerResponse>;
  retired?: () => void;
}

export interface LifecycleOptions {
  loaded: LoadedConfig;
  /** Reads the config file again (SIGUSR1); throws a ConfigError naming file and line. */
  reload(): LoadedConfig;
  /** This process is worker `index` of `count` (--workers). */
  worker?: { index: number; count: number };
}

export class ServerLifecycle {
  readonly log: Logger;
  #current: Generation;
  readonly #reload: () => LoadedConfig;
  readonly #worker?: { index: number; count: number };
  readonly #onReload: Array<(loaded: LoadedConfig) => void | Promise<void>> = [];
  readonly #onStop: Array<() => void> = [];
  #reloading: Promise<boolean> = Promise.resolve(true);
  #servers: Server[] = [];
  /** Replaced apps whose requests are still running. */
  readonly #retiring = new Set<Generation>();
  #stopping = false;

  constructor(options: LifecycleOptions) {
    // One error log for the process's life: a changed server.errorlog needs a restart.
    this.log = serverLogger(options.loaded.server);
    this.#reload = options.reload;
    this.#worker = options.worker;
    this.#current = this.#generation(options.loaded);
  }

  /** The app serving new requests now. */
  get app(): LightyApp {
    return this.#current.lighty;
  }

  get loaded(): LoadedConfig {
    return this.#current.loaded;
  }

  /** The servers' request listener: each request goes to the app current when it arrives. */
  readonly handler: RequestListener = (req: IncomingMessage, res: ServerResponse) => {
    const generation = this.#current;
    generation.running.add(res);
    res.once('close', () => {
      generation.running.delete(res);
      if (generation.running.size === 0) generation.retired?.();
    });
    generation.handle(req, res);
  };

  /**
   * Things to run on every successful reload, after the new app took over (TLS certificates,
   * for one). A task that throws is logged; the reload stands.
   */
  onReload(task: (loaded: LoadedConfig) => void | Promise<void>): void {
    this.#onReload.push(task);
  }

  /** Things to run when SIGINT or SIGTERM stops the server (the TLS servers stop accepting). */
  onStop(task: () => void): void {
    this.#onStop.push(task);
  }

  /**
   * Listens, writes the pid file, gives up root, starts php-cgi; resolves to the exit code
   * once a SIGINT or SIGTERM has stopped the server. Signals are handled from the start: one
   * that arrives while starting still stops cleanly.
   */
  async run(
    servers: Server[],
    listen: () => Promise<ListenAddress[]>,
    announce: (bound: ListenAddress[]) => void,
  ): Promise<number> {
    this.#servers = servers;
    let removePid = () => {};
    const stopped = new Promise<number>((resolve) => {
      const stop = (signal: string) => {
        this.#stop(signal).finally(() => {
          removePid();
          resolve(0);
          // Nothing is left to do, but timers of stores and a worker's IPC channel would keep
          // the process alive: end it, so a primary (or a service manager) sees it go.
          setImmediate(() => process.exit(0));
        });
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
    });
    process.on('SIGUSR1', () => void this.reload());
    process.on('SIGHUP', () => this.reopenLogs());
    // --workers: the primary, which got the signal, passes it on as a message.
    process.on('message', (message: { koaLighty?: string }) => {
      if (message?.koaLighty === 'reload') this.reload().then((ok) => process.send?.({ reloaded: ok }));
      else if (message?.koaLighty === 'reopen') this.reopenLogs();
    });
    const bound = await listen();
    if (!this.#worker) removePid = writePidFile(this.app.pidFile);
    dropPrivileges(this.app.user, this.app.group);
    await this.app.ready();
    announce(bound);
    return stopped;
  }

  /**
   * SIGUSR1: the config file is read again. A file that does not load changes nothing (the
   * reason is logged, with its file and line); else new requests get the new app. Resolves
   * to whether the new config was taken.
   */
  reload(): Promise<boolean> {
    this.#reloading = this.#reloading.then(() => this.#reloadNow());
    return this.#reloading;
  }

  async #reloadNow(): Promise<boolean> {
    if (this.#stopping) return false;
    const old = this.#current;
    let loaded: LoadedConfig;
    let next: Generation;
    try {
      loaded = this.#reload();
      next = this.#generation(loaded, old.lighty);
    } catch (error) {
      this.log.error(
        'server',
        `SIGUSR1: the config was not reloaded, the running one stays: ${(error as Error).message}`,
      );
      return false;
    }
    if (!this.#worker) for (const warning of loaded.warnings) this.log.warn('config', warning);
    for (const name of restartOnlyChanges(old.loaded.server, loaded.server))
      this.log.warn('server', `SIGUSR1: ${name} changed; that takes a full restart (stop and start)`);
    this.#current = next;
    this.#retire(old);
    try {
      await next.lighty.ready();
    } catch (error) {
      this.log.error('server', `SIGUSR1: starting the new backends failed: ${(error as Error).message}`);
    }
    for (const task of this.#onReload) {
      try {
        await task(loaded);
      } catch (error) {
        this.log.error('server', `SIGUSR1: ${(error as Error).message}`);
      }
    }
    this.log.info('server', `SIGUSR1: ${loaded.file} reloaded`);
    return true;
  }

  /** SIGHUP: log files are opened again by name (logrotate moved them); pipes stay. */
  reopenLogs(): void {
    reopenLogFiles();
    this.log.info('server', 'SIGHUP: log files reopened');
  }

  #generation(loaded: LoadedConfig, previous?: LightyApp): Generation {
    const lighty = createApp(loaded, { worker: this.#worker, log: this.log, previous });
    return { loaded, lighty, handle: lighty.app.callback(), running: new Set() };
  }

  /**
   * Closes the old app once its last request is done, or when server.feature-flags'
   * "server.graceful-shutdown-timeout" (of the new config; lighttpd's default 8 s, 0 = no
   * limit) has passed. Until then a php-cgi on the same address with changed options waits too
   * (new requests to it wait, they do not fail).
   */
  #retire(old: Generation): Promise<void> {
    const deadlineMs = this.#current.loaded.server.gracefulShutdownTimeoutMs;
    return new Promise<void>((resolve) => {
      const timer =
        deadlineMs > 0
          ? setTimeout(() => {
              this.log.error(
                'server',
                `SIGUSR1: ${old.running.size} request(s) of the previous config still running after ${deadlineMs / 1000} s (server.graceful-shutdown-timeout): cut`,
              );
              // As lighttpd closes the connections left when the timeout ends.
              for (const res of old.running) cutResponse(res);
              done();
            }, deadlineMs)
          : undefined;
      timer?.unref();
      let closed = false;
      const done = () => {
        if (closed) return;
        closed = true;
        clearTimeout(timer);
        old.lighty.close().finally(() => {
          this.#retiring.delete(old);
          resolve();
        });
      };
      this.#retiring.add(old);
      old.retired = done;
      if (old.running.size === 0) done();
    });
  }

  async #stop(signal: string): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.log.info('server', `${signal}: shutting down`);
    for (const task of this.#onStop) task();
    for (const server of this.#servers) {
      server.close();
      server.closeIdleConnections();
    }
    const force = setTimeout(() => {
      for (const server of this.#servers) server.closeAllConnections();
    }, 5000);
    force.unref();
    // Not waiting for a reload under way: its new app is current already (building is
    // synchronous), and its php-cgi may be waiting for the old app's requests.
    await Promise.all([this.#current, ...this.#retiring].map((generation) => generation.lighty.close()));
  }
}

/** Ends a running answer unfinished: its connection (HTTP/1) or its stream (HTTP/2). */
function cutResponse(res: ServerResponse): void {
  const stream = (res as unknown as { stream?: ServerHttp2Stream }).stream;
  if (stream) stream.close(http2Constants.NGHTTP2_CANCEL);
  else res.destroy();
}
